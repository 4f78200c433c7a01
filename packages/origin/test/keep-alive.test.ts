import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NetTransport } from '../src/net-transport.js'
import { NodeHttpTransport } from '../src/node-http-transport.js'
import { DefaultOriginClient } from '../src/origin-client.js'
import type { OriginClientInit } from '../src/types.js'
import { collector, randomBody, serveBytes } from './fixtures.js'
import { withRawServer } from './with-server.js'

const body = randomBody(3 * 1024 * 1024 + 17)
const KiB = 1024

/** A server on 127.0.0.1 that counts the connections it accepts. */
async function counting (handler: RequestListener, fn: (url: string, connections: () => number) => Promise<void>, server: Server = createServer()): Promise<void> {
  let connections = 0
  server.on('connection', () => { connections++ })
  server.on('request', handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const scheme = 'setSecureContext' in server ? 'https' : 'http'
  try {
    await fn(`${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`, () => connections)
  } finally {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
}

/** Ranged GETs of `body` in `parts` consecutive ranges, checked. */
async function fetchInParts (client: DefaultOriginClient, url: string, parts: number): Promise<void> {
  const step = Math.ceil(body.length / parts)
  for (let start = 0; start < body.length; start += step) {
    const end = Math.min(body.length, start + step)
    const sink = collector()
    await client.fetchRange(url, { start, end, size: body.length, onData: sink.onData })
    expect(sink.bytes().equals(body.subarray(start, end))).toBe(true)
  }
}

function rawClient (init: OriginClientInit = {}): { client: DefaultOriginClient, transport: NetTransport } {
  let transport!: NetTransport
  const client = new DefaultOriginClient({ retries: 0, ...init }, settings => {
    transport = new NetTransport(settings)
    return { http: transport, https: transport }
  })
  return { client, transport }
}

describe('keep-alive (raw socket path)', () => {
  it('sends a HEAD and the ranged GETs of a file, and of other files of the origin, over one connection', async () => {
    const { client, transport } = rawClient()
    await counting(serveBytes(body), async (url, connections) => {
      expect((await client.head(url)).size).toBe(body.length)
      await fetchInParts(client, url, 6)
      await fetchInParts(client, url.replace('f.bin', 'g.bin'), 3)
      expect(connections()).toBe(1)
      expect(transport.idleConnections).toBe(1)
    })
    client.close()
    expect(transport.idleConnections).toBe(0)
  })

  it('works with a server that closes after each response, saying so or not', async () => {
    // Connection: close on every response: never reused.
    const { client } = rawClient()
    const serve = serveBytes(body)
    await counting((req, res) => { res.setHeader('connection', 'close'); serve(req, res) }, async (url, connections) => {
      await fetchInParts(client, url, 4)
      expect(connections()).toBe(4)
    })
    // Closing silently once each response is out: the next request finds the connection closed and is sent again
    // on a new one, once, without using a retry (this client has none).
    let n = 0
    await withRawServer(socket => {
      n++
      socket.once('data', () => {
        socket.end('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2/10\r\nContent-Length: 3\r\n\r\nabc')
      })
    }, async ({ url }) => {
      for (let i = 0; i < 4; i++) {
        const sink = collector()
        await client.fetchRange(url, { start: 0, end: 3, onData: sink.onData })
        expect(sink.bytes().toString()).toBe('abc')
        // Let the close reach the pool, sometimes.
        if (i % 2 === 0) await new Promise(resolve => setTimeout(resolve, 20))
      }
      expect(n).toBe(4)
    })
    client.close()
  })

  it('sends a request again on a new connection when a kept-alive one dies before answering, without a retry', async () => {
    const { client } = rawClient({ retries: 0 })
    let connections = 0
    await withRawServer(socket => {
      connections++
      let requests = 0
      socket.on('data', () => {
        // The first request on each connection is answered and the connection kept; the second is never answered.
        if (++requests === 1) socket.write('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2/10\r\nContent-Length: 3\r\n\r\nabc')
        else socket.destroy()
      })
    }, async ({ url }) => {
      for (let i = 0; i < 3; i++) {
        const sink = collector()
        await client.fetchRange(url, { start: 0, end: 3, onData: sink.onData })
        expect(sink.bytes().toString()).toBe('abc')
      }
      // 1, then 2 and 3 each after their kept-alive connection died: a new one per request.
      expect(connections).toBe(3)
    })
    // A connection that dies before answering its first request is the origin's failure: no second try.
    await withRawServer(socket => { socket.on('data', () => { socket.destroy() }) }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, end: 3, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE' })
    })
    client.close()
  })

  it('drops a connection idle longer than keepAliveTimeout, or than the server\'s Keep-Alive timeout', async () => {
    const { client, transport } = rawClient({ keepAliveTimeout: 100 })
    await counting(serveBytes(body), async (url, connections) => {
      await client.head(url)
      expect(transport.idleConnections).toBe(1)
      await new Promise(resolve => setTimeout(resolve, 250))
      expect(transport.idleConnections).toBe(0)
      await client.head(url)
      expect(connections()).toBe(2)
    })
    // `Keep-Alive: timeout=1` leaves nothing to reuse (a second less than the server's, so it is not closing as we write).
    const serve = serveBytes(body)
    const { client: other, transport: otherTransport } = rawClient()
    await counting((req, res) => { res.setHeader('keep-alive', 'timeout=1'); serve(req, res) }, async (url, connections) => {
      await other.head(url)
      await other.head(url)
      expect(connections()).toBe(2)
      expect(otherTransport.idleConnections).toBe(0)
    })
    client.close()
  })

  it('does not reuse a connection after a body it left unread, a close-delimited body, or bytes after the body', async () => {
    const { client, transport } = rawClient()
    // Ranges ignored: a 200 with the whole file, of which only the start was wanted.
    await counting(serveBytes(body, { ranges: false }), async (url, connections) => {
      await client.fetchRange(url, { start: 0, end: 1000, onData: () => {} })
      await client.fetchRange(url, { start: 0, end: 1000, onData: () => {} })
      expect(connections()).toBe(2)
    })
    for (const wire of ['HTTP/1.1 200 OK\r\n\r\nabc', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA', 'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc']) {
      let n = 0
      await withRawServer(socket => {
        n++
        socket.on('data', () => { if (wire.includes('Length')) socket.write(wire); else socket.end(wire) })
      }, async ({ url }) => {
        for (let i = 0; i < 2; i++) {
          const sink = collector()
          await client.fetchRange(url, { start: 0, onData: sink.onData })
          expect(sink.bytes().toString()).toBe('abc')
        }
        expect(n).toBe(2)
      })
    }
    expect(transport.idleConnections).toBe(0)
  })

  it('reuses a connection after a chunked body whose end came with its last data', async () => {
    const { client } = rawClient()
    await counting((_req, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' })
      res.end(body.subarray(0, 100 * KiB))
    }, async (url, connections) => {
      for (let i = 0; i < 3; i++) {
        const sink = collector()
        await client.fetchRange(url, { start: 0, end: 100 * KiB, onData: sink.onData })
        expect(sink.bytes().equals(body.subarray(0, 100 * KiB))).toBe(true)
      }
      expect(connections()).toBe(1)
    })
    client.close()
  })

  it('opens a connection per request with keepAliveTimeout 0', async () => {
    const { client } = rawClient({ keepAliveTimeout: 0 })
    await counting(serveBytes(body), async (url, connections) => {
      await fetchInParts(client, url, 3)
      expect(connections()).toBe(3)
    })
  })
})

describe('keep-alive (https:)', () => {
  let dir: string
  let tls: { key: Buffer, cert: Buffer }
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dopt-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    tls = { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it.each(['raw TLS socket', 'node:https'])('sends the ranged GETs of a file over one TLS connection, and drops it when the server closes (%s)', async (kind) => {
    const client = new DefaultOriginClient({ retries: 0 }, settings => {
      const transport = kind === 'node:https' ? new NodeHttpTransport(settings, { ca: tls.cert }) : new NetTransport(settings, { ca: tls.cert })
      return { http: transport, https: transport }
    })
    let handshakes = 0
    const server = createHttpsServer(tls)
    server.on('secureConnection', () => { handshakes++ })
    await counting(serveBytes(body), async url => {
      expect(url.startsWith('https:')).toBe(true)
      await client.head(url)
      await fetchInParts(client, url, 5)
      expect(handshakes).toBe(1)
      // The server drops its idle connections: the client notices and opens a new one.
      server.closeIdleConnections()
      await new Promise(resolve => setTimeout(resolve, 50))
      await fetchInParts(client, url, 2)
      expect(handshakes).toBe(2)
    }, server)
    client.close()
  })

  it('keeps every byte, in order, when the sink holds the stream over TLS (several records come per TCP read)', async () => {
    const client = new DefaultOriginClient({ retries: 0 }, settings => {
      const transport = new NetTransport(settings, { ca: tls.cert })
      return { http: transport, https: transport }
    })
    await counting(serveBytes(body), async url => {
      const parts: Buffer[] = []
      let calls = 0
      await client.fetchRange(url, {
        start: 0,
        size: body.length,
        onData: async chunk => {
          // Every third chunk pauses the stream for a moment, as a sink out of piece buffers does, and reads the
          // chunk only then: it must stay intact until the returned promise settles.
          if (++calls % 3 === 0) await new Promise(resolve => setTimeout(resolve, 1))
          parts.push(Buffer.from(chunk))
        }
      })
      expect(Buffer.concat(parts).equals(body)).toBe(true)
    }, createHttpsServer(tls))
    client.close()
  })

  it('refuses a certificate it cannot verify (raw TLS socket), as ORIGIN_UNAVAILABLE', async () => {
    const client = new DefaultOriginClient({ retries: 0 }, settings => {
      const transport = new NetTransport(settings)
      return { http: transport, https: transport }
    })
    await counting(serveBytes(body), async url => {
      await expect(client.head(url)).rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', message: expect.stringMatching(/certificate/) as string })
    }, createHttpsServer(tls))
  })
})
