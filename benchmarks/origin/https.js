// The https: transports side by side: the same job through the engine (benchmarks/origin/engine-get.js) over dopt's
// raw TLS socket transport (the default) and over node:https, with curl beside them, from a local https origin.
//
//   npm run build
//   node benchmarks/origin/https.js [--size BYTES|64M|1G] [--rounds N] [--warmup N] [--out docs/benchmarks.md] [--smoke]
//
// A self-signed certificate for 127.0.0.1 is made with openssl in a temp folder; the clients trust it through
// NODE_EXTRA_CA_CERTS (curl: --cacert). The origin (benchmarks/origin/server.js --tls) runs in its own process.
// Every engine output is checked against the file's SHA-256. Results go between <!-- origin-https:begin/end -->.
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  GiB, REPO_ROOT, benchOptions, commandExists, findGnuTime, formatBytes, machineInfo, median, runBenchmark, runTimed,
  sha256File, startOriginServer, writeSection
} from '../lib.js'

const SECTION = 'origin-https'
const ENGINE_GET = join(REPO_ROOT, 'benchmarks/origin/engine-get.js')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const fmt = (x, digits = 1) => Number.isFinite(x) ? x.toFixed(digits) : 'n/a'

async function main () {
  const { size, rounds, warmup, out, timeoutMs, smoke } = benchOptions('origin-https',
    'node benchmarks/origin/https.js [--size BYTES] [--rounds N] [--warmup N] [--out FILE] [--smoke]')
  if (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status !== 0) throw new Error('openssl is needed to make the test certificate')
  const { writeRandomFile } = await import(LAB)
  const gnuTime = findGnuTime()
  const work = await mkdtemp(join(tmpdir(), 'dopt-bench-https-'))
  let server = null
  const results = []
  try {
    const key = join(work, 'key.pem')
    const cert = join(work, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' })
    const payload = join(work, 'payload.bin')
    process.stderr.write(`origin-https bench: writing ${formatBytes(size)} of random data\n`)
    await writeRandomFile(payload, size, randomBytes(4).readUInt32LE() || 1)
    const expected = await sha256File(payload)
    server = await startOriginServer(payload, 30_000, ['--tls', key, cert])
    process.stderr.write(`origin-https bench: origin at ${server.url}; ${rounds} round(s)\n`)
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: cert }
    const clients = {
      curl: (o) => ['curl', ['-s', '-f', '--cacert', cert, '-o', o, server.url]],
      'engine-tls': (o, d) => [process.execPath, [ENGINE_GET, server.url, o, d, 'net']],
      'engine-node-https': (o, d) => [process.execPath, [ENGINE_GET, server.url, o, d, 'node-https']]
    }
    const names = [...(commandExists('curl') ? ['curl'] : []), 'engine-tls', 'engine-node-https']
    for (let round = 1 - warmup; round <= rounds; round++) {
      const order = round % 2 === 1 ? names : [...names].reverse()
      for (const name of order) {
        const o = join(work, `out-${name}.bin`)
        const d = await mkdtemp(join(work, 'data-'))
        try {
          const [cmd, args] = clients[name](o, d)
          const before = await server.cpu()
          const r = await runTimed(cmd, args, { timeoutMs, gnuTime, cpuFile: join(work, 'cpu.txt'), env })
          const serverCpu = await server.cpu() - before
          if (r.code !== 0) throw new Error(`${name} exited with ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`)
          const got = (await stat(o)).size
          if (got !== size) throw new Error(`${name} wrote ${got} bytes, expected ${size}`)
          if (name !== 'curl' && await sha256File(o) !== expected) throw new Error(`${name} output differs from the file`)
          const cpu = r.cpu == null ? NaN : r.cpu.user + r.cpu.system
          process.stderr.write(`  ${round < 1 ? 'warm-up' : `round ${round}`} ${name.padEnd(17)} ${r.seconds.toFixed(2).padStart(6)} s  cpu ${fmt(cpu, 2)} s  origin cpu ${fmt(serverCpu, 2)} s\n`)
          if (round >= 1) results.push({ round, name, seconds: r.seconds, cpu, serverCpu })
        } finally {
          await rm(o, { force: true })
          await rm(d, { recursive: true, force: true })
        }
      }
    }
  } finally {
    await server?.close().catch(() => {})
    await rm(work, { recursive: true, force: true })
  }

  const gib = size / GiB
  const summary = {}
  for (const name of ['curl', 'engine-tls', 'engine-node-https']) {
    const rows = results.filter(r => r.name === name)
    summary[name] = rows.length === 0
      ? null
      : { seconds: median(rows.map(r => r.seconds)), mbps: median(rows.map(r => size / r.seconds / 1e6)), cpuPerGiB: median(rows.map(r => r.cpu / gib)), serverCpuPerGiB: median(rows.map(r => r.serverCpu / gib)) }
  }
  const table = [
    '| client | median s | median MB/s | CPU s/GiB (client) | CPU s/GiB (origin) |',
    '|---|---:|---:|---:|---:|',
    ...Object.entries(summary).map(([name, s]) => s == null
      ? `| ${name} | skipped | | | |`
      : `| ${name} | ${fmt(s.seconds, 2)} | ${fmt(s.mbps)} | ${fmt(s.cpuPerGiB, 2)} | ${fmt(s.serverCpuPerGiB, 2)} |`)
  ].join('\n')
  const tls = summary['engine-tls']
  const node = summary['engine-node-https']
  const ratio = tls.mbps / node.mbps
  const ratioLine = `**Raw TLS socket / node:https: ${ratio.toFixed(2)}x** of median throughput (${fmt(tls.seconds, 2)} vs ${fmt(node.seconds, 2)} s; ` +
    `CPU ${fmt(tls.cpuPerGiB, 2)} vs ${fmt(node.cpuPerGiB, 2)} s/GiB)${summary.curl == null ? '' : `; raw TLS / curl: ${(tls.mbps / summary.curl.mbps).toFixed(2)}x`}.`
  process.stdout.write(`\n${table}\n\n${ratioLine.replaceAll('**', '')}\n`)
  const m = machineInfo()
  await writeSection(out, SECTION, `## Origin over https: dopt's raw TLS socket transport vs node:https

Written by \`node benchmarks/origin/https.js${smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}
- File: ${formatBytes(size)} of random data from an https origin in its own process on 127.0.0.1 (\`benchmarks/origin/server.js --tls\`, a self-signed P-256 certificate), TLS as negotiated by default (TLS 1.3).
- Rounds: ${rounds} timed after ${warmup} warm-up round(s), order alternating. engine-tls and engine-node-https: \`benchmarks/origin/engine-get.js\` (the job through the engine and a level store, no CLI) with the default transport (raw \`node:tls\` sockets, \`onread\` into reused buffers) or with node:https for \`https:\`; outputs checked against the file's SHA-256. curl: \`curl --cacert\`, the reference.
- CPU s = user + system of the client process${gnuTime == null ? ' (not recorded: GNU time missing)' : ' (GNU time)'}; origin CPU = the server process during that run (it encrypts).

${table}

${ratioLine}`)
  process.stderr.write(`origin-https bench: wrote ${out}\n`)
}

await runBenchmark('origin-https bench', main)
