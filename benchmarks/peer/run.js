// Peer-path benchmark: 1 MiB pieces between two processes on 127.0.0.1. In one run, four variants:
//   raw     raw `node:net` (benchmarks/peer/worker.js), the reference
//   p2p     dopt's p2p layer alone (createP2P on both sides, worker.js)
//   node    the whole product path: `dopt daemon` on a seeded data folder, `dopt get --peer` from it
//   origin  `dopt get --mode http` of the same file from a local origin (benchmarks/origin/server.js)
//
//   npm run build
//   node benchmarks/peer/run.js [--size 1G] [--inflight N] [--rounds N] [--warmup N] [--node-flags "..."]
//                               [--cli-node-flags "..."] [--node-config JSON] [--variants raw,p2p,node,origin]
//                               [--timeout S] [--out docs/benchmarks.md] [--smoke] [--keep]
//   (write flags as --node-flags="--x --y")
//
// raw / p2p: a fresh server process and a fresh client process per run; the receiver keeps N pieces in flight and
// SHA-256s every piece. Time is the client's, from its first request to its last piece (connection set-up
// excluded). --node-flags go to both sides of both.
// node: the payload (random, on disk) is served by an origin process; once per run, untimed, `dopt get` of it
// fills a seed data folder. Each node run then starts `dopt daemon` on that folder (127.0.0.1 only), times
// `dopt get URL -o OUT --data-dir FRESH --peer ADDR --listen /ip4/127.0.0.1/tcp/0 --json --config C` as process
// wall time (start to exit, as the origin benchmark), checks bytesFromPeers == size and the output's SHA-256, then
// stops the daemon with SIGTERM. origin: `dopt get --mode http` of the same URL, timed the same way.
// --cli-node-flags go to every `dopt` process (default: none, the product as shipped).
// Every run is bounded by --timeout; temp folders and child processes are removed on error.
// Results go into --out between <!-- peer:begin --> and <!-- peer:end -->. --smoke: 64 MiB, 1 round, temp file.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import {
  GiB, MiB, REPO_ROOT, benchOptions, doptSummary, findGnuTime, formatBytes, machineInfo, median, procCpuSeconds,
  runBenchmark, runTimed, sha256File, spawnTracked, startOriginServer, writeSection
} from '../lib.js'

const SECTION = 'peer'
const TARGET_RATIO = 0.5
const WORKER = join(REPO_ROOT, 'benchmarks/peer/worker.js')
// What users run: the committed bin/dopt.js, which runs the bundle `npm run build` makes.
const DOPT_BIN = join(REPO_ROOT, 'apps/cli/bin/dopt.js')
const CLI_DIST = join(REPO_ROOT, 'apps/cli/dist/bin.js')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const DEFAULT_NODE_FLAGS = '--max-semi-space-size=64 --initial-old-space-size=256'
const DEFAULT_CLI_NODE_FLAGS = ''
// mdns off: the peer is given with --peer, and other dopt nodes on this machine must not join in.
const DEFAULT_NODE_CONFIG = '{"discoveryTimeout": 5, "originDelay": 5, "peerRequestsInFlight": 8, "mdns": false}'
const VARIANTS = ['raw', 'p2p', 'node', 'origin']

function options () {
  const { values, usage, ...common } = benchOptions('peer',
    'node benchmarks/peer/run.js [--size BYTES] [--inflight N] [--rounds N] [--warmup N] [--node-flags FLAGS] [--cli-node-flags FLAGS] [--node-config JSON] [--variants LIST] [--timeout S] [--out FILE] [--smoke] [--keep]', {
      inflight: { type: 'string', default: '16' },
      'node-flags': { type: 'string', default: DEFAULT_NODE_FLAGS },
      'cli-node-flags': { type: 'string', default: DEFAULT_CLI_NODE_FLAGS },
      'node-config': { type: 'string', default: DEFAULT_NODE_CONFIG },
      variants: { type: 'string', default: VARIANTS.join(',') }
    })
  if (common.size % MiB !== 0) usage('--size must be a whole number of MiB')
  const inflight = Number(values.inflight)
  if (!Number.isInteger(inflight) || inflight < 1) usage('--inflight must be a whole number >= 1')
  const variants = values.variants.split(',').map(s => s.trim()).filter(Boolean)
  if (variants.length === 0 || variants.some(v => !VARIANTS.includes(v))) usage(`--variants: a comma-separated subset of ${VARIANTS.join(',')}`)
  let nodeConfig
  try { nodeConfig = JSON.parse(values['node-config']) } catch (err) { usage(`--node-config is not JSON: ${err.message}`) }
  const split = s => s.split(/\s+/).filter(Boolean)
  return {
    ...common, inflight, variants, nodeConfig,
    nodeFlags: split(values['node-flags']),
    cliNodeFlags: split(values['cli-node-flags'])
  }
}

