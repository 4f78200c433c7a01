// aria2 baseline probe: the fleet lab's reference scenario for aria2 (stock) and aria2-random.
//
//   npm run build
//   node benchmarks/fleet/aria2-probe.js [--size 64M] [--nodes 4,8] [--rounds 3] [--origin-rate 20M]
//                                        [--upload-rate 20M] [--kinds aria2,aria2-random] [--out docs/benchmarks.md]
//                                        [--aria2-option=--split=1 ...] [--smoke] [--keep]
//
// Reference scenario: one file, N clients released together, each client's upload capped (default 20 MiB/s), the
// origin's total egress capped (default 20 MiB/s over all its responses together), no download cap. Reports, per
// system and N, origin copies (origin body bytes / file size) and the last client's done time over the Kumar–Ross
// lower bound max(F/u_origin, F/d_min, N·F/(u_origin + Σu_i)).
//
// The total origin cap: @dopt/lab's startOrigin has no total egress cap yet (its per-path `rate` fault limits each
// path on its own, which is not a total cap), so this script puts a small HTTP relay in front of the origin with one
// shared byte budget for all responses, and counts the body bytes each path's responses carried through it (what a
// capped origin would have sent). The results go into --out between <!-- fleet-aria2:begin --> and
// <!-- fleet-aria2:end -->. --smoke: 16 MiB, N = 4, 1 round, report to a temp file unless --out is given.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { Agent, createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { MiB, REPO_ROOT, benchOptions, formatBytes, machineInfo, median, parseSize, runBenchmark, writeSection } from '../lib.js'

const SECTION = 'fleet-aria2'
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
/** Largest slice written under the shared budget: small enough that concurrent responses interleave finely. */
const SLICE = 64 * 1024
/** Budget a late timer may catch up on, so timer jitter does not lower the cap's real rate. */
const BURST_MS = 20
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer'])

function options () {
  const extra = {
    nodes: { type: 'string' },
    kinds: { type: 'string', default: 'aria2,aria2-random' },
    'origin-rate': { type: 'string', default: '20M' },
    'upload-rate': { type: 'string', default: '20M' },
    'aria2-option': { type: 'string', multiple: true, default: [] }
  }
  const opts = benchOptions('fleet-aria2',
    'node benchmarks/fleet/aria2-probe.js [--size 64M] [--nodes 4,8] [--rounds 3] [--origin-rate 20M] [--upload-rate 20M] ' +
    '[--kinds aria2,aria2-random] [--out FILE] [--aria2-option=--opt=value ...] [--smoke] [--keep]', extra)
  const { values, usage } = opts
  const size = values.size !== undefined ? opts.size : values.smoke ? 16 * MiB : 64 * MiB
  const nodes = (values.nodes ?? (values.smoke ? '4' : '4,8')).split(',').map(Number)
  if (nodes.some(n => !Number.isInteger(n) || n < 1)) usage('--nodes must be whole numbers >= 1, comma-separated')
  const kinds = values.kinds.split(',')
  if (kinds.some(k => k !== 'aria2' && k !== 'aria2-random')) usage('--kinds: aria2 and/or aria2-random')
  return {
    ...opts,
    size,
    nodes,
    kinds,
    originRate: parseSize(values['origin-rate']),
    uploadRate: parseSize(values['upload-rate']),
    aria2Options: values['aria2-option']
  }
}

/**
 * One byte budget of `rate` bytes/s shared by every caller: each `take(n)` books the next n/rate seconds of the
 * budget in call order and resolves when they have passed, so concurrent responses share the rate and their sum
 * never runs ahead of it by more than BURST_MS.
 */
function sharedBudget (rate) {
  let next = performance.now()
  return async (n) => {
    const now = performance.now()
    const start = Math.max(next, now - BURST_MS)
    next = start + n / rate * 1000
    const wait = next - now
    if (wait > 1) await sleep(wait)
  }
}

/**
 * An HTTP relay in front of `origin` whose responses all draw on one budget of `rate` bytes/s. It has the Origin
 * interface the aria2 fleet uses (url, setFile, requests with path and bytesSent), so the fleet's web-seed URLs point
 * at it and its per-path counts are the capped origin's.
 */
