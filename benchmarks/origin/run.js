// Origin-path benchmark: `dopt get --mode http` against `curl -o` for the same file from a local origin.
//
//   npm run build
//   node benchmarks/origin/run.js [--size BYTES|64M|1G] [--rounds N] [--out docs/benchmarks.md] [--smoke]
//                                 [--warmup N] [--timeout SECONDS] [--keep]
//
// The origin (@dopt/lab's startOrigin) runs in a child process; each round times both clients, in alternating
// order, as separate processes. The results go into --out between <!-- origin:begin --> and <!-- origin:end -->.
// Before the timed rounds, --warmup (default 1) untimed round(s) of both clients: on these VMs the first GiB written
// after boot is much slower (fresh guest memory for the page cache), which otherwise lands on whoever goes first.
// --smoke: 64 MiB, 1 round, and the report goes to a temp file unless --out is given.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  GiB, REPO_ROOT, benchOptions, commandExists, runBenchmark, startOriginServer, findGnuTime, formatBytes, machineInfo, median,
  runTimed, sha256File, writeSection
} from '../lib.js'

const SECTION = 'origin'
const TARGET_RATIO = 0.9
// What users run: the committed bin/dopt.js, which runs the bundle `npm run build` makes.
const DOPT_BIN = join(REPO_ROOT, 'apps/cli/bin/dopt.js')
const CLI_DIST = join(REPO_ROOT, 'apps/cli/dist/bin.js')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const ENGINE_GET = join(REPO_ROOT, 'benchmarks/origin/engine-get.js')
const TRANSPORTS = ['engine-net', 'engine-undici']
const CLIENTS = ['curl', 'dopt', ...TRANSPORTS]
const UNDICI_VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/undici/package.json'), 'utf8')).version

function options () {
  const { values: _values, usage: _usage, ...opts } = benchOptions('origin',
    'node benchmarks/origin/run.js [--size BYTES] [--rounds N] [--out FILE] [--smoke] [--warmup N] [--timeout S] [--keep]')
  return opts
}

