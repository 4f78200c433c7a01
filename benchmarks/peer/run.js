// Peer-path benchmark: 1 MiB pieces between two processes on 127.0.0.1, dopt's p2p layer against raw node:net.
//
//   npx tsc -b
//   node benchmarks/peer/run.js [--size 1G] [--inflight N] [--rounds N] [--warmup N] [--node-flags "..."]
//                               [--out docs/benchmarks.md] [--smoke]   (write flags as --node-flags="--x --y")
//
// Each round runs both variants, in alternating order, each as a fresh server process and a fresh client process
// (benchmarks/peer/worker.js): (a) raw `node:net`, requests pipelined, the receiver gathers and SHA-256s every piece;
// (b) dopt: createP2P on both sides (tcp + noise + yamux, the piece protocol), the receiver keeps N fetchPiece calls
// in flight and SHA-256s every piece. Time is the client's, from its first request to its last piece (connection
// set-up excluded for both). --node-flags go to BOTH sides of BOTH variants.
// Results go into --out between <!-- peer:begin --> and <!-- peer:end -->. --smoke: 64 MiB, 1 round, temp file.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { GiB, MiB, REPO_ROOT, formatBytes, killAllChildren, machineInfo, median, parseSize, spawnTracked, writeSection } from '../lib.js'

const SECTION = 'peer'
const TARGET_RATIO = 0.5
const WORKER = join(REPO_ROOT, 'benchmarks/peer/worker.js')
const DEFAULT_NODE_FLAGS = '--max-semi-space-size=64 --initial-old-space-size=256'

function usage (message) {
  if (message) process.stderr.write(`peer bench: ${message}\n`)
  process.stderr.write('usage: node benchmarks/peer/run.js [--size BYTES] [--inflight N] [--rounds N] [--warmup N] [--node-flags FLAGS] [--out FILE] [--smoke]\n')
  process.exit(2)
}