async function startCappedOrigin (origin, rate) {
  const take = sharedBudget(rate)
  const agent = new Agent({ keepAlive: true })
  const requests = []
  let bytesSent = 0
  let windowStart = 0
  let firstAt = null
  let lastAt = null
  const server = createServer((req, res) => {
    const log = {
      method: req.method, path: new URL(req.url, 'http://relay').pathname, range: req.headers.range ?? null,
      ifRange: req.headers['if-range'] ?? null, status: 0, bytesSent: 0, time: Date.now()
    }
    requests.push(log)
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.has(k) && k !== 'host'))
    const up = request(origin.url(req.url), { method: req.method, headers, agent }, upRes => {
      log.status = upRes.statusCode
      res.writeHead(upRes.statusCode, Object.fromEntries(Object.entries(upRes.headers).filter(([k]) => !HOP_BY_HOP.has(k))))
      void (async () => {
        for await (const chunk of upRes) {
          for (let off = 0; off < chunk.length; off += SLICE) {
            const slice = chunk.subarray(off, off + SLICE)
            await take(slice.length)
            if (res.destroyed) return
            firstAt ??= performance.now()
            lastAt = performance.now()
            log.bytesSent += slice.length
            bytesSent += slice.length
            if (!res.write(slice)) await drained(res)
          }
        }
        res.end()
      })().catch(() => res.destroy())
    })
    up.on('error', () => res.destroy())
    res.on('close', () => up.destroy())
    up.end()
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const baseUrl = `http://127.0.0.1:${server.address().port}`
  return {
    baseUrl,
    url: path => baseUrl + (path.startsWith('/') ? path : `/${path}`),
    setFile: (path, file) => origin.setFile(path, file),
    setFault: (path, fault) => origin.setFault(path, fault),
    redirect: (from, to, status) => origin.redirect(from, to, status),
    get requests () { return requests },
    get bytesSent () { return bytesSent },
    /** Body bytes/s since the last call, over the time bytes were flowing (a check that the cap holds). */
    achievedRate: () => {
      const rate = firstAt === null || lastAt === firstAt ? 0 : (bytesSent - windowStart) / ((lastAt - firstAt) / 1000)
      firstAt = lastAt = null
      windowStart = bytesSent
      return rate
    },
    close: async () => {
      agent.destroy()
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** Resolves when `res` can take more, or has closed. */
async function drained (res) {
  await new Promise(resolve => {
    const done = () => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

async function sha256File (path) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk)
  return hash.digest('hex')
}

const fmt = (x, digits = 2) => x == null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits)
const spread = values => `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`

async function main () {
  const opts = options()
  try {
    await stat(LAB)
  } catch {
    throw new Error('packages/lab/dist is missing: run "npm run build" first')
  }
  const lab = await import(LAB)
  const available = await lab.aria2Available()
  if (!available.ok) throw new Error(available.reason)

  const work = await mkdtemp(join(tmpdir(), 'dopt-bench-fleet-aria2-'))
  const origin = await lab.startOrigin()
  const capped = await startCappedOrigin(origin, opts.originRate)
  const rows = []
  let trackerKind = null
  try {
    const payload = join(work, 'payload.bin')
    await lab.writeRandomFile(payload, opts.size, 1)
    const sha = await sha256File(payload)
    let run = 0
    for (const n of opts.nodes) {
      const F = opts.size
      const bound = Math.max(F / opts.originRate, n * F / (opts.originRate + n * opts.uploadRate))
      for (const kind of opts.kinds) {
        const row = { kind, n, bound, copies: [], lastDone: [], ratio: [], cpu: [], rss: [], capRate: [], failures: 0 }
        for (let round = 0; round < opts.rounds; round++) {
          const workDir = join(work, `run${run++}`)
          await mkdir(workDir)
          const before = new Map(capped.requests.map(r => [r, true]))
          const scenario = {
            name: `aria2-probe-${n}`, nodes: n, fileSize: F, pieceSize: MiB, originRate: opts.originRate,
            uploadRate: opts.uploadRate, downloadRate: 0, arrival: { kind: 'together' }, check: 'sha256',
            timeout: Math.max(120, 10 * n * F / opts.originRate)
          }
          const sentBefore = capped.bytesSent
          const result = await lab.runAria2Fleet({
            scenario, kind, payloadPath: payload, payloadSha256: sha, origin: capped, workDir, aria2Options: opts.aria2Options
          })
          trackerKind = result.tracker
          const originBytes = capped.bytesSent - sentBefore
          const byNodes = result.nodes.reduce((s, x) => s + x.bytesFromOrigin, 0)
          if (byNodes !== originBytes) throw new Error(`per-client origin bytes ${byNodes} != relay total ${originBytes}`)
          if (result.peerAddresses.some(a => !a.startsWith('127.'))) throw new Error(`non-loopback peers: ${result.peerAddresses}`)
          const done = result.nodes.map(x => x.done)
          const ok = result.nodes.every(x => x.verified && x.done !== null)
          if (!ok) {
            row.failures++
            opts.keep = true
            for (const x of result.nodes.filter(x => !x.verified || x.done === null)) {
              process.stderr.write(`  client ${x.index}: ${x.error ?? 'not verified'}\n`)
            }
          }
          const last = ok ? Math.max(...done) : null
          row.copies.push(originBytes / F)
          if (last !== null) {
            row.lastDone.push(last)
            row.ratio.push(last / bound)
          }
          row.cpu.push(result.nodes.reduce((s, x) => s + x.cpuSeconds, 0) / n)
          row.rss.push(Math.max(...result.nodes.map(x => x.peakRss)))
          const requests = capped.requests.filter(r => !before.has(r))
          process.stderr.write(`${kind} N=${n} round ${round + 1}: copies ${fmt(originBytes / F)}, last done ${fmt(last)} s ` +
            `(${fmt(last === null ? null : last / bound)}x bound ${fmt(bound)} s), ${requests.length} origin requests, ` +
            `relay ${fmt(capped.achievedRate() / MiB, 1)} MiB/s\n`)
          // A failed round's folders (the clients' aria2.log files) stay for a look; the rest go.
          if (ok) await rm(workDir, { recursive: true, force: true })
          else process.stderr.write(`  kept ${workDir}\n`)
        }
        rows.push(row)
      }
    }
  } finally {
    await capped.close()
    await origin.close()
    if (!opts.keep) await rm(work, { recursive: true, force: true })
  }

  const m = machineInfo()
  const extra = opts.aria2Options.length > 0 ? ` Extra aria2c options: \`${opts.aria2Options.join(' ')}\`.` : ''
  const body = `## Fleet baseline: aria2 with a web seed (probe)

Written by \`node benchmarks/fleet/aria2-probe.js${process.argv.slice(2).length > 0 ? ' ' + process.argv.slice(2).join(' ') : ''}\` on ${new Date().toISOString()}.
Machine: ${m.cores} cores, ${m.cpuModel}, ${m.os}, Node ${m.node}; aria2 ${available.version}, tracker: ${trackerKind}.

${formatBytes(opts.size)}, 1 MiB pieces, all clients released together; origin egress capped at ${fmt(opts.originRate / MiB, 0)} MiB/s in
total (a shared-budget relay in the probe), each client's upload at ${fmt(opts.uploadRate / MiB, 0)} MiB/s, no download cap.
${opts.rounds} round(s) each: median (min–max). Copies: origin body bytes / file size. Bound: Kumar–Ross lower bound on
the last done time.${extra}

| system | N | origin copies | last done, s | last done / bound | CPU s per client | peak RSS, MiB | failed rounds |
|---|---|---|---|---|---|---|---|
${rows.map(r => `| ${r.kind} | ${r.n} | ${spread(r.copies)} | ${r.lastDone.length > 0 ? spread(r.lastDone) : 'n/a'} | ` +
  `${r.ratio.length > 0 ? spread(r.ratio) : 'n/a'} | ${fmt(median(r.cpu))} | ${fmt(median(r.rss) / MiB, 0)} | ${r.failures} |`).join('\n')}
`
  await writeSection(opts.out, SECTION, body)
  process.stdout.write(body)
  process.stderr.write(`fleet-aria2 probe: written to ${opts.out}\n`)
}

await runBenchmark('fleet-aria2 probe', main)
