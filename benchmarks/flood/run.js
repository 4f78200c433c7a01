// Flood benchmark: does a seed stay up, bounded in memory and correct while peers flood it with garbage and with
// valid requests? Everything on 127.0.0.1, mDNS off.
//
//   npm run build
//   node benchmarks/flood/run.js [--malformed N] [--valid N] [--connections N] [--procs N] [--downloads N]
//                                [--window N] [--piece-share P] [--seed-node-flags "..."] [--size BYTES] [--timeout S]
//                                [--out FILE] [--smoke] [--keep]
//
// A random file (--size, default 64 MiB; 8 MiB with --smoke) is served by a local origin (benchmarks/origin/server.js)
// and fetched once, untimed, into a seed data folder by `dopt get`; the seed is then `dopt daemon` on that folder, a
// process of its own whose RSS (/proc VmRSS, every 200 ms) and CPU are recorded. Attackers (benchmarks/flood/
// attacker.js, --procs processes holding --connections libp2p connections in all) send:
//   - --malformed messages (default 43,200; 440 with --smoke), each on a fresh stream of the piece protocol, 1.1.0
//     and 1.0.0 in turn, of 23 kinds taken from packages/p2p/src/codec.ts (truncated headers and payloads, lengths
//     under the header or over the type's limit, a 4 GiB frame, unknown types, answers never asked for, zero-length
//     payloads, an empty REFUSE, CANCEL with a payload, duplicate request ids, keys over 256 bytes or not UTF-8,
//     short PIECE_REQs, huge piece indexes, STATEs with wrong bitfields, UPDATEs with huge indexes or unknown kinds,
//     DATA outside its piece, garbage after a valid frame, random bytes, mutated valid requests, valid frames split
//     at every byte, resets with requests open); each stream's end is counted (reset / closed / hung);
//   - --valid requests (default 720,000; 4,000 with --smoke) pipelined on two long-lived streams per connection
//     (1.1.0 and 1.0.0), at most --window (128) open on each: MANIFEST_REQ and HAVE_REQ, on 1.1.0 one in ten a
//     SUBSCRIBE cancelled at its STATE, and a PIECE_REQ with probability --piece-share (0.001); every answer decoded.
// Meanwhile honest `dopt get --peer SEED --manifest CID --sha256 HEX` downloads (--downloads, default 3, one after
// another) fetch the file; each is checked (SHA-256 of the output, bytes from the peer) and timed. One download
// before the flood and one after give the unflooded time. Each malformed stream must end (reset or closed) within
// 30 s of its last byte, else it counts as hung (one where garbage made a valid SUBSCRIBE stays open by design: it
// is given 3 s and counted apart); the time to its end is reported (p50, p99, max; and per kind the streams over 5 s). The seed's RSS is
// reported at the flood's start, its peak, and 5 s and 20 s after the flood ended (V8 gives memory back some seconds
// after a process goes idle: with --seed-node-flags=--trace-gc, kept in the --keep folder's seed-stdout.txt, the
// seed's live heap after full GCs stayed at 30-45 MB during a flood whose RSS peaked at ~350 MB); a seed that exits
// before it is stopped counts as crashed. Every child has a deadline (--timeout, default 900 s; 180 s with --smoke)
// and is killed at the end; temp folders are removed.
// Results go into --out (docs/benchmarks.md; a temp file with --smoke) between <!-- flood:begin --> and
// <!-- flood:end -->.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import {
  MiB, REPO_ROOT, benchOptions, doptSummary, formatBytes, machineInfo, procCpuSeconds, runBenchmark, runTimed, sha256File, spawnTracked,
  startOriginServer, writeSection
} from '../lib.js'

const SECTION = 'flood'
const DOPT_BIN = join(REPO_ROOT, 'apps/cli/bin/dopt.js')
const CLI_DIST = join(REPO_ROOT, 'apps/cli/dist/bin.js')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const ATTACKER = join(REPO_ROOT, 'benchmarks/flood/attacker.js')
// The getter waits long for its peer before it falls back to the origin: a download from the origin would say nothing
// about the seed under flood (it is reported if it happens).
const GET_CONFIG = { mdns: false, discoveryTimeout: 5, originDelay: 30, peerTimeout: 30 }
const SEED_CONFIG = { mdns: false }

