#!/usr/bin/env node
// The `dopt` command as npm links it. It is committed (dist/ is not) so that `npm ci` on a fresh clone, which
// links bins before anything is built, finds it; it runs the compiled CLI.
import('../dist/bin.js').catch(err => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    process.stderr.write('dopt: not built yet; run "npm run build" (or "npx tsc -b") in the repository first\n')
    process.exit(1)
  }
  throw err
})
