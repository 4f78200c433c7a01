import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { NetTransport } from '../src/net-transport.js'
import { DefaultOriginClient } from '../src/origin-client.js'
import { collector } from './fixtures.js'
import { withRawServer } from './with-server.js'

/** What the server answers to `GET /<kind>/<n>`, and whether the client must get the body or an error. */
const KINDS = {
  length: { ok: true },
  chunked: { ok: true },
  'connection-close': { ok: true },
  'close-delimited': { ok: true },
  'bytes-after-body': { ok: true },
  'http-1.0': { ok: true },
  'cut-body': { ok: false },
  'bad-head': { ok: false },
  'oversized-head': { ok: false },
  'closed-without-answer': { ok: false }
} as const
type Kind = keyof typeof KINDS

function answer (socket: Socket, kind: Kind, body: Buffer): void {
  const writes: Buffer[] = []
  const head = (lines: string): Buffer => Buffer.from(lines + '\r\n', 'latin1')
  switch (kind) {
    case 'length': writes.push(head(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n`), body); break
    case 'chunked': {
      writes.push(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n'))
      for (let at = 0; at < body.length; at += 700) {
        const part = body.subarray(at, at + 700)
        writes.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n'))
      }
      writes.push(Buffer.from('0\r\n\r\n'))
      break
    }
    case 'connection-close': writes.push(head(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${body.length}\r\n`), body); break
    case 'close-delimited': writes.push(head('HTTP/1.1 200 OK\r\n'), body); break
    case 'bytes-after-body': writes.push(head(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n`), body, Buffer.from('HTTP/1.1 200 OK\r\n')); break
    case 'http-1.0': writes.push(head(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n`), body); break
    case 'cut-body': writes.push(head(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 10}\r\n`), body); break
    case 'bad-head': writes.push(head(`HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: ${body.length}\r\n`), body); break
    case 'oversized-head': writes.push(head(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(70_000)}\r\nContent-Length: ${body.length}\r\n`), body); break
    case 'closed-without-answer': break
  }
  const wire = Buffer.concat(writes)
  // Cut into a few writes at random points, so that heads and bodies straddle reads; stray bytes after a body come in
  // the same write as its end (arriving later, on a connection already sent another request, they would be read as
  // that answer's start: no HTTP/1.1 client can tell them apart).
  const cuts = [0, ...Array.from({ length: kind === 'bytes-after-body' ? 0 : 3 }, () => Math.floor(Math.random() * wire.length)).sort((a, b) => a - b), wire.length]
  for (let i = 1; i < cuts.length; i++) socket.write(wire.subarray(cuts[i - 1], cuts[i]))
  const closes = kind === 'connection-close' || kind === 'close-delimited' || kind === 'cut-body' || kind === 'http-1.0' ||
    kind === 'closed-without-answer' || kind === 'bad-head' || kind === 'oversized-head'
  if (closes) socket.end()
}

describe('keep-alive with a mix of good and bad answers (raw socket path)', () => {
  it('gives every good answer its exact body and every bad one a coded error, never reusing a spoilt connection', async () => {
    const client = new DefaultOriginClient({ retries: 0, idleTimeout: 2000 }, settings => {
      const transport = new NetTransport(settings)
      return { http: transport, https: transport }
    })
    const bodies = new Map<number, Buffer>()
    let connections = 0
    await withRawServer(socket => {
      connections++
      let pending = ''
      socket.on('data', (d: Buffer) => {
        pending += d.toString('latin1')
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const request = pending.slice(0, end)
          pending = pending.slice(end + 4)
          const [, kind, n] = /^GET \/([a-z0-9.-]+)\/(\d+) /.exec(request) ?? []
          answer(socket, kind as Kind, bodies.get(Number(n)) as Buffer)
        }
      })
    }, async ({ url }) => {
      const kinds = Object.keys(KINDS) as Kind[]
      let reused = 0
      for (let n = 0; n < 300; n++) {
        const kind = kinds[Math.floor(Math.random() * kinds.length)] as Kind
        const body = randomBytes(Math.floor(Math.random() * 5000))
        bodies.set(n, body)
        const before = connections
        const sink = collector()
        const result = await client.fetchRange(`${url}/${kind}/${n}`, { start: 0, onData: sink.onData }).then(() => null, (err: unknown) => err)
        if (KINDS[kind].ok) {
          expect(result, `${kind} #${n}`).toBeNull()
          expect(sink.bytes().equals(body), `${kind} #${n}`).toBe(true)
        } else {
          expect((result as { code?: string }).code, `${kind} #${n}`).toMatch(/^ORIGIN_(PROTOCOL|UNAVAILABLE)$/)
        }
        if (connections === before) reused++
      }
      // Answers that leave the connection clean (a length or chunked body, nothing after it) let it be reused.
      expect(reused).toBeGreaterThan(20)
    })
    client.close()
  })
})
