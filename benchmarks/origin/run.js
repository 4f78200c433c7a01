// Origin-path benchmark: `dopt get --mode http` against `curl -o` for the same file from a local origin, with the
// output on disk and on tmpfs.
//
//   npm run build
//   node benchmarks/origin/run.js [--size BYTES|64M|1G] [--rounds N] [--out docs/benchmarks.md] [--smoke]
//                                 [--warmup N] [--timeout SECONDS] [--keep] [--disk DIR] [--no-tmpfs]
//
// The origin (@dopt/lab's startOrigin) runs in a child process; each round times every client, in alternating
// order, as separate processes. On disk (--disk, default the temp folder unless that is tmpfs, else the checkout):
// plain curl (its bytes left in the page cache), durable curl (`curl -o F && sync -d F`: on the disk when it exits,
// as dopt's are: direct writes and fdatasync), the disk's own direct-write rate (`dd oflag=direct`), dopt, and the
// engine-level A/B of http: transports. On tmpfs (tmpfs.js finds or mounts one): curl and dopt. Ratios are taken
// within each round (paired) and their median reported, beside the ratio of medians. The results go into --out
// between <!-- origin:begin --> and <!-- origin:end -->.
// Before the timed rounds, --warmup (default 1) untimed round(s) of every client: on these VMs the first GiB written
// after boot is much slower (fresh guest memory for the page cache), which otherwise lands on whoever goes first.
// --smoke: 64 MiB, 1 round, and the report goes to a temp file unless --out is given.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  GiB, MiB, REPO_ROOT, benchOptions, commandExists, runBenchmark, startOriginServer, findGnuTime, formatBytes, machineInfo, median,
  runTimed, sha256File, writeSection
} from '../lib.js'
import { fsType, tmpfsFolder } from './tmpfs.js'

const SECTION = 'origin'
const TARGET_RATIO = 0.9
const DISK_TARGET = 0.9
const DURABLE_TARGET = 1.0
// What users run: the committed bin/dopt.js, which runs the bundle `npm run build` makes.
const DOPT_BIN = join(REPO_ROOT, 'apps/cli/bin/dopt.js')
const CLI_DIST = join(REPO_ROOT, 'apps/cli/dist/bin.js')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const ENGINE_GET = join(REPO_ROOT, 'benchmarks/origin/engine-get.js')
const TRANSPORTS = ['engine-net', 'engine-undici']
const DD_BLOCK = 4 * MiB
const UNDICI_VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/undici/package.json'), 'utf8')).version

function options () {
  const { values, usage: _usage, ...opts } = benchOptions('origin',
    'node benchmarks/origin/run.js [--size BYTES] [--rounds N] [--out FILE] [--smoke] [--warmup N] [--timeout S] [--keep] [--disk DIR] [--no-tmpfs]',
    { disk: { type: 'string' }, 'no-tmpfs': { type: 'boolean', default: false } })
  return { ...opts, disk: values.disk, tmpfs: !values['no-tmpfs'] }
}

const mbps = (bytes, seconds) => bytes / seconds / 1e6
const fmt = (x, digits = 1) => Number.isFinite(x) ? x.toFixed(digits) : 'n/a'
const cpuTotal = r => r.cpu == null ? NaN : r.cpu.user + r.cpu.system
const ratioText = x => Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a'

/** Where the disk run writes: --disk, else the temp folder unless it is tmpfs, else the checkout's folder. */
function diskBase (given) {
  if (given != null) return given
  return fsType(tmpdir()) === 'tmpfs' ? REPO_ROOT : tmpdir()
}

