// Run by `npm pack` (prepack): the packed CLI is its bundle alone (package.json `files`: bin and dist/bundle), so
// packing without a current bundle would ship a `dopt` that cannot start. The bundle carries every @dopt package
// and libp2p; only classic-level's native addon is installed beside it (the CLI's one runtime dependency).
import { fileURLToPath } from 'node:url'
import { cliEntry } from '../bin/entry.js'

const entry = cliEntry()
if (!entry.pathname.endsWith('/dist/bundle/dopt.js')) {
  process.stderr.write(`@dopt/cli: no current bundle (bin/dopt.js would run ${fileURLToPath(entry)}); ` +
    'run "npm run build" (with esbuild installed) before packing\n')
  process.exit(1)
}
