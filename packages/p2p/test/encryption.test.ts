import '../src/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import type { AddressInfo, Server, Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '@dopt/lab'
import { doptNoise } from '../src/encryption.js'
import { doptTls, TLS_PROTOCOL } from '../src/tls.js'
import { createCertificate } from '../src/certificate.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ConnectionEncrypter, Libp2p, Stream } from '@libp2p/interface'

const ECHO = '/dopt-test/echo/1.0.0'
const SINK = '/dopt-test/sink/1.0.0'
/** What each SINK stream received, in the order the streams ended (normally or not). */
const sunk: Buffer[] = []
const started: Libp2p[] = []
const servers: Server[] = []
const proxied: Socket[] = []
afterEach(async () => {
  for (const s of proxied.splice(0)) s.destroy()
  await Promise.all(started.splice(0).map(async n => { await n.stop() }))
  for (const s of servers.splice(0)) s.close()
})

/**
 * A TCP proxy to `port` on 127.0.0.1 that flips one bit of the byte at offset `at` of what the dialer sends (after
 * the handshake: the handshake is a few hundred bytes). It never passes the dialer's end on to the listener, so the
 * listener has to notice the bad byte itself.
 */
async function corruptingProxy (port: number, at: number): Promise<number> {
  const server = createServer(client => {
    const upstream = connect(port, '127.0.0.1')
    let seen = 0
    client.on('data', (chunk: Buffer) => {
      if (seen <= at && at < seen + chunk.byteLength) chunk[at - seen] = (chunk[at - seen] ?? 0) ^ 0x01
      seen += chunk.byteLength
      upstream.write(chunk)
    })
    upstream.pipe(client)
    upstream.on('error', () => client.destroy())
    upstream.on('close', () => client.destroy())
    client.on('error', () => {})
    proxied.push(upstream)
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** Counts the muxer negotiations by multistream-select of `node` (libp2p's upgrader, internal methods). */
function countMuxerNegotiations (node: Libp2p): () => number {
  const upgrader = (node as unknown as { components: { upgrader: Record<string, (...args: unknown[]) => unknown> } }).components.upgrader
  let count = 0
  for (const name of ['_multiplexInbound', '_multiplexOutbound']) {
    const original = upgrader[name]
    expect(typeof original).toBe('function')
    upgrader[name] = (...args: unknown[]) => { count++; return original!.apply(upgrader, args) }
  }
  return () => count
}

/** A libp2p node on 127.0.0.1 with the given encrypter(s), in order of preference, and an echo protocol. */
async function start (encrypters: unknown): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: (Array.isArray(encrypters) ? encrypters : [encrypters]) as Array<(components: unknown) => ConnectionEncrypter>,
    streamMuxers: [yamux()]
  })
  started.push(node)
  // Echoes every byte back, then closes its side.
  // Reads everything and never writes, so a bad byte can only be noticed by reading it.
  await node.handle(SINK, async (stream: Stream) => {
    const got: Buffer[] = []
    try {
      for await (const chunk of stream) got.push(Buffer.from(chunk.subarray()))
    } catch {
      // a stream that fails ends here too: what it delivered until then is what counts
    } finally {
      sunk.push(Buffer.concat(got))
    }
  })
  await node.handle(ECHO, async (stream: Stream) => {
    for await (const chunk of stream) {
      if (!stream.send(chunk.subarray())) await drained(stream)
    }
    await stream.close()
  })
  return node
}

/** Sends `data` over an echo stream from `a` to `b` and returns what came back. */
async function roundTrip (a: Libp2p, b: Libp2p, data: Uint8Array, via = b.getMultiaddrs()[0]!): Promise<Buffer> {
  const stream = await a.dialProtocol(via, ECHO)
  const back: Buffer[] = []
  const reading = (async () => { for await (const chunk of stream) back.push(Buffer.from(chunk.subarray())) })()
  // Uneven writes, so noise messages straddle socket reads and sends of every size occur (1 byte .. 1 MiB).
  for (let off = 0, step = 1; off < data.byteLength; off += step, step = Math.min(step * 7 + 3, 1 << 20)) {
    if (!stream.send(data.subarray(off, off + step))) await drained(stream)
  }
  await stream.close()
  await reading
  return Buffer.concat(back)
}

/** Resolves when `stream` can take more, or has closed (a closed stream never drains). */
async function drained (stream: Stream): Promise<void> {
  if (stream.status !== 'open') throw new Error(`stream ${stream.status}`)
  await new Promise(resolve => {
    stream.addEventListener('drain', resolve, { once: true })
    stream.addEventListener('close', resolve, { once: true })
  })
}

const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/**
 * 16 KiB sent from `a` to a reading-only protocol on `b` through a proxy that flips one bit soon after the
 * handshakes: the listener drops the connection on its own within a second (the proxy passes no end from the
 * dialer; the listener writes nothing, not even a window update, at this size), having delivered only bytes that
 * were sent; then the dialer drops it too.
 */
async function expectCorruptionRefused (a: Libp2p, b: Libp2p): Promise<void> {
  const port = Number(b.getMultiaddrs()[0]!.toString().split('/')[4])
  const proxied = multiaddr(`/ip4/127.0.0.1/tcp/${await corruptingProxy(port, 6000)}/p2p/${b.peerId.toString()}`)
  const data = randomBytes(16 * 1024)
  sunk.length = 0
  const stream = await a.dialProtocol(proxied, SINK)
  try {
    for (let off = 0; off < data.byteLength; off += 1024) {
      if (!stream.send(data.subarray(off, off + 1024))) await drained(stream)
    }
  } catch {
    // the connection may be gone before everything is queued
  }
  await waitUntil('the listener dropped the connection', () => b.getConnections(a.peerId).length === 0, { timeoutMs: 1000 })
  await waitUntil('the listener\'s stream ended', () => sunk.length === 1, { timeoutMs: 1000 })
  const got = sunk[0] as Buffer
  expect(got.byteLength).toBeLessThan(data.byteLength)
  expect(digest(got)).toBe(digest(data.subarray(0, got.byteLength)))
  await waitUntil('the dialer dropped the connection', () => a.getConnections(b.peerId).length === 0, { timeoutMs: 1000 })
}

describe('doptNoise', () => {
  it('carries data both ways between two dopt nodes', async () => {
    const [a, b] = [await start(doptNoise()), await start(doptNoise())]
    const data = randomBytes(3 * (1 << 20) + 12345)
    expect(digest(await roundTrip(a, b, data))).toBe(digest(data))
  })

  it('speaks the noise wire format: a dopt node and a stock libp2p noise node understand each other, both ways', async () => {
    const dopt = await start(doptNoise())
    const stock = await start(noise())
    const data = randomBytes(2 * (1 << 20) + 777)
    expect(digest(await roundTrip(dopt, stock, data))).toBe(digest(data))
    expect(digest(await roundTrip(stock, dopt, data))).toBe(digest(data))
    const [conn] = dopt.getConnections(stock.peerId)
    expect(conn?.encryption).toBe('/noise')
  })

  it('drops the connection when a byte is changed on the wire, and delivers nothing of the bad message', async () => {
    await expectCorruptionRefused(await start(doptNoise()), await start(doptNoise()))
  })
})

describe('doptTls (node:tls on the native socket)', () => {
  it('carries data both ways between two dopt nodes, over /tls/1.0.0', async () => {
    const [a, b] = [await start([doptTls(), doptNoise()]), await start([doptTls(), doptNoise()])]
    const data = randomBytes(3 * (1 << 20) + 12345)
    expect(digest(await roundTrip(a, b, data))).toBe(digest(data))
    expect(digest(await roundTrip(b, a, data))).toBe(digest(data))
    expect(a.getConnections(b.peerId)[0]?.encryption).toBe(TLS_PROTOCOL)
  })

  it('speaks the libp2p TLS handshake: dopt and stock @libp2p/tls nodes verify each other, as client and as server', async () => {
    const dopt = await start(doptTls())
    const [server, client] = [await start(tls()), await start(tls())]
    const data = randomBytes(2 * (1 << 20) + 777)
    expect(digest(await roundTrip(dopt, server, data))).toBe(digest(data))
    expect(digest(await roundTrip(client, dopt, data))).toBe(digest(data))
    expect(dopt.getConnections(server.peerId)[0]?.encryption).toBe(TLS_PROTOCOL)
    expect(dopt.getConnections(client.peerId)[0]?.encryption).toBe(TLS_PROTOCOL)
  })

  it('closes a connection the orderly way: what was sent before the close arrives, and the close is not an abort', async () => {
    const [a, b] = [await start([doptTls(), doptNoise()]), await start([doptTls(), doptNoise()])]
    const data = randomBytes(1 << 20)
    sunk.length = 0
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, SINK)
    const conn = a.getConnections(b.peerId)[0]!
    const closes: Array<Error | undefined> = []
    conn.addEventListener('close', (evt) => { closes.push((evt as unknown as { error?: Error }).error) })
    for (let off = 0; off < data.byteLength; off += 65536) {
      if (!stream.send(data.subarray(off, off + 65536))) await drained(stream)
    }
    await stream.close()
    await conn.close()
    expect(conn.status).toBe('closed')
    expect(closes).toEqual([undefined])
    await waitUntil('the listener\'s stream ended', () => sunk.length === 1, { timeoutMs: 2000 })
    expect(digest(sunk[0] as Buffer)).toBe(digest(data))
    await waitUntil('the listener saw the close', () => b.getConnections(a.peerId).length === 0, { timeoutMs: 2000 })
  })

  it('falls back to noise with a peer that has no TLS', async () => {
    const dopt = await start([doptTls(), doptNoise()])
    const stock = await start(noise())
    const data = randomBytes(1 << 20)
    expect(digest(await roundTrip(dopt, stock, data))).toBe(digest(data))
    expect(digest(await roundTrip(stock, dopt, data))).toBe(digest(data))
    expect(dopt.getConnections(stock.peerId)[0]?.encryption).toBe('/noise')
  })

  it('chooses the muxer in the handshake (ALPN), with dopt and stock @libp2p/tls peers alike: no multistream-select round for it', async () => {
    const nodes = [await start(doptTls()), await start(doptTls()), await start(tls())]
    const negotiations = nodes.map(countMuxerNegotiations)
    const [a, b, stock] = nodes as [Libp2p, Libp2p, Libp2p]
    const data = randomBytes(1 << 16)
    expect(digest(await roundTrip(a, b, data))).toBe(digest(data))
    expect(digest(await roundTrip(a, stock, data))).toBe(digest(data))
    expect(digest(await roundTrip(stock, b, data))).toBe(digest(data))
    expect(negotiations.map(n => n())).toEqual([0, 0, 0])
    expect(a.getConnections(b.peerId)[0]?.multiplexer).toBe('/yamux/1.0.0')
    expect(b.getConnections(stock.peerId)[0]?.multiplexer).toBe('/yamux/1.0.0')
  })

  it('takes the start of the handshake that came with the protocol choice (sent before the listener answered)', async () => {
    const listener = await start(doptTls())
    const port = Number(listener.getMultiaddrs()[0]!.toString().split('/')[4])
    const line = (text: string): Buffer => Buffer.concat([Buffer.of(text.length + 1), Buffer.from(`${text}\n`)])
    const select = Buffer.concat([line('/multistream/1.0.0'), line(TLS_PROTOCOL)])
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    // A TLS client over a duplex that sends its ClientHello in the same write as the protocol choice, and skips the
    // listener's two answer lines before handing bytes to TLS.
    let skip = select.byteLength
    let first = true
    const duplex = new Duplex({
      read () {},
      write (chunk: Buffer, _encoding, callback) {
        socket.write(first ? Buffer.concat([select, chunk]) : chunk, callback)
        first = false
      }
    })
    socket.on('data', (chunk: Buffer) => {
      const n = Math.min(skip, chunk.byteLength)
      skip -= n
      if (chunk.byteLength > n) duplex.push(chunk.subarray(n))
    })
    socket.on('close', () => duplex.destroy())
    const { cert, key } = await createCertificate(await generateKeyPair('Ed25519'))
    const client = tlsConnect({ socket: duplex, cert, key, rejectUnauthorized: false, ALPNProtocols: ['libp2p'], minVersion: 'TLSv1.3' })
    try {
      await once(client, 'secureConnect')
      // The listener took our certificate and goes on to choose a muxer inside TLS: it answers multistream-select.
      client.write(Buffer.concat([line('/multistream/1.0.0'), line('/yamux/1.0.0')]))
      let answer = Buffer.alloc(0)
      while (answer.byteLength < 33) answer = Buffer.concat([answer, (await once(client, 'data'))[0] as Buffer])
      expect(answer.toString('latin1')).toContain('/yamux/1.0.0')
    } finally {
      client.destroy()
      socket.destroy()
    }
  })

  it('refuses a listener that is not the peer dialled', async () => {
    const [a, b, c] = [await start(doptTls()), await start(doptTls()), await start(doptTls())]
    // b's address with c's peer ID: the TLS session is with b, whose certificate proves b.
    const wrong = multiaddr(`${b.getMultiaddrs()[0]!.toString().split('/p2p/')[0]}/p2p/${c.peerId.toString()}`)
    await expect(a.dialProtocol(wrong, ECHO)).rejects.toThrow()
    expect(a.getConnections()).toHaveLength(0)
  })

  it('drops the connection when a byte is changed on the wire, and delivers nothing of the bad record', async () => {
    await expectCorruptionRefused(await start(doptTls()), await start(doptTls()))
  })
})
