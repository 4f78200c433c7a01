// One side of the peer benchmark, run as its own process by run.js:
//   node worker.js server raw|dopt            prints its address on stdout, serves until stdin closes, then prints
//                                             {"cpu": seconds} and exits
//   node worker.js client raw|dopt ADDR BYTES INFLIGHT
//                                             fetches BYTES as 1 MiB pieces with INFLIGHT requests in flight,
//                                             SHA-256s every piece against the expected hash, prints a JSON result
// Pieces are deterministic (AES-CTR keystream per base piece), so the client knows every expected hash without
// transferring it; piece i is base piece i % BASE_PIECES, so the server holds 64 MiB whatever the size.
import { createCipheriv, createHash } from 'node:crypto'
import { connect, createServer } from 'node:net'
import { join } from 'node:path'
import { REPO_ROOT } from '../lib.js'

export const PIECE = 1024 * 1024
const BASE_PIECES = 64
const MANIFEST_CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

function basePiece (i) {
  const iv = Buffer.alloc(16)
  iv.writeUInt32BE(i, 0)
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), iv)
  return Buffer.concat([cipher.update(Buffer.alloc(PIECE)), cipher.final()])
}

const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

async function loadP2P () {
  return await import(join(REPO_ROOT, 'packages/p2p/dist/index.js'))
}

async function server (kind) {
  const pieces = Array.from({ length: BASE_PIECES }, (_, i) => basePiece(i))
  let stop
  if (kind === 'raw') {
    // Request: u32 index. Answer: u32 index, then the 1 MiB piece. Backpressure through write()'s return value.
    const srv = createServer({ noDelay: true }, socket => {
      let pending = Buffer.alloc(0)
      let queue = []
      let writing = false
      const pump = () => {
        while (queue.length > 0) {
          const index = queue.shift()
          const header = Buffer.alloc(4)
          header.writeUInt32BE(index)
          socket.cork()
          socket.write(header)
          const ok = socket.write(pieces[index % BASE_PIECES])
          socket.uncork()
          if (!ok) { writing = true; socket.once('drain', () => { writing = false; pump() }); return }
        }
      }
      socket.on('data', data => {
        pending = pending.length === 0 ? data : Buffer.concat([pending, data])
        while (pending.length >= 4) {
          queue.push(pending.readUInt32BE(0))
          pending = pending.subarray(4)
        }
        if (!writing) pump()
      })
      socket.on('error', () => {})
    })
    await new Promise(resolve => srv.listen(0, '127.0.0.1', resolve))
    process.stdout.write(`127.0.0.1:${srv.address().port}\n`)
    stop = async () => { srv.close() }
  } else {
    const { createP2P } = await loadP2P()
    const content = {
      getManifest: async () => null,
      getHave: async () => null,
      readPiece: async (cid, index) => cid === MANIFEST_CID ? pieces[index % BASE_PIECES] : null
    }
    const p2p = await createP2P({ mdns: false, dht: false, maxConcurrentUploads: 64 }, { content })
    process.stdout.write(`${p2p.getMultiaddrs()[0]}\n`)
    stop = async () => { await p2p.stop() }
  }
  process.stdin.resume()
  process.stdin.on('end', async () => {
    await stop()
    process.stdout.write(`${JSON.stringify({ cpu: cpuSeconds() })}\n`)
    process.exit(0)
  })
}

async function client (kind, addr, bytes, inflight) {
  const expected = Array.from({ length: BASE_PIECES }, (_, i) => createHash('sha256').update(basePiece(i)).digest('hex'))
  const count = Math.ceil(bytes / PIECE)
  let bad = 0
  const check = (index, piece) => {
    if (createHash('sha256').update(piece).digest('hex') !== expected[index % BASE_PIECES]) bad++
  }
  let seconds
  let cpu
  if (kind === 'raw') {
    const [host, port] = addr.split(':')
    const socket = connect({ host, port: Number(port), noDelay: true })
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const cpu0 = cpuSeconds()
    const started = process.hrtime.bigint()
    await new Promise((resolve, reject) => {
      let next = 0
      let received = 0
      let header = Buffer.alloc(0)
      let piece = null
      let fill = 0
      let index = 0
      const request = () => {
        const req = Buffer.alloc(4)
        req.writeUInt32BE(next++)
        socket.write(req)
      }
      for (let i = 0; i < Math.min(inflight, count); i++) request()
      socket.on('error', reject)
      // One copy per piece, as the dopt receiver does: chunks are gathered into a 1 MiB receive buffer, reused
      // (pieces arrive one after the other here, and each is checked before the next one starts).
      const receive = Buffer.allocUnsafe(PIECE)
      socket.on('data', data => {
        let off = 0
        while (off < data.length) {
          if (piece === null) {
            const take = Math.min(4 - header.length, data.length - off)
            header = Buffer.concat([header, data.subarray(off, off + take)])
            off += take
            if (header.length < 4) return
            index = header.readUInt32BE(0)
            header = Buffer.alloc(0)
            piece = receive
            fill = 0
          }
          const take = Math.min(PIECE - fill, data.length - off)
          data.copy(piece, fill, off, off + take)
          fill += take
          off += take
          if (fill === PIECE) {
            check(index, piece)
            piece = null
            received++
            if (next < count) request()
            if (received === count) { socket.end(); resolve() }
          }
        }
      })
    })
    seconds = Number(process.hrtime.bigint() - started) / 1e9
    cpu = cpuSeconds() - cpu0
  } else {
    const { createP2P } = await loadP2P()
    const empty = { getManifest: async () => null, getHave: async () => null, readPiece: async () => null }
    const p2p = await createP2P({ mdns: false, dht: false, peers: [addr] }, { content: empty })
    const peerId = addr.split('/p2p/')[1]
    await p2p.fetchHave(peerId, MANIFEST_CID) // connect and open the stream before timing
    const cpu0 = cpuSeconds()
    const started = process.hrtime.bigint()
    let next = 0
    // Each lane receives its pieces into its own reused buffer, as dopt's swarm does.
    const lane = async () => {
      const receive = new Uint8Array(PIECE)
      while (next < count) {
        const index = next++
        check(index, await p2p.fetchPiece(peerId, MANIFEST_CID, index, { into: receive }))
      }
    }
    await Promise.all(Array.from({ length: Math.min(inflight, count) }, lane))
    seconds = Number(process.hrtime.bigint() - started) / 1e9
    cpu = cpuSeconds() - cpu0
    await p2p.stop()
  }
  process.stdout.write(`${JSON.stringify({ seconds, bytes: count * PIECE, bad, cpu })}\n`)
}

const [role, kind, ...rest] = process.argv.slice(2)
if (kind !== 'raw' && kind !== 'dopt') throw new Error('kind must be raw or dopt')
if (role === 'server') await server(kind)
else if (role === 'client') await client(kind, rest[0], Number(rest[1]), Number(rest[2]))
else throw new Error('role must be server or client')