function options () {
  let values
  try {
    ({ values } = parseArgs({
      options: {
        size: { type: 'string' },
        inflight: { type: 'string', default: '16' },
        rounds: { type: 'string' },
        warmup: { type: 'string', default: '1' },
        'node-flags': { type: 'string', default: DEFAULT_NODE_FLAGS },
        out: { type: 'string' },
        smoke: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (err) {
    usage(err.message)
  }
  if (values.help) usage()
  const size = values.size !== undefined ? parseSize(values.size) : values.smoke ? 64 * MiB : GiB
  const rounds = values.rounds !== undefined ? Number(values.rounds) : values.smoke ? 1 : 3
  const warmup = Number(values.warmup)
  const inflight = Number(values.inflight)
  if (!Number.isInteger(rounds) || rounds < 1) usage('--rounds must be a whole number >= 1')
  if (!Number.isInteger(warmup) || warmup < 0) usage('--warmup must be a whole number >= 0')
  if (!Number.isInteger(inflight) || inflight < 1) usage('--inflight must be a whole number >= 1')
  const nodeFlags = values['node-flags'].split(/\s+/).filter(Boolean)
  return { size, rounds, warmup, inflight, nodeFlags, smoke: values.smoke, out: values.out !== undefined ? resolve(values.out) : null }
}

/** Reads stdout lines of a child one at a time. */
function lines (child) {
  const rl = createInterface({ input: child.stdout })
  const queue = []
  const waiters = []
  rl.on('line', line => { const w = waiters.shift(); if (w) w.resolve(line); else queue.push(line) })
  rl.on('close', () => { for (const w of waiters.splice(0)) w.reject(new Error('process ended without output')) })
  return () => queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => waiters.push({ resolve, reject }))
}

async function runOnce (kind, opts) {
  const stderr = []
  const server = spawnTracked(process.execPath, [...opts.nodeFlags, WORKER, 'server', kind], { stdio: ['pipe', 'pipe', 'pipe'] })
  server.stderr.on('data', b => stderr.push(b))
  const serverLine = lines(server)
  const addr = await serverLine()
  const client = spawnTracked(process.execPath, [...opts.nodeFlags, WORKER, 'client', kind, addr, String(opts.size), String(opts.inflight)], { stdio: ['ignore', 'pipe', 'pipe'] })
  client.stderr.on('data', b => stderr.push(b))
  const clientLine = lines(client)
  const timer = setTimeout(() => { killAllChildren() }, 300_000)
  try {
    const result = JSON.parse(await clientLine())
    server.stdin.end()
    const { cpu } = JSON.parse(await serverLine())
    if (result.bad > 0) throw new Error(`${kind}: ${result.bad} pieces failed their SHA-256`)
    return { kind, ...result, serverCpu: cpu, mbps: result.bytes / result.seconds / 1e6 }
  } catch (err) {
    throw new Error(`${kind} run failed: ${err.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`)
  } finally {
    clearTimeout(timer)
  }
}

async function main () {
  const opts = options()
  const out = opts.out ?? (opts.smoke ? join(await mkdtemp(join(tmpdir(), 'dopt-peer-bench-')), 'benchmarks.md') : join(REPO_ROOT, 'docs/benchmarks.md'))
  const log = m => process.stderr.write(`${m}\n`)
  log(`peer bench: ${formatBytes(opts.size)}, ${opts.inflight} in flight, ${opts.warmup} warm-up + ${opts.rounds} rounds, node flags: ${opts.nodeFlags.join(' ') || '(none)'}`)
  for (let i = 0; i < opts.warmup; i++) {
    for (const kind of ['raw', 'dopt']) await runOnce(kind, opts)
  }
  const runs = []
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? ['raw', 'dopt'] : ['dopt', 'raw']
    for (const kind of order) {
      const r = await runOnce(kind, opts)
      runs.push({ round, ...r })
      log(`round ${round} ${kind}: ${r.seconds.toFixed(2)} s, ${r.mbps.toFixed(0)} MB/s, CPU client ${r.cpu.toFixed(2)} s, server ${r.serverCpu.toFixed(2)} s`)
    }
  }
  const stats = kind => {
    const rs = runs.filter(r => r.kind === kind)
    const gib = rs[0].bytes / GiB
    return {
      seconds: median(rs.map(r => r.seconds)),
      mbps: median(rs.map(r => r.mbps)),
      cpu: median(rs.map(r => r.cpu / gib)),
      serverCpu: median(rs.map(r => r.serverCpu / gib))
    }
  }
  const raw = stats('raw')
  const dopt = stats('dopt')
  const ratio = dopt.mbps / raw.mbps
  const m = machineInfo()
  const body = `## Peer path: dopt p2p vs raw \`node:net\`

Written by \`node benchmarks/peer/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}
- Payload: ${formatBytes(opts.size)} as 1 MiB pieces, server and client in separate processes on 127.0.0.1, ${opts.inflight} pieces in flight; the receiver SHA-256s every piece against its expected hash.
- raw: \`node:net\`, u32 request / u32 + piece answer, pipelined; the receiver gathers each piece into one buffer (one copy, as dopt).
- dopt: \`createP2P\` on both sides (tcp + noise + yamux, \`/dopt/default/pieces/1.0.0\`), one stream, \`fetchPiece\` × ${opts.inflight} in flight.
- Node flags on both sides of both variants: \`${opts.nodeFlags.join(' ') || '(none)'}\`
- Rounds: ${opts.rounds} timed after ${opts.warmup} warm-up round(s), order alternating, fresh processes per run. Time = the client's, first request to last piece. MB/s = 10^6 bytes/s. CPU = user + system of each process during the run.

| variant | median s | median MB/s | CPU s/GiB (client) | CPU s/GiB (server) |
|---|---:|---:|---:|---:|
| raw | ${raw.seconds.toFixed(2)} | ${raw.mbps.toFixed(1)} | ${raw.cpu.toFixed(2)} | ${raw.serverCpu.toFixed(2)} |
| dopt | ${dopt.seconds.toFixed(2)} | ${dopt.mbps.toFixed(1)} | ${dopt.cpu.toFixed(2)} | ${dopt.serverCpu.toFixed(2)} |

**dopt / raw throughput: ${ratio.toFixed(2)}x** (target >= ${TARGET_RATIO}x raw: ${ratio >= TARGET_RATIO ? 'met' : 'not met'})

<details><summary>Per round</summary>

| round | variant | s | MB/s | CPU s (client) | CPU s (server) |
|---:|---|---:|---:|---:|---:|
${runs.map(r => `| ${r.round} | ${r.kind} | ${r.seconds.toFixed(2)} | ${r.mbps.toFixed(1)} | ${r.cpu.toFixed(2)} | ${r.serverCpu.toFixed(2)} |`).join('\n')}

</details>

The machines are shared and noisy: compare the ratio, not the absolute numbers. Server CPU includes its start-up.`
  await writeSection(out, SECTION, body)
  log(`dopt/raw = ${ratio.toFixed(2)}x; written to ${out}`)
}

main().then(() => process.exit(0), err => { killAllChildren(); process.stderr.write(`${err.stack ?? err}\n`); process.exit(1) })
