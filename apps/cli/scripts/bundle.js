// Bundles the compiled CLI (dist/bin.js and everything it imports, libp2p included) into dist/bundle/, which
// bin/dopt.js runs. Node 20 loads ES modules one file at a time: libp2p's few hundred of them took ~0.6 s of
// start-up per `dopt get --peer` and per `dopt daemon`, a bundle ~0.1 s (docs/architecture.md, "Start-up").
// Peer code stays in its own chunk, loaded only when peers are used, as in dist/. The lab's node runner is a second
// entry (lab-node.js), sharing chunks with the CLI, and its netns listener (netns-listener.js) a third.
//
//   node apps/cli/scripts/bundle.js        (part of `npm run build`, after `tsc -b`)
//
// Without a working esbuild it says so and leaves the bundle out: bin/dopt.js then runs dist/bin.js.
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const entry = fileURLToPath(new URL('../dist/bin.js', import.meta.url))
// The lab's node runner (one process per node of `dopt lab`), bundled beside the CLI as lab-node.js: the lab looks
// for it beside its own code (packages/lab/src/node-process.ts), which in the bundle is this folder.
const labNode = fileURLToPath(new URL('../../../packages/lab/dist/lab-node.js', import.meta.url))
// And the helper that opens the origin's socket inside its network namespace (dopt lab --netns), found the same way.
const netnsListener = fileURLToPath(new URL('../../../packages/lab/dist/netns-listener.js', import.meta.url))
const outdir = fileURLToPath(new URL('../dist/bundle/', import.meta.url))

/** classic-level's `require('./binding')` stays a require of `classic-level/binding.js`, resolved at run time. */
const nativeAddonOutside = {
  name: 'dopt-native-addon-outside',
  setup (build) {
    build.onResolve({ filter: /^\.\/binding(\.js)?$/ }, args =>
      /[\\/]classic-level[\\/]/.test(args.importer) ? { path: 'classic-level/binding.js', external: true } : undefined)
  }
}

let esbuild
try {
  esbuild = await import('esbuild')
} catch (err) {
  process.stderr.write(`dopt bundle: esbuild is not available (${err.message}); the CLI runs unbundled from dist/\n`)
  process.exit(0)
}

await rm(outdir, { recursive: true, force: true })
try {
  await build(esbuild)
} catch (err) {
  // esbuild present but unusable (its platform binary skipped, say): the CLI still works, unbundled. The test
  // "runs the bundle `npm run build` made" fails, so this does not go unnoticed in CI.
  await rm(outdir, { recursive: true, force: true })
  process.stderr.write(`dopt bundle: bundling failed (${err.message.split('\n')[0]}); the CLI runs unbundled from dist/\n`)
}

async function build (esbuild) {
  await esbuild.build({
    entryPoints: { dopt: entry, 'lab-node': labNode, 'netns-listener': netnsListener },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // LevelDB's JavaScript is bundled (some 40 small CommonJS files: ~15 ms of start-up for every command); its
    // native addon and the loader that finds it beside itself (binding.js, node-gyp-build(__dirname)) stay outside,
    // required from node_modules as before.
    plugins: [nativeAddonOutside],
    // CommonJS dependencies call require(); an ES module bundle needs one.
    banner: { js: "import { createRequire as __doptCreateRequire } from 'node:module'; const require = __doptCreateRequire(import.meta.url);" },
    logLevel: 'warning'
  })
}