/** Reads stdout lines of a child one at a time; each read fails after `timeoutMs` or when the child's stdout ends. */
function lines (child, what, timeoutMs) {
  const rl = createInterface({ input: child.stdout })
  const queue = []
  const waiters = []
  let closed = false
  rl.on('line', line => { const w = waiters.shift(); if (w) w.resolve(line); else queue.push(line) })
  rl.on('close', () => { closed = true; for (const w of waiters.splice(0)) w.reject(new Error(`${what} ended without output`)) })
  return () => {
    if (queue.length > 0) return Promise.resolve(queue.shift())
    if (closed) return Promise.reject(new Error(`${what} ended without output`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs / 1000} s`)), timeoutMs)
      waiters.push({ resolve: l => { clearTimeout(timer); resolve(l) }, reject: e => { clearTimeout(timer); reject(e) } })
    })
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how long the process took to exit after SIGTERM (s). */
async function stopChild (child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return 0
  const started = process.hrtime.bigint()
  const exited = new Promise(resolve => child.once('exit', resolve))
  try { process.kill(-child.pid, 'SIGTERM') } catch { child.kill('SIGTERM') }
  let killed = false
  const timer = setTimeout(() => { killed = true; try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') } }, graceMs)
  await exited
  clearTimeout(timer)
  const s = Number(process.hrtime.bigint() - started) / 1e9
  return killed ? Infinity : s
}

/** raw or p2p: worker.js server + client. */
async function runWorker (kind, opts) {
  const workerKind = kind === 'p2p' ? 'dopt' : 'raw'
  const stderr = []
  const server = spawnTracked(process.execPath, [...opts.nodeFlags, WORKER, 'server', workerKind], { stdio: ['pipe', 'pipe', 'pipe'] })
  server.stderr.on('data', b => stderr.push(b))
  let client = null
  try {
    const serverLine = lines(server, `${kind} server`, 30_000)
    const addr = await serverLine()
    client = spawnTracked(process.execPath, [...opts.nodeFlags, WORKER, 'client', workerKind, addr, String(opts.size), String(opts.inflight)], { stdio: ['ignore', 'pipe', 'pipe'] })
    client.stderr.on('data', b => stderr.push(b))
    const result = JSON.parse(await lines(client, `${kind} client`, opts.timeoutMs)())
    server.stdin.end()
    const { cpu } = JSON.parse(await serverLine())
    if (result.bad > 0) throw new Error(`${result.bad} pieces failed their SHA-256`)
    return { seconds: result.seconds, bytes: result.bytes, cpu: result.cpu, serverCpu: cpu, check: 'sha256 per piece' }
  } catch (err) {
    throw new Error(`${kind} run failed: ${err.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`)
  } finally {
    for (const c of [client, server]) if (c != null) await stopChild(c, 2000)
  }
}

/** Starts `dopt daemon` on the seed folder; resolves with { child, addr }. */
async function startDaemon (ctx, opts) {
  const stderr = []
  const child = spawnTracked(process.execPath, [...opts.cliNodeFlags, DOPT_BIN, 'daemon', '--data-dir', ctx.seedDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--json', '--config', ctx.configFile], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr.on('data', b => stderr.push(b))
  try {
    const ready = JSON.parse(await lines(child, 'dopt daemon', 30_000)())
    const addr = ready.listen?.find(a => a.startsWith('/ip4/127.0.0.1/'))
    if (addr === undefined) throw new Error(`dopt daemon listens on no 127.0.0.1 address: ${JSON.stringify(ready.listen)}`)
    return { child, addr, stderr }
  } catch (err) {
    await stopChild(child, 2000)
    throw new Error(`dopt daemon did not start: ${err.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`)
  }
}

/** node or origin: one timed `dopt get` in a fresh data folder. */
async function runDopt (kind, ctx, opts) {
  const outFile = join(ctx.work, `out-${kind}.bin`)
  const dataDir = await mkdtemp(join(ctx.work, `data-${kind}-`))
  let daemon = null
  try {
    // --sha256: without an end-to-end check a node takes nothing from peers (docs/architecture.md, trust rule 6);
    // both variants get it, so that they do the same work.
    const args = [...opts.cliNodeFlags, DOPT_BIN, 'get', ctx.url, '-o', outFile, '--data-dir', dataDir, '--json', '--sha256', ctx.expectedHash]
    if (kind === 'node') {
      daemon = await startDaemon(ctx, opts)
      args.push('--peer', daemon.addr, '--listen', '/ip4/127.0.0.1/tcp/0', '--config', ctx.configFile)
    } else {
      args.push('--mode', 'http')
    }
    const serverCpu0 = kind === 'node' ? await procCpuSeconds(daemon.child.pid) : await ctx.server.cpu()
    const r = await runTimed(process.execPath, args, { timeoutMs: opts.timeoutMs, gnuTime: ctx.gnuTime, cpuFile: join(ctx.work, 'cpu.txt') })
    const serverCpu = (kind === 'node' ? await procCpuSeconds(daemon.child.pid) : await ctx.server.cpu()) - serverCpu0
    const summary = doptSummary(r, `dopt get (${kind})`)
    if (summary.bytesTotal !== opts.size) throw new Error(`${kind}: bytesTotal ${summary.bytesTotal}, expected ${opts.size}`)
    // A node run that took pieces from the origin is recorded (and left out of the medians), not fatal: it is a
    // finding about dopt, and the other rounds still measure the peer path.
    let failed = null
    if (kind === 'node' && summary.bytesFromPeers !== opts.size) {
      failed = `only ${summary.bytesFromPeers} of ${opts.size} bytes from the peer`
      // In CI's smoke run it is a failure: the product's peer path did not work.
      if (opts.smoke) throw new Error(`node: ${failed} (${summary.bytesFromOrigin} from the origin): ${r.stderr.slice(-500)}`)
      process.stderr.write(`peer bench: node run: ${failed} (${summary.bytesFromOrigin} from the origin)\n` +
        `get stderr: ${r.stderr.slice(-1000)}\ndaemon stderr: ${Buffer.concat(daemon.stderr).toString().slice(-1000)}\n`)
    }
    const hash = await sha256File(outFile)
    if (hash !== ctx.expectedHash) throw new Error(`${kind}: output differs from the file (sha256 ${hash} != ${ctx.expectedHash})`)
    let daemonStop = null
    if (daemon != null) {
      daemonStop = await stopChild(daemon.child)
      if (daemonStop === Infinity) process.stderr.write('peer bench: dopt daemon ignored SIGTERM for 10 s; killed\n')
    }
    return {
      seconds: r.seconds,
      bytes: opts.size,
      cpu: r.cpu == null ? NaN : r.cpu.user + r.cpu.system,
      serverCpu,
      fromPeers: summary.bytesFromPeers,
      fromOrigin: summary.bytesFromOrigin,
      daemonStop,
      failed,
      check: failed == null ? 'sha256 of output' : `sha256 ok; FAILED: ${failed}`
    }
  } finally {
    if (daemon != null) await stopChild(daemon.child, 2000)
    await rm(outFile, { force: true })
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function runOnce (kind, ctx, opts) {
  const r = kind === 'raw' || kind === 'p2p' ? await runWorker(kind, opts) : await runDopt(kind, ctx, opts)
  return { kind, ...r, mbps: r.bytes / r.seconds / 1e6 }
}

/** Payload, origin server and seeded data folder for the node and origin variants (not timed). */
async function prepare (ctx, opts, log) {
  const { writeRandomFile } = await import(LAB)
  const payload = join(ctx.work, 'payload.bin')
  log(`peer bench: writing ${formatBytes(opts.size)} of random data for the node/origin variants`)
  await writeRandomFile(payload, opts.size, (Date.now() % 0xffffffff) || 1)
  ctx.expectedHash = await sha256File(payload)
  ctx.server = await startOriginServer(payload)
  ctx.url = ctx.server.url
  ctx.configFile = join(ctx.work, 'node-config.json')
  await writeFile(ctx.configFile, JSON.stringify(opts.nodeConfig))
  if (!opts.variants.includes('node')) return
  ctx.seedDir = join(ctx.work, 'seed')
  const seedConfig = join(ctx.work, 'seed-config.json')
  await writeFile(seedConfig, JSON.stringify({ mdns: false, originDelay: 0, discoveryTimeout: 0 }))
  const seedOut = join(ctx.work, 'seed-file.bin')
  const t = process.hrtime.bigint()
  const r = await runTimed(process.execPath, [DOPT_BIN, 'get', ctx.url, '-o', seedOut, '--data-dir', ctx.seedDir, '--json', '--listen', '/ip4/127.0.0.1/tcp/0', '--config', seedConfig], { timeoutMs: opts.timeoutMs })
  const summary = doptSummary(r, 'seeding dopt get')
  if (summary.bytesFromOrigin !== opts.size) throw new Error(`seeding: ${summary.bytesFromOrigin} of ${opts.size} bytes came from the origin`)
  log(`peer bench: seeded ${ctx.seedDir} in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(2)} s (not timed)`)
}

async function main () {
  const opts = options()
  const log = m => process.stderr.write(`${m}\n`)
  const needsDopt = opts.variants.some(v => v === 'node' || v === 'origin')
  try {
    await stat(join(REPO_ROOT, 'packages/p2p/dist/index.js'))
    if (needsDopt) { await stat(CLI_DIST); await stat(LAB) }
  } catch {
    throw new Error('a dist folder is missing: run "npm run build" first')
  }
  const work = await mkdtemp(join(tmpdir(), 'dopt-peer-bench-'))
  const out = opts.out
  const ctx = { work, gnuTime: findGnuTime(), server: null }
  log(`peer bench: ${formatBytes(opts.size)}, variants ${opts.variants.join(',')}, ${opts.inflight} in flight (raw/p2p), ${opts.warmup} warm-up + ${opts.rounds} rounds; ` +
    `node flags (raw/p2p): ${opts.nodeFlags.join(' ') || '(none)'}; dopt CLI node flags: ${opts.cliNodeFlags.join(' ') || '(none)'}; config: ${JSON.stringify(opts.nodeConfig)}` +
    `${process.env.UV_THREADPOOL_SIZE ? `; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}` : ''}`)
  const runs = []
  try {
    if (needsDopt) await prepare(ctx, opts, log)
    for (let i = 1; i <= opts.warmup; i++) {
      for (const kind of opts.variants) {
        const r = await runOnce(kind, ctx, opts)
        log(`warm-up ${i} ${kind.padEnd(6)} ${r.seconds.toFixed(2).padStart(6)} s ${r.mbps.toFixed(0).padStart(5)} MB/s (not counted)`)
      }
    }
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 === 1 ? opts.variants : [...opts.variants].reverse()
      for (const kind of order) {
        const r = await runOnce(kind, ctx, opts)
        runs.push({ round, ...r })
        log(`round ${round} ${kind.padEnd(6)} ${r.seconds.toFixed(2).padStart(6)} s ${r.mbps.toFixed(0).padStart(5)} MB/s, CPU client ${r.cpu.toFixed(2)} s, server ${r.serverCpu.toFixed(2)} s` +
          (r.fromPeers !== undefined ? `, from peers ${r.fromPeers}, from origin ${r.fromOrigin}` : '') +
          (r.daemonStop != null ? `, daemon stopped in ${r.daemonStop.toFixed(2)} s` : ''))
      }
    }
  } finally {
    await ctx.server?.close().catch(() => {})
    if (opts.keep) log(`peer bench: kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  }

  const gib = opts.size / GiB
  const stats = {}
  for (const kind of opts.variants) {
    const rs = runs.filter(r => r.kind === kind && r.failed == null)
    stats[kind] = {
      seconds: median(rs.map(r => r.seconds)),
      mbps: median(rs.map(r => r.mbps)),
      cpu: median(rs.map(r => r.cpu / gib)),
      serverCpu: median(rs.map(r => r.serverCpu / gib))
    }
  }
  const ratio = (a, b) => stats[a] && stats[b] ? stats[a].mbps / stats[b].mbps : NaN
  const fmt = (x, d = 2) => Number.isFinite(x) ? x.toFixed(d) : 'n/a'
  const p2pRaw = ratio('p2p', 'raw')
  const nodeRaw = ratio('node', 'raw')
  const nodeOrigin = ratio('node', 'origin')
  const m = machineInfo()
  const serverName = { raw: 'worker server', p2p: 'worker server', node: 'dopt daemon', origin: 'origin server' }
  const ratioLines = [
    `- **p2p / raw: ${fmt(p2pRaw)}x** (target >= ${TARGET_RATIO}x raw: ${Number.isFinite(p2pRaw) ? (p2pRaw >= TARGET_RATIO ? 'met' : 'not met') : 'n/a'})`,
    `- **dopt node / raw: ${fmt(nodeRaw)}x** (process wall time against in-client time: includes start-up, connection, stop)`,
    `- **dopt node / origin: ${fmt(nodeOrigin)}x** (both \`dopt get\` process wall time: peer path against origin path)`
  ]
  const nodeRuns = runs.filter(r => r.kind === 'node')
  const nodeFailed = nodeRuns.filter(r => r.failed != null)
  if (nodeFailed.length > 0) ratioLines.push(`- **dopt node took pieces from the origin in ${nodeFailed.length} of ${nodeRuns.length} timed runs** (left out of the medians; see the per-round table)`)
  const body = `## Peer path: dopt p2p and dopt node vs raw \`node:net\` (and dopt's origin path)

Written by \`node benchmarks/peer/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}
- Payload: ${formatBytes(opts.size)} as 1 MiB pieces, every process on 127.0.0.1. Variants, each run as fresh processes:
  - **raw**: \`node:net\` (benchmarks/peer/worker.js), u32 request / u32 + piece answer, ${opts.inflight} requests pipelined; the receiver gathers each piece into a reused receive buffer (one copy, as dopt) and SHA-256s it.
  - **p2p**: dopt's p2p layer alone, \`createP2P\` on both sides (tcp + TLS 1.3 run by node:tls on the socket + yamux, the piece protocol), one stream, \`fetchPiece\` × ${opts.inflight} in flight, each into its own reused receive buffer (\`into\`), SHA-256 per piece.
  - **node**: the product path. Once per run, untimed: \`dopt get\` of the file from the local origin into a seed data folder. Each run: \`dopt daemon --data-dir SEED --listen /ip4/127.0.0.1/tcp/0\`, then \`dopt get URL -o OUT --data-dir FRESH --sha256 HEX --peer DAEMON --listen /ip4/127.0.0.1/tcp/0 --json --config C\`; checked: every byte from the peer and the output's SHA-256; then the daemon gets SIGTERM.
  - **origin**: \`dopt get URL -o OUT --data-dir FRESH --sha256 HEX --json --mode http\` from the origin (benchmarks/origin/server.js, a separate process), output SHA-256 checked.
- Node flags, raw and p2p (both sides): \`${opts.nodeFlags.join(' ') || '(none)'}\`; \`dopt\` processes: \`${opts.cliNodeFlags.join(' ') || '(none: as shipped)'}\`${process.env.UV_THREADPOOL_SIZE ? `; UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}` : ''}
- Config C (daemon and getter): \`${JSON.stringify(opts.nodeConfig)}\`
- Rounds: ${opts.rounds} timed after ${opts.warmup} warm-up round(s), order alternating. Time: raw/p2p = the client's, first request to last piece (connection set-up excluded); node/origin = \`dopt get\` process wall time, start to exit. MB/s = 10^6 bytes/s. CPU = user + system: client = the receiving process; server = the worker server / dopt daemon / origin server during the run.

| variant | median s | median MB/s | CPU s/GiB (client) | CPU s/GiB (server) |
|---|---:|---:|---:|---:|
${opts.variants.map(k => `| ${k} | ${fmt(stats[k].seconds)} | ${fmt(stats[k].mbps, 1)} | ${fmt(stats[k].cpu)} | ${fmt(stats[k].serverCpu)} |`).join('\n')}

${ratioLines.join('\n')}

<details><summary>Per round</summary>

| round | variant | s | MB/s | CPU s (client) | CPU s (server) | from peers / origin | check |
|---:|---|---:|---:|---:|---:|---|---|
${runs.map(r => `| ${r.round} | ${r.kind} | ${fmt(r.seconds)} | ${fmt(r.mbps, 1)} | ${fmt(r.cpu)} | ${fmt(r.serverCpu)} (${serverName[r.kind]}) | ${r.fromPeers !== undefined ? `${r.fromPeers} / ${r.fromOrigin}` : ''} | ${r.check} |`).join('\n')}

</details>

TUNING_PLACEHOLDER

The machines are shared and noisy: compare the ratios within a run, not the absolute numbers. raw/p2p server CPU includes its start-up.`
  await writeSection(out, SECTION, body.replace('TUNING_PLACEHOLDER\n\n', TUNING))
  log(`p2p/raw = ${fmt(p2pRaw)}x, node/raw = ${fmt(nodeRaw)}x, node/origin = ${fmt(nodeOrigin)}x; written to ${out}`)
}

// What configuration-level tuning was tried for p2p/raw (part of the report; update when re-measured).
const TUNING = `Configuration-level tuning of p2p/raw, measured 2026-11-21 at 512 MiB, 2 rounds each, raw and p2p only (same machine;
ratios within one run). None moved the ratio beyond the noise (0.30–0.35x), so the defaults stay: Node flags
\`--max-semi-space-size=64 --initial-old-space-size=256\`, 16 pieces in flight.

| setting (everything else default) | p2p/raw |
|---|---:|
| defaults (two runs) | 0.30, 0.32 |
| no Node flags | 0.25 |
| 4 / 8 / 16 / 32 pieces in flight | 0.30 / 0.33–0.34 / 0.35 / 0.33 |
| UV_THREADPOOL_SIZE=1 / 16 | 0.35 / 0.31 |
| + \`--single-threaded-gc\` | 0.31 |
| \`--max-semi-space-size=128 --initial-old-space-size=512\` | 0.33 |
| + \`--single-threaded\` | 0.33 |

Code changes since, each measured on its own (1 GiB unless said): dopt's own noise transport stream
(packages/p2p/src/encryption.ts, same wire format: one write per send, no gathering copy before decryption) took
15% of the receiver's CPU per GiB and 9% of the sender's. yamux window updates at half-window as in the yamux
reference, instead of one per data frame (packages/p2p/src/muxer.ts; ~2,000 fewer encrypted messages per GiB each
way): p2p 5.3 -> 4.7 s in one A/B. Pieces received into reused buffers (\`fetchPiece({ into })\`) instead of a
zero-filled 1 MiB allocation each: receiver ~5.0 -> ~4.3 CPU-s, GC 0.5 -> 0.2 s (the raw receiver reuses its buffer
too since). Connections secured by the libp2p TLS handshake run by node:tls on the TCP socket instead of noise
(packages/p2p/src/tls.ts: records encrypted and decrypted in C++, no JavaScript per record; AES-128-GCM): p2p 3.96
-> 3.46 s median in an interleaved A/B of 4 pairs, the sender's CPU down by about a third. What remains is the
receiver, at ~100% of one core: SHA-256 (~0.85 CPU-s/GiB), TLS decryption with
OpenSSL's and Node's copies (~0.6), the kernel's receive path (~1.0), the copy into the piece buffer (~0.2), libp2p's
stream layers (~0.3). yamux frames of 256 KiB or 1 MiB instead of 64 KiB changed nothing measurable (5 interleaved
triples), nor did hashing each piece on the thread pool (\`crypto.subtle.digest\`) instead of the receiving thread
(4 interleaved pairs: same wall time, ~0.35 CPU-s/GiB more).

The product path (\`node\`) gained most from outside the transfer loop: the seeding daemon read cold files through
the page cache at ~3 s of system time per GiB (now O_DIRECT reads, copied out); every process that used peers
lingered 1 s after its work on a timer libp2p's address manager leaves behind (now cancelled at stop); the
CLI now runs bundled, which saves ~0.6 s of module loading per \`dopt get --peer\` and per daemon start; and a
freshly started daemon no longer hashes every piece before it first serves it (the cache keeps the identity its
verified files had: packages/engine/src/cache.ts), ~0.8 CPU-s less per GiB served (daemon 3.55-3.85 -> 2.5-3.0 CPU-s
per run). The getter is the limit of this path now: its one thread receives, decrypts, hashes and hands pieces to
the disk, on the same two cores as the daemon.

The getter of the product path runs as shipped, without the heap flags above (earlier, with
\`NODE_OPTIONS="--max-semi-space-size=64 --initial-old-space-size=256"\` it measured 85 MB/s against 74–79, 512 MiB, 2
rounds); 16 requests in flight per peer instead of 8 changed nothing, then and today.

`

await runBenchmark('peer bench', main)