const mbps = (bytes, seconds) => bytes / seconds / 1e6
const fmt = (x, digits = 1) => Number.isFinite(x) ? x.toFixed(digits) : 'n/a'
const cpuTotal = r => r.cpu == null ? NaN : r.cpu.user + r.cpu.system

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

  const work = await mkdtemp(join(tmpdir(), 'dopt-bench-origin-'))
  let server = null
  const results = []
  try {
    const payload = join(work, 'payload.bin')
    const seed = randomBytes(4).readUInt32LE() || 1
    process.stderr.write(`origin bench: writing ${formatBytes(size)} of random data to ${payload}\n`)
    await writeRandomFile(payload, size, seed)
    const expectedHash = await sha256File(payload)
    server = await startOriginServer(payload)
    process.stderr.write(`origin bench: origin at ${server.url}; ${rounds} round(s)\n`)

    const clients = {
      curl: (outFile) => ['curl', ['-s', '-f', '-o', outFile, server.url]],
      dopt: (outFile, dataDir) => [process.execPath, [DOPT_BIN, 'get', server.url, '-o', outFile, '--data-dir', dataDir, '--json', '--mode', 'http']],
      // The transport A/B: the engine without the CLI, once with dopt's raw-socket transport, once with undici's.
      'engine-net': (outFile, dataDir) => [process.execPath, [ENGINE_GET, server.url, outFile, dataDir, 'net']],
      'engine-undici': (outFile, dataDir) => [process.execPath, [ENGINE_GET, server.url, outFile, dataDir, 'undici']]
    }
    const names = [...(hasCurl ? ['curl'] : []), 'dopt', ...TRANSPORTS]

    for (let w = 1; w <= warmup; w++) {
      for (const name of names) {
        const outFile = join(work, `warm-${name}.bin`)
        const dataDir = await mkdtemp(join(work, 'data-'))
        try {
          const [cmd, args] = clients[name](outFile, dataDir)
          const r = await runTimed(cmd, args, { timeoutMs })
          if (r.code !== 0) throw new Error(`warm-up ${name} exited with ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`)
          process.stderr.write(`  warm-up ${w} ${name.padEnd(13)} ${r.seconds.toFixed(2).padStart(7)} s (not counted)\n`)
        } finally {
          await rm(outFile, { force: true })
          await rm(dataDir, { recursive: true, force: true })
        }
      }
    }

    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? names : [...names].reverse()
      for (const name of order) {
        const outFile = join(work, `out-${name}.bin`)
        const dataDir = await mkdtemp(join(work, 'data-'))
        try {
          const [cmd, args] = clients[name](outFile, dataDir)
          const serverCpuBefore = await server.cpu()
          const r = await runTimed(cmd, args, { timeoutMs, gnuTime, cpuFile: join(work, 'cpu.txt') })
          const serverCpu = await server.cpu() - serverCpuBefore
          if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`)
          if (name !== 'curl') {
            const last = r.stdout.trim().split('\n').pop() ?? ''
            let summary
            try { summary = JSON.parse(last) } catch { throw new Error(`dopt printed no JSON summary: ${last.slice(0, 500)}`) }
            if (summary.state !== 'acknowledged') throw new Error(`dopt job ended in ${summary.state}: ${JSON.stringify(summary.error)}`)
          }
          const got = (await stat(outFile)).size
          if (got !== size) throw new Error(`${name} wrote ${got} bytes, expected ${size}`)
          // dopt's output is hashed every round; curl's in the first round (it is the reference, not the subject).
          let verified = 'size'
          if (name !== 'curl' || round === 1) {
            const hash = await sha256File(outFile)
            if (hash !== expectedHash) throw new Error(`${name} output differs from the file (sha256 ${hash} != ${expectedHash})`)
            verified = 'sha256'
          }
          const row = { round, name, seconds: r.seconds, mbps: mbps(size, r.seconds), cpu: cpuTotal(r), serverCpu, verified }
          results.push(row)
          process.stderr.write(`  round ${round} ${name.padEnd(13)} ${r.seconds.toFixed(2).padStart(7)} s ${fmt(row.mbps).padStart(8)} MB/s` +
            `  cpu ${fmt(row.cpu, 2)} s  origin cpu ${fmt(serverCpu, 2)} s  (${verified} ok)\n`)
        } finally {
          await rm(outFile, { force: true })
          await rm(dataDir, { recursive: true, force: true })
        }
      }
    }
  } finally {
    await server?.close().catch(() => {})
    if (opts.keep) process.stderr.write(`origin bench: kept ${work}\n`)
    else await rm(work, { recursive: true, force: true })
  }

  const summary = {}
  for (const name of CLIENTS) {
    const rows = results.filter(r => r.name === name)
    summary[name] = rows.length === 0
      ? null
      : {
          mbps: median(rows.map(r => r.mbps)),
          best: Math.max(...rows.map(r => r.mbps)),
          seconds: median(rows.map(r => r.seconds)),
          cpuPerGiB: median(rows.map(r => r.cpu / (size / GiB))),
          serverCpuPerGiB: median(rows.map(r => r.serverCpu / (size / GiB)))
        }
  }
  const ratio = summary.curl != null && summary.dopt != null ? summary.dopt.mbps / summary.curl.mbps : NaN
  const bestRatio = summary.curl != null && summary.dopt != null ? summary.dopt.best / summary.curl.best : NaN

  const table = [
    '| client | median s | median MB/s | best MB/s | CPU s/GiB (client) | CPU s/GiB (origin) |',
    '|---|---:|---:|---:|---:|---:|',
    ...CLIENTS.map(name => {
      const s = summary[name]
      if (s == null) return `| ${name} | skipped | skipped | | | |`
      return `| ${name} | ${fmt(s.seconds, 2)} | ${fmt(s.mbps)} | ${fmt(s.best)} | ${fmt(s.cpuPerGiB, 2)} | ${fmt(s.serverCpuPerGiB, 2)} |`
    })
  ].join('\n')
  const ratioLine = Number.isFinite(ratio)
    ? `**dopt / curl throughput: ${ratio.toFixed(2)}x** of medians (target >= ${TARGET_RATIO}x curl: ${ratio >= TARGET_RATIO ? 'met' : 'not met'}); best run against best run: ${bestRatio.toFixed(2)}x`
    : `**dopt / curl throughput: n/a** — curl was not found on this machine, so only dopt was timed (target >= ${TARGET_RATIO}x curl).`

  const net = summary['engine-net']
  const undici = summary['engine-undici']
  const transportRatio = net != null && undici != null ? undici.mbps / net.mbps : NaN
  const winner = transportRatio > 1 ? 'undici' : 'the raw socket transport'
  const transportLine = Number.isFinite(transportRatio)
    ? `**Transport A/B (the engine alone, only the http: transport differs): undici ${UNDICI_VERSION} / dopt's raw socket: ${transportRatio.toFixed(2)}x** of median throughput ` +
      `(${fmt(undici.seconds, 2)} vs ${fmt(net.seconds, 2)} s; CPU ${fmt(undici.cpuPerGiB, 2)} vs ${fmt(net.cpuPerGiB, 2)} s/GiB): ${winner} is faster here.`
    : '**Transport A/B: n/a**'

  process.stdout.write(`\n${table}\n\n${ratioLine.replaceAll('**', '')}\n${transportLine.replaceAll('**', '')}\n`)

  const m = machineInfo()
  const perRound = [
    '| round | client | s | MB/s | CPU s (client) | CPU s (origin) | check |',
    '|---:|---|---:|---:|---:|---:|---|',
    ...results.map(r => `| ${r.round} | ${r.name} | ${fmt(r.seconds, 2)} | ${fmt(r.mbps)} | ${fmt(r.cpu, 2)} | ${fmt(r.serverCpu, 2)} | ${r.verified} |`)
  ].join('\n')
  const body = `## Origin path: \`dopt get --mode http\` vs \`curl -o\`

Written by \`node benchmarks/origin/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}${hasCurl ? '' : '; **curl missing: curl not timed**'}
- File: ${formatBytes(size)} (${size} bytes) of random data, served from disk at \`/payload.bin\` by \`startOrigin()\` (@dopt/lab) in a separate process on 127.0.0.1
- Rounds: ${rounds} timed after ${warmup} untimed warm-up round(s), order alternating; each client is a fresh process. dopt: \`get URL -o OUT --data-dir FRESH --json --mode http\` (fresh data dir, SHA-256 and persistence on); its output is checked against the file's SHA-256 every round. engine-net and engine-undici: \`benchmarks/origin/engine-get.js\` (the same job through the engine and a level store, no CLI), with dopt's raw-socket transport or with undici ${UNDICI_VERSION} (\`Agent\` and its dispatch API, \`benchmarks/origin/undici-transport.js\`) for \`http:\`; their outputs are checked the same way.
- MB/s = 10^6 bytes per second of wall time (process start to exit). CPU s = user + system of the client process${gnuTime == null ? ' (not recorded: GNU time missing)' : ' (GNU time)'}; origin CPU = the server process during that client's run.

${table}

${ratioLine}

${transportLine}

<details><summary>Per round</summary>

${perRound}

</details>

The machines are shared and noisy: compare the ratio, not the absolute numbers. Runs of this benchmark (7-9
rounds each) on 2026-11-21 read 0.77, 0.92 and 0.87x in the afternoon and 0.91, 0.92, 0.99 and 0.93x in the evening,
after start-up and durability changes that did not move the streaming itself. dopt writes whole pieces with O_DIRECT
(no page cache; with \`fdatasync\` before the file counts as transferred), curl through the page cache. On these VMs,
filling page cache in memory the host has taken back (virtio-balloon free page reporting) costs 2-5 s of system time
per GiB for large writes; dopt's direct writes avoid it (docs/architecture.md, "Writing pieces"). What is left between
dopt and curl: SHA-256 of every byte on the receiving thread (~0.75 s/GiB here) and ~0.2 s of start-up (Node's boot
is ~0.11 s of it on these VMs; curl starts in 10 ms). Both clients stream at about the same rate.

Pauses and order move the ratio. Every timed run starts right after the previous one's 1 GiB output was deleted
(dopt's after this benchmark hashed it, which reads it into the page cache), so curl writes into memory just freed.
With 3 s of quiet before every run (two runs of 7 rounds, 2026-11-21) curl was faster (medians 1.56-1.58 s), dopt
not (1.84-1.91 s): 0.85x and 0.83x. Outside the benchmark, where nothing reads the output back before it is deleted,
curl's writes land in memory the VM has handed back: timed by hand, curl 1.6-3.7 s and dopt 1.9-2.6 s for the same
GiB. The benchmark keeps its simple alternating order; read its ratio with that spread in mind.`
  await writeSection(opts.out, SECTION, body)
  process.stderr.write(`origin bench: wrote ${opts.out}\n`)
}

await runBenchmark('origin bench', main)
