// The benchmark's origin, in its own process so it does not share an event loop with the client being measured.
//
//   node benchmarks/origin/server.js /abs/path/to/file [--tls KEY.pem CERT.pem]
//
// Serves the file at /payload.bin on 127.0.0.1 (ranges on) and prints one JSON line: {"url": "..."}. With --tls,
// over https: a small static file server of its own (ranges, ETag), since @dopt/lab's origin speaks http only.
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

const tlsAt = process.argv.indexOf('--tls')
const origin = tlsAt < 0 ? await lab.startOrigin({ host: '127.0.0.1' }) : await startTlsOrigin(process.argv[tlsAt + 1], process.argv[tlsAt + 2])
if (tlsAt < 0) origin.setFile('/payload.bin', { file })

/** An https origin for `file` at /payload.bin: HEAD, GET and single byte ranges, as the lab origin answers them. */
async function startTlsOrigin (keyFile, certFile) {
  const { readFile, stat } = await import('node:fs/promises')
  const { createReadStream } = await import('node:fs')
  const { createServer } = await import('node:https')
  const { size, mtime } = await stat(file)
  const etag = `"${size}-${mtime.getTime()}"`
  const server = createServer({ key: await readFile(keyFile), cert: await readFile(certFile) }, (req, res) => {
    if (req.url !== '/payload.bin') { res.writeHead(404).end(); return }
    res.setHeader('etag', etag)
    res.setHeader('accept-ranges', 'bytes')
    let start = 0
    let end = size
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    if (range !== null && (req.headers['if-range'] === undefined || req.headers['if-range'] === etag)) {
      start = Number(range[1])
      end = range[2] === '' ? size : Math.min(size, Number(range[2]) + 1)
      if (start >= size) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return }
      res.statusCode = 206
      res.setHeader('content-range', `bytes ${start}-${end - 1}/${size}`)
    }
    res.setHeader('content-length', end - start)
    if (req.method === 'HEAD' || end === start) { res.end(); return }
    createReadStream(file, { start, end: end - 1, highWaterMark: 1024 * 1024 }).pipe(res)
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: (path) => `https://127.0.0.1:${server.address().port}${path}`,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

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
