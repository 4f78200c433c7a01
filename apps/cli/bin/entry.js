// Which build of the CLI bin/dopt.js runs: the bundle (dist/bundle/, made by `npm run build`: much faster to start)
// unless a project was compiled after it (a plain `tsc -b` while developing), then the compiled modules in dist/,
// so that what runs is always what was built last. Outside the repository (an installed package) the project
// files are absent and the bundle runs if there is one.
import { statSync } from 'node:fs'

const PROJECTS = ['packages/interface', 'packages/content', 'packages/store', 'packages/origin', 'packages/engine',
  'packages/node', 'packages/lab', 'packages/p2p', 'apps/cli']

/** The module to run, as a URL: `cli` is the apps/cli folder, `root` the repository's (both URLs ending in /). */
export function cliEntry (cli = new URL('../', import.meta.url), root = new URL('../../', cli)) {
  const bundle = new URL('dist/bundle/dopt.js', cli)
  const modules = new URL('dist/bin.js', cli)
  const bundled = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs
  if (bundled === undefined) return modules
  for (const project of PROJECTS) {
    const built = statSync(new URL(`${project}/tsconfig.tsbuildinfo`, root), { throwIfNoEntry: false })?.mtimeMs
    if (built !== undefined && built > bundled) return modules
  }
  return bundle
}