function options () {
  const { values, usage, ...common } = benchOptions('flood',
    'node benchmarks/flood/run.js [--malformed N] [--valid N] [--connections N] [--procs N] [--downloads N] [--window N] [--piece-share P] [--seed-node-flags FLAGS] [--size BYTES] [--timeout S] [--out FILE] [--smoke] [--keep]', {
      malformed: { type: 'string' },
      valid: { type: 'string' },
      connections: { type: 'string' },
      procs: { type: 'string' },
      downloads: { type: 'string' },
      window: { type: 'string', default: '128' },
      'piece-share': { type: 'string', default: '0.001' },
      'seed-node-flags': { type: 'string', default: '' }
    })
  const smoke = common.smoke
  const whole = (name, fallback, min = 0) => {
    const n = Number(values[name] ?? fallback)
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be a whole number >= ${min}`)
    return n
  }
  const size = values.size !== undefined ? common.size : smoke ? 8 * MiB : 64 * MiB
  const connections = whole('connections', smoke ? 2 : 4, 1)
  const pieceShare = Number(values['piece-share'])
  if (!(pieceShare >= 0 && pieceShare <= 1)) usage('--piece-share must be between 0 and 1')
  return {
    ...common,
    size,
    timeoutMs: values.timeout !== undefined ? common.timeoutMs : (smoke ? 180 : 900) * 1000,
    malformed: whole('malformed', smoke ? 440 : 43_200),
    valid: whole('valid', smoke ? 4_000 : 720_000),
    connections,
    procs: Math.min(connections, whole('procs', smoke ? 1 : 2, 1)),
    downloads: whole('downloads', smoke ? 1 : 3, 1),
    window: whole('window', 128, 1),
    pieceShare,
    seedNodeFlags: values['seed-node-flags'].split(/\s+/).filter(Boolean)
  }
}

/** Resident set size of a live process in bytes (Linux /proc), or NaN. */
async function rssOf (pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m === null ? NaN : Number(m[1]) * 1024
  } catch {
    return NaN
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code or signal. */
async function stopChild (child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve(code ?? signal)))
  try { process.kill(-child.pid, 'SIGTERM') } catch { child.kill('SIGTERM') }
  const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL') } catch { child.kill('SIGKILL') } }, graceMs)
  const how = await exited
  clearTimeout(timer)
  return how
}

/** The seed: `dopt daemon` on the seeded folder; resolves once it prints where it listens. */
async function startSeed (ctx) {
  const stderr = []
  const child = spawnTracked(process.execPath, [...ctx.seedNodeFlags, DOPT_BIN, 'daemon', '--data-dir', ctx.seedDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--json', '--config', ctx.seedConfig], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr.on('data', b => { stderr.push(b); if (stderr.length > 200) stderr.shift() })
  let ready = false
  const exit = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })))
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout })
    const timer = setTimeout(() => reject(new Error('dopt daemon: no ready line within 30 s')), 30_000)
    // The ready line is the first JSON line (a flag such as --trace-gc may print before it; those lines are kept).
    rl.on('line', l => { if (l.startsWith('{') && !ready) { ready = true; clearTimeout(timer); resolve(l) } else ctx.seedLines.push(l) })
    void exit.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`dopt daemon exited (${code ?? signal}) before it was ready`)) })
  }).catch(async err => {
    await stopChild(child, 2000)
    throw new Error(`${err.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`)
  })
  const addr = JSON.parse(line).listen?.find(a => a.startsWith('/ip4/127.0.0.1/'))
  if (addr === undefined) throw new Error(`dopt daemon listens on no 127.0.0.1 address: ${line}`)
  return { child, addr, stderr, exit }
}

/** One honest `dopt get --peer SEED` in a fresh data folder: time, where the bytes came from, whether they are right. */
async function honestDownload (ctx, opts, label) {
  const dataDir = await mkdtemp(join(ctx.work, 'honest-'))
  const outFile = join(dataDir, 'out.bin')
  const startedAt = Date.now()
  try {
    const r = await runTimed(process.execPath, [DOPT_BIN, 'get', ctx.url, '-o', outFile, '--data-dir', dataDir, '--json', '--peer', ctx.seed.addr,
      '--manifest', ctx.manifestCid, '--sha256', ctx.expectedHash, '--listen', '/ip4/127.0.0.1/tcp/0', '--config', ctx.getConfig], { timeoutMs: opts.timeoutMs })
    const summary = doptSummary(r, `honest dopt get (${label})`)
    const hash = await sha256File(outFile)
    return {
      label,
      startedAt,
      endedAt: Date.now(),
      seconds: r.seconds,
      correct: hash === ctx.expectedHash && summary.bytesTotal === opts.size,
      fromPeers: summary.bytesFromPeers,
      fromOrigin: summary.bytesFromOrigin
    }
  } catch (err) {
    return { label, startedAt, endedAt: Date.now(), seconds: (Date.now() - startedAt) / 1000, correct: false, error: err.message.slice(0, 300) }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

/** Starts the attacker processes with their shares; resolves with their summed counts. */
async function flood (ctx, opts) {
  const share = (total, i, n) => Math.floor(total / n) + (i < total % n ? 1 : 0)
  const procs = Array.from({ length: opts.procs }, async (_, i) => {
    const args = {
      addr: ctx.seed.addr,
      manifestCid: ctx.manifestCid,
      connections: share(opts.connections, i, opts.procs),
      firstConnection: Array.from({ length: i }, (_, j) => share(opts.connections, j, opts.procs)).reduce((a, b) => a + b, 0),
      malformed: share(opts.malformed, i, opts.procs),
      valid: share(opts.valid, i, opts.procs),
      validStreams: 2,
      window: opts.window,
      pieceShare: opts.pieceShare,
      concurrency: 16,
      seed: 0x5eed + i * 104_729
    }
    const r = await runTimed(process.execPath, [ATTACKER, JSON.stringify(args)], { timeoutMs: opts.timeoutMs })
    if (process.env.FLOOD_DEBUG) process.stderr.write(r.stderr)
    if (r.code !== 0) throw new Error(`attacker ${i} exited with ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`)
    return JSON.parse(r.stdout.trim().split('\n').pop())
  })
  const results = await Promise.all(procs)
  const total = { malformed: {}, ends: {}, valid: { sent: 0, answered: 0, refused: 0, busy: 0, wrong: 0, unanswered: 0, streamErrors: [] } }
  total.endMs = { p50: Math.max(...results.map(r => r.endMs.p50 ?? 0)), p99: Math.max(...results.map(r => r.endMs.p99 ?? 0)), max: Math.max(...results.map(r => r.endMs.max ?? 0)), over5s: results.reduce((n, r) => n + r.endMs.over5s, 0) }
  total.attackerUncaught = results.reduce((n, r) => n + (r.uncaught ?? 0), 0)
  for (const r of results) {
    for (const [k, n] of Object.entries(r.malformed)) total.malformed[k] = (total.malformed[k] ?? 0) + n
    for (const [k, n] of Object.entries(r.ends)) total.ends[k] = (total.ends[k] ?? 0) + n
    for (const k of ['sent', 'answered', 'refused', 'busy', 'wrong', 'unanswered']) total.valid[k] += r.valid[k]
    total.valid.streamErrors.push(...r.valid.streamErrors)
  }
  return total
}

async function main () {
  const opts = options()
  const log = m => process.stderr.write(`${m}\n`)
  try {
    for (const f of [join(REPO_ROOT, 'packages/p2p/dist/codec.js'), CLI_DIST, LAB]) await stat(f)
  } catch {
    throw new Error('a dist folder is missing: run "npm run build" first')
  }
  const work = await mkdtemp(join(tmpdir(), 'dopt-flood-bench-'))
  const ctx = { work, server: null, seed: null, seedNodeFlags: opts.seedNodeFlags, seedLines: [] }
  const samples = []
  let sampler = null
  let report
  try {
    const { writeRandomFile } = await import(LAB)
    const payload = join(work, 'payload.bin')
    log(`flood bench: ${formatBytes(opts.size)} file; ${opts.malformed} malformed + ${opts.valid} valid messages over ${opts.connections} connections (${opts.procs} processes); ${opts.downloads} honest downloads`)
    await writeRandomFile(payload, opts.size, (Date.now() % 0xffffffff) || 1)
    ctx.expectedHash = await sha256File(payload)
    ctx.server = await startOriginServer(payload)
    ctx.url = ctx.server.url
    ctx.seedDir = join(work, 'seed')
    ctx.seedConfig = join(work, 'seed-config.json')
    ctx.getConfig = join(work, 'get-config.json')
    await writeFile(ctx.seedConfig, JSON.stringify(SEED_CONFIG))
    await writeFile(ctx.getConfig, JSON.stringify(GET_CONFIG))
    const seeding = await runTimed(process.execPath, [DOPT_BIN, 'get', ctx.url, '-o', join(work, 'seed-file.bin'), '--data-dir', ctx.seedDir, '--json',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--config', ctx.seedConfig], { timeoutMs: opts.timeoutMs })
    const summary = doptSummary(seeding, 'seeding dopt get')
    ctx.manifestCid = summary.files?.[0]?.manifestCid
    if (typeof ctx.manifestCid !== 'string') throw new Error(`seeding dopt get named no manifest CID: ${JSON.stringify(summary.files)}`)
    await rm(join(work, 'seed-file.bin'), { force: true })

    ctx.seed = await startSeed(ctx)
    const pid = ctx.seed.child.pid
    let crashed = null
    void ctx.seed.exit.then(e => { if (!ctx.stopping) crashed = e })
    const t0 = Date.now()
    sampler = setInterval(() => { void rssOf(pid).then(rss => { if (Number.isFinite(rss)) samples.push({ t: Date.now() - t0, rss }) }) }, 200)
    log(`flood bench: seed ${ctx.seed.addr}, manifest ${ctx.manifestCid}`)

    const before = await honestDownload(ctx, opts, 'before the flood')
    log(`flood bench: download before the flood ${before.seconds.toFixed(2)} s, ${before.correct ? 'correct' : `WRONG ${before.error ?? ''}`}`)
    const rssStart = await rssOf(pid)
    const cpu0 = await procCpuSeconds(pid)
    const floodStart = Date.now()
    let floodEnd = null
    const flooding = flood(ctx, opts).finally(() => { floodEnd = Date.now() })
    const during = []
    const downloads = (async () => {
      for (let i = 1; i <= opts.downloads; i++) {
        const d = await honestDownload(ctx, opts, `during the flood (${i})`)
        d.overlapped = floodEnd === null || floodEnd > d.startedAt
        during.push(d)
        log(`flood bench: download ${i} during the flood ${d.seconds.toFixed(2)} s, ${d.correct ? 'correct' : `WRONG ${d.error ?? ''}`}`)
      }
    })()
    const counts = await flooding
    const floodSeconds = (floodEnd - floodStart) / 1000
    const cpuFlood = await procCpuSeconds(pid) - cpu0
    log(`flood bench: flood over in ${floodSeconds.toFixed(1)} s, seed CPU ${cpuFlood.toFixed(1)} s`)
    await downloads
    // The end figure: once the flood is over and the seed has had 5 s to settle.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, floodEnd + 5_000 - Date.now())))
    const rssEnd = await rssOf(pid)
    const peakDuring = Math.max(...samples.filter(s => s.t >= floodStart - t0).map(s => s.rss))
    // RSS over time, from the flood's start to the end figure: one sample every ~5 s (and every 200 ms in --keep's folder).
    const timeline = samples.filter(s => s.t >= floodStart - t0).filter((s, i) => i % 25 === 0).map(s => ({ t: (s.t - (floodStart - t0)) / 1000, rss: s.rss }))
    if (opts.keep) await writeFile(join(work, 'rss.json'), JSON.stringify(samples))
    if (opts.keep) await writeFile(join(work, 'seed-stdout.txt'), ctx.seedLines.join('\n'))
    const after = await honestDownload(ctx, opts, 'after the flood')
    log(`flood bench: download after the flood ${after.seconds.toFixed(2)} s, ${after.correct ? 'correct' : `WRONG ${after.error ?? ''}`}`)
    // V8 gives memory back some seconds after a process goes idle (its memory reducer): the settled figure, 20 s on.
    await new Promise(resolve => setTimeout(resolve, Math.max(0, floodEnd + 20_000 - Date.now())))
    const rssSettled = await rssOf(pid)
    clearInterval(sampler)
    sampler = null
    const alive = crashed === null && ctx.seed.child.exitCode === null && ctx.seed.child.signalCode === null
    ctx.stopping = true
    const stoppedWith = await stopChild(ctx.seed.child)
    report = { opts, counts, timeline, floodSeconds, cpuFlood, rssStart, peakDuring, rssEnd, rssSettled, crashed: !alive, crashInfo: crashed, stoppedWith, before, during, after, stderr: Buffer.concat(ctx.seed.stderr).toString().slice(-1000) }
  } finally {
    if (sampler !== null) clearInterval(sampler)
    ctx.stopping = true
    if (ctx.seed !== null) await stopChild(ctx.seed.child, 2000)
    await ctx.server?.close().catch(() => {})
    if (opts.keep) log(`flood bench: kept ${work}`)
    else await rm(work, { recursive: true, force: true })
  }
  await writeSection(opts.out, SECTION, body(report))
  const { counts } = report
  const malformed = Object.values(counts.malformed).reduce((a, b) => a + b, 0)
  log(`flood bench: ${malformed} malformed, ${counts.valid.sent} valid sent; seed RSS ${mb(report.rssStart)} -> ${mb(report.peakDuring)} peak -> ${mb(report.rssEnd)} (5 s) -> ${mb(report.rssSettled)} MB (20 s); ` +
    `crashed: ${report.crashed ? 'YES' : 'no'}; honest downloads ${[report.before, ...report.during, report.after].every(d => d.correct) ? 'all correct' : 'NOT all correct'}; written to ${opts.out}`)
  if (report.crashed || ![report.before, ...report.during, report.after].every(d => d.correct)) throw new Error('the seed crashed or an honest download was wrong')
}

const mb = bytes => Number.isFinite(bytes) ? (bytes / 1e6).toFixed(0) : 'n/a'

function body (r) {
  const { opts, counts } = r
  const m = machineInfo()
  const malformed = Object.values(counts.malformed).reduce((a, b) => a + b, 0)
  const v = counts.valid
  const downloads = [r.before, ...r.during, r.after]
  const fmt = (x, d = 2) => Number.isFinite(x) ? x.toFixed(d) : 'n/a'
  return `## Flood: a seed under malformed and valid request floods

Written by \`node benchmarks/flood/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}
- Seed: \`dopt daemon\` holding one ${formatBytes(opts.size)} file, its own process, 127.0.0.1, mDNS off. Attackers: ${opts.connections} libp2p connections in ${opts.procs} process(es) (benchmarks/flood/attacker.js). Honest peers: \`dopt get --peer SEED --manifest CID --sha256 HEX\` (config \`${JSON.stringify(GET_CONFIG)}\`), one after another.
- Malformed: **${malformed}** messages, each on a fresh stream, 1.1.0 and 1.0.0 in turn, ${Object.keys(counts.malformed).length} kinds; streams ended: ${Object.entries(counts.ends).map(([k, n]) => `${k} ${n}`).join(', ')} (hung: no end within 30 s; a subscription garbage made valid stays open by design, and is given up after 3 s). Time from a stream's last byte to its end: p50 ${counts.endMs.p50} ms, p99 ${counts.endMs.p99} ms, max ${counts.endMs.max} ms (worst attacker process), ${counts.endMs.over5s} over 5 s.
- Valid: **${v.sent}** requests sent (MANIFEST_REQ, HAVE_REQ, SUBSCRIBE on 1.1.0, PIECE_REQ with probability ${opts.pieceShare}), ${opts.window} open per stream at most: ${v.answered} answered (${v.refused} refused, ${v.busy} BUSY), ${v.wrong} wrong answers, ${v.unanswered} unanswered${v.streamErrors.length > 0 ? `; stream errors: ${[...new Set(v.streamErrors)].slice(0, 3).join('; ')}` : ''}.
- Flood: ${fmt(r.floodSeconds, 1)} s; seed CPU ${fmt(r.cpuFlood, 1)} s (user + system) during it.${counts.attackerUncaught > 0 ? ` Attacker-side uncaught errors (refused dials, retried): ${counts.attackerUncaught}.` : ''}
- **Seed RSS: ${mb(r.rssStart)} MB at the start -> ${mb(r.peakDuring)} MB peak -> ${mb(r.rssEnd)} MB 5 s after the flood, ${mb(r.rssSettled)} MB 20 s after.**
  Over time (s: MB, from the flood's start): ${r.timeline.map(s => `${s.t.toFixed(0)}: ${mb(s.rss)}`).join(', ')}.
- **Seed crashed: ${r.crashed ? `YES (${JSON.stringify(r.crashInfo)})` : 'no'}**; it stopped on SIGTERM with ${r.stoppedWith}.
- **Honest downloads: ${downloads.every(d => d.correct) ? 'all correct' : 'NOT all correct'}** (SHA-256 of the output):

| download | s | from peers | from origin | correct |
|---|---:|---:|---:|---|
${downloads.map(d => `| ${d.label}${d.overlapped === false ? ' (ended after the flood)' : ''} | ${fmt(d.seconds)} | ${d.fromPeers ?? ''} | ${d.fromOrigin ?? ''} | ${d.correct ? 'yes' : `NO ${d.error ?? ''}`} |`).join('\n')}

<details><summary>Malformed messages by kind</summary>

| kind | messages |
|---|---:|
${Object.entries(counts.malformed).map(([k, n]) => `| ${k} | ${n} |`).join('\n')}

</details>

The machine is shared: times are noisy; the memory figures and the correctness are the point.`
}

await runBenchmark('flood bench', main)
