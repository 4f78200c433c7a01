// The benchmark's origin, in its own process so it does not share an event loop with the client being measured.
//
//   node benchmarks/origin/server.js /abs/path/to/file
//
// Serves the file at /payload.bin on 127.0.0.1 (ranges on) and prints one JSON line: {"url": "..."}.
// Then reads commands on stdin, one per line:
//   cpu   -> prints {"cpu": {"user": µs, "system": µs}}  (process.cpuUsage() so far)
//   quit  -> closes the origin and exits
// End of stdin (the parent went away) also closes it, so it never outlives the benchmark.
import { isAbsolute } from 'node:path'
import { createInterface } from 'node:readline'

let lab
try {
  lab = await import('../../packages/lab/dist/index.js')
} catch (err) {
  process.stderr.write(`origin server: cannot load packages/lab/dist (run "npx tsc -b" first): ${err.message}\n`)
  process.exit(2)
}

const file = process.argv[2]
if (file === undefined || !isAbsolute(file)) {
  process.stderr.write('usage: node benchmarks/origin/server.js /absolute/path/to/file\n')
  process.exit(2)
}

const origin = await lab.startOrigin({ host: '127.0.0.1' })
origin.setFile('/payload.bin', { file })

let closing = false
async function shutdown (code) {
  if (closing) return
  closing = true
  const force = setTimeout(() => process.exit(code), 3000)
  force.unref()
  try { await origin.close() } finally { process.exit(code) }
}

process.on('SIGTERM', () => { void shutdown(0) })
process.on('SIGINT', () => { void shutdown(0) })

const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  const cmd = line.trim()
  if (cmd === 'cpu') process.stdout.write(JSON.stringify({ cpu: process.cpuUsage() }) + '\n')
  else if (cmd === 'quit') void shutdown(0)
})
lines.on('close', () => { void shutdown(0) })

process.stdout.write(JSON.stringify({ url: origin.url('/payload.bin') }) + '\n')
