#!/usr/bin/env node
// The `dopt` command as npm links it. It is committed (dist/ is not) so that `npm ci` on a fresh clone, which
// links bins before anything is built, finds it. It runs the bundled CLI when that is current (entry.js), with
// Node's module compile cache where Node has one (compile-cache.js).
import { enableCompileCache } from './compile-cache.js'
import { cliEntry } from './entry.js'

enableCompileCache()
import(cliEntry().href).catch(err => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    process.stderr.write('dopt: not built yet; run "npm run build" in the repository first\n')
    process.exit(1)
  }
  throw err
})