async function main () {
  const opts = options()
  const { size, rounds, warmup, timeoutMs } = opts
  try {
    await stat(LAB)
    await stat(CLI_DIST)
  } catch {
    throw new Error('packages/lab/dist or apps/cli/dist is missing: run "npm run build" first')
  }
  const { writeRandomFile } = await import(LAB)

  const hasCurl = commandExists('curl')
  if (!hasCurl) process.stderr.write('origin bench: curl not found; timing dopt only (no ratio)\n')
  const gnuTime = findGnuTime()
  if (gnuTime == null) process.stderr.write('origin bench: GNU /usr/bin/time not found; CPU seconds not recorded\n')
  const hasDd = size % DD_BLOCK === 0 && commandExists('dd')

  const base = diskBase(opts.disk)
  const diskType = fsType(base) ?? 'unknown'
  const work = await mkdtemp(join(base, 'dopt-bench-origin-'))
  const tmpfs = opts.tmpfs ? await tmpfsFolder(size) : { dir: null, how: 'skipped (--no-tmpfs)' }
  if (tmpfs.dir == null) process.stderr.write(`origin bench: no tmpfs run: ${tmpfs.how}\n`)
  let server = null
  const results = []
  try {
    const payload = join(work, 'payload.bin')
    const seed = randomBytes(4).readUInt32LE() || 1
    process.stderr.write(`origin bench: writing ${formatBytes(size)} of random data to ${payload} (${diskType})\n`)
    await writeRandomFile(payload, size, seed)
    const expectedHash = await sha256File(payload)
    server = await startOriginServer(payload)
    process.stderr.write(`origin bench: origin at ${server.url}; ${rounds} round(s); tmpfs: ${tmpfs.how}\n`)

    const curl = outFile => ['curl', ['-s', '-f', '-o', outFile, server.url]]
    const clients = {
      curl,
      // Durable: the bytes are on the disk when it exits, as dopt's are. `sync -d F` is fdatasync of F (coreutils).
      'curl+sync': outFile => ['sh', ['-c', 'curl -s -f -o "$1" "$2" && sync -d "$1"', 'curl+sync', outFile, server.url]],
      // The disk's own rate for direct writes of the same size (zeros: no network, no hashing).
      dd: outFile => ['dd', ['if=/dev/zero', `of=${outFile}`, `bs=${DD_BLOCK}`, `count=${size / DD_BLOCK}`, 'oflag=direct', 'status=none']],
      dopt: (outFile, dataDir) => [process.execPath, [DOPT_BIN, 'get', server.url, '-o', outFile, '--data-dir', dataDir, '--json', '--mode', 'http']],
      // The transport A/B: the engine without the CLI, once with dopt's raw-socket transport, once with undici's.
      'engine-net': (outFile, dataDir) => [process.execPath, [ENGINE_GET, server.url, outFile, dataDir, 'net']],
      'engine-undici': (outFile, dataDir) => [process.execPath, [ENGINE_GET, server.url, outFile, dataDir, 'undici']]
    }
    // Every (where, client) pair of a round; the order reverses every other round.
    const runs = [
      ...(hasCurl ? ['curl', 'curl+sync'] : []), ...(hasDd ? ['dd'] : []), 'dopt', ...TRANSPORTS
    ].map(name => ({ where: 'disk', dir: work, name }))
    if (tmpfs.dir != null) runs.push(...[...(hasCurl ? ['curl'] : []), 'dopt'].map(name => ({ where: 'tmpfs', dir: tmpfs.dir, name })))
    const label = run => `${run.where} ${run.name}`

    const once = async (run, round) => {
      const outFile = join(run.dir, `out-${run.name}.bin`)
      const dataDir = await mkdtemp(join(work, 'data-'))
      try {
        const [cmd, args] = clients[run.name](outFile, dataDir)
        const serverCpuBefore = await server.cpu()
        const r = await runTimed(cmd, args, { timeoutMs, gnuTime, cpuFile: join(work, 'cpu.txt') })
        const serverCpu = await server.cpu() - serverCpuBefore
        if (r.code !== 0) throw new Error(`${label(run)} exited with ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`)
        if (round === 0) return r
        const isDopt = run.name === 'dopt' || run.name.startsWith('engine-')
        if (isDopt) {
          const last = r.stdout.trim().split('\n').pop() ?? ''
          let summary
          try { summary = JSON.parse(last) } catch { throw new Error(`dopt printed no JSON summary: ${last.slice(0, 500)}`) }
          if (summary.state !== 'acknowledged') throw new Error(`dopt job ended in ${summary.state}: ${JSON.stringify(summary.error)}`)
        }
        const got = (await stat(outFile)).size
        if (got !== size) throw new Error(`${label(run)} wrote ${got} bytes, expected ${size}`)
        // dopt's output is hashed every round; curl's in the first round (it is the reference, not the subject).
        let verified = 'size'
        if (isDopt || (run.name !== 'dd' && round === 1)) {
          const hash = await sha256File(outFile)
          if (hash !== expectedHash) throw new Error(`${label(run)} output differs from the file (sha256 ${hash} != ${expectedHash})`)
          verified = 'sha256'
        }
        const row = { round, where: run.where, name: run.name, seconds: r.seconds, mbps: mbps(size, r.seconds), cpu: cpuTotal(r), serverCpu, verified }
        results.push(row)
        process.stderr.write(`  round ${round} ${label(run).padEnd(19)} ${r.seconds.toFixed(2).padStart(7)} s ${fmt(row.mbps).padStart(8)} MB/s` +
          `  cpu ${fmt(row.cpu, 2)} s  origin cpu ${fmt(serverCpu, 2)} s  (${verified} ok)\n`)
        return r
      } finally {
        await rm(outFile, { force: true })
        await rm(dataDir, { recursive: true, force: true })
      }
    }

    for (let w = 1; w <= warmup; w++) {
      for (const run of runs) {
        const r = await once(run, 0)
        process.stderr.write(`  warm-up ${w} ${label(run).padEnd(19)} ${r.seconds.toFixed(2).padStart(7)} s (not counted)\n`)
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const run of round % 2 === 1 ? runs : [...runs].reverse()) await once(run, round)
    }
  } finally {
    await server?.close().catch(() => {})
    if (opts.keep) process.stderr.write(`origin bench: kept ${work}\n`)
    else await rm(work, { recursive: true, force: true })
    await tmpfs.cleanup?.()
  }

  const rowsOf = (where, name) => results.filter(r => r.where === where && r.name === name)
  const summarize = (where, name) => {
    const rows = rowsOf(where, name)
    return rows.length === 0
      ? null
      : {
          mbps: median(rows.map(r => r.mbps)),
          best: Math.max(...rows.map(r => r.mbps)),
          seconds: median(rows.map(r => r.seconds)),
          cpuPerGiB: median(rows.map(r => r.cpu / (size / GiB))),
          serverCpuPerGiB: median(rows.map(r => r.serverCpu / (size / GiB)))
        }
  }
  // dopt's throughput over `name`'s, round by round (the two ran minutes apart at most), and the median of those.
  const paired = (where, name) => {
    const per = []
    for (let round = 1; round <= rounds; round++) {
      const d = results.find(r => r.round === round && r.where === where && r.name === 'dopt')
      const o = results.find(r => r.round === round && r.where === where && r.name === name)
      if (d != null && o != null) per.push(d.mbps / o.mbps)
    }
    return { median: median(per), per }
  }
  const ofMedians = (where, name) => {
    const d = summarize(where, 'dopt')
    const o = summarize(where, name)
    return d != null && o != null ? d.mbps / o.mbps : NaN
  }
  const verdict = (x, target) => Number.isFinite(x) ? (x >= target ? 'met' : 'not met') : 'n/a'
  const ratios = [
    { what: 'tmpfs: dopt / curl', where: 'tmpfs', name: 'curl', target: TARGET_RATIO },
    { what: 'disk: dopt / durable curl (`curl -o F && sync -d F`)', where: 'disk', name: 'curl+sync', target: DURABLE_TARGET },
    { what: 'disk: dopt / the disk\'s direct-write rate (`dd oflag=direct`)', where: 'disk', name: 'dd', target: DISK_TARGET },
    { what: 'disk: dopt / plain curl (page cache, not durable)', where: 'disk', name: 'curl', target: null }
  ].map(r => ({ ...r, paired: paired(r.where, r.name), ofMedians: ofMedians(r.where, r.name) }))

  const NAMES = ['curl', 'curl+sync', 'dd', 'dopt', ...TRANSPORTS]
  const table = [
    '| where | client | median s | median MB/s | best MB/s | CPU s/GiB (client) | CPU s/GiB (origin) |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...['disk', 'tmpfs'].flatMap(where => NAMES.map(name => ({ where, name, s: summarize(where, name) })))
      .filter(({ s }) => s != null)
      .map(({ where, name, s }) => `| ${where} | ${name} | ${fmt(s.seconds, 2)} | ${fmt(s.mbps)} | ${fmt(s.best)} | ${fmt(s.cpuPerGiB, 2)} | ${name === 'dd' ? '' : fmt(s.serverCpuPerGiB, 2)} |`)
  ].join('\n')
  const ratioTable = [
    '| ratio | paired median | of medians | per round | target |',
    '|---|---:|---:|---|---|',
    ...ratios.map(r => `| ${r.what} | **${ratioText(r.paired.median)}** | ${ratioText(r.ofMedians)} | ${r.paired.per.map(x => x.toFixed(2)).join(', ') || 'n/a'} | ` +
      `${r.target == null ? 'none (not a like-for-like comparison)' : `>= ${r.target}x: ${verdict(r.paired.median, r.target)}`} |`)
  ].join('\n')

  const net = summarize('disk', 'engine-net')
  const undici = summarize('disk', 'engine-undici')
  const transportRatio = net != null && undici != null ? undici.mbps / net.mbps : NaN
  const winner = transportRatio > 1 ? 'undici' : 'the raw socket transport'
  const transportLine = Number.isFinite(transportRatio)
    ? `**Transport A/B (on disk; the engine alone, only the http: transport differs): undici ${UNDICI_VERSION} / dopt's raw socket: ${transportRatio.toFixed(2)}x** of median throughput ` +
      `(${fmt(undici.seconds, 2)} vs ${fmt(net.seconds, 2)} s; CPU ${fmt(undici.cpuPerGiB, 2)} vs ${fmt(net.cpuPerGiB, 2)} s/GiB): ${winner} is faster here.`
    : '**Transport A/B: n/a**'

  process.stdout.write(`\n${table}\n\n${ratioTable.replaceAll('**', '')}\n\n${transportLine.replaceAll('**', '')}\n`)

  const m = machineInfo()
  const perRound = [
    '| round | where | client | s | MB/s | CPU s (client) | CPU s (origin) | check |',
    '|---:|---|---|---:|---:|---:|---:|---|',
    ...results.map(r => `| ${r.round} | ${r.where} | ${r.name} | ${fmt(r.seconds, 2)} | ${fmt(r.mbps)} | ${fmt(r.cpu, 2)} | ${r.name === 'dd' ? '' : fmt(r.serverCpu, 2)} | ${r.name === 'dd' ? 'size' : r.verified} |`)
  ].join('\n')
  const body = `## Origin path: \`dopt get --mode http\` vs \`curl -o\`, on disk and on tmpfs

Written by \`node benchmarks/origin/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}${hasCurl ? '' : '; **curl missing: curl not timed**'}
- File: ${formatBytes(size)} (${size} bytes) of random data, served from disk at \`/payload.bin\` by \`startOrigin()\` (@dopt/lab) in a separate process on 127.0.0.1
- Outputs: disk = a folder on ${diskType} (where the payload lives too); tmpfs = ${tmpfs.dir == null ? `**not run**: ${tmpfs.how}` : tmpfs.how}
- Clients, each a fresh process: dopt = \`get URL -o OUT --data-dir FRESH --json --mode http\` (SHA-256 of every piece and persistence on; direct writes where the file system takes them, buffered on tmpfs; \`fdatasync\` before the file counts as transferred); curl = \`curl -s -f -o OUT\` (its bytes are in the page cache when it exits, not on the disk); curl+sync = \`curl -o OUT && sync -d OUT\` (durable, like dopt); dd = \`dd if=/dev/zero of=OUT bs=4M oflag=direct\` of the same size (the disk's own direct-write rate: no network, no hashing); engine-net and engine-undici = \`benchmarks/origin/engine-get.js\` (the same job through the engine and a level store, no CLI) with dopt's raw-socket transport or with undici ${UNDICI_VERSION} (\`benchmarks/origin/undici-transport.js\`) for \`http:\`. Outputs of dopt and the engine runs are checked against the file's SHA-256 every round, curl's in round 1.
- Rounds: ${rounds} timed after ${warmup} untimed warm-up round(s); every client once per round, the order reversed every other round. Paired ratio = dopt's MB/s over the other client's in the same round; the median of those is the figure to read.
- MB/s = 10^6 bytes per second of wall time (process start to exit). CPU s = user + system of the client process${gnuTime == null ? ' (not recorded: GNU time missing)' : ' (GNU time; children included)'}; origin CPU = the server process during that client's run.

${ratioTable}

${table}

${transportLine}

<details><summary>Per round</summary>

${perRound}

</details>

The machines are shared and noisy (other work runs on the same 2 cores): compare the paired ratios, not the absolute
numbers. Plain curl on disk is not a like-for-like comparison: it exits with its bytes still in the page cache,
while dopt's are on the disk; durable curl and the disk's direct-write rate are the fair ones there. On tmpfs
there is no disk: dopt and curl both copy into memory, and what is left between them is dopt's SHA-256 of every
byte (~0.6 CPU-s/GiB here, on a worker thread) and its start-up.`
  await writeSection(opts.out, SECTION, body)
  process.stderr.write(`origin bench: wrote ${opts.out}\n`)
}

await runBenchmark('origin bench', main)
