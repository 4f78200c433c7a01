import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { dribble } from './dribble.js'
import { collector, randomBody } from './fixtures.js'
import { withRawServer } from './with-server.js'

const client = createOriginClient({ retries: 1, retryDelay: 10 })

describe('response framing (raw socket path)', () => {
  it('parses a head split across many reads, with the body starting mid-read', async () => {
    const payload = randomBody(5000)
    const wire = Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nETag: "s"\r\nX-Long: ' + 'a'.repeat(200) + '\r\n\r\n'),
      payload
    ])
    for (const size of [1, 5, 1000]) {
      await withRawServer(socket => { void dribble(socket, wire.subarray(0, 300), size).then(() => socket.end(wire.subarray(300))) }, async ({ url }) => {
        const sink = collector()
        const info = await client.fetchRange(url, { start: 0, onData: sink.onData })
        expect(sink.bytes().equals(payload)).toBe(true)
        expect(info.etag).toBe('"s"')
      })
    }
  })

  it('skips a 103 Early Hints interim response', async () => {
    await withRawServer(socket => {
      socket.end('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc')
    }, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().toString()).toBe('abc')
    })
  })

  it('reads a body without length until the connection closes', async () => {
    const payload = randomBody(300_000)
    await withRawServer(socket => {
      socket.write('HTTP/1.0 200 OK\r\n\r\n')
      socket.end(payload)
    }, async ({ url }) => {
      const sink = collector()
      const info = await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(payload)).toBe(true)
      expect(info.size).toBeNull()
    })
  })

  it('ignores bytes after Content-Length', async () => {
    await withRawServer(socket => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcGARBAGE')
    }, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().toString()).toBe('abc')
    })
  })

  it('treats a connection closed inside the head as a transport failure', async () => {
    await withRawServer(socket => { socket.end('HTTP/1.1 200 OK\r\nContent-Le') }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'general-transport' })
    })
  })

  it('fails with ORIGIN_PROTOCOL on conflicting Content-Length values', async () => {
    await withRawServer(socket => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd')
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('sends a well-formed request', async () => {
    let request = ''
    await withRawServer(socket => {
      socket.on('data', (d: Buffer) => {
        request += d.toString('latin1')
        if (request.includes('\r\n\r\n')) socket.end('HTTP/1.1 206 Partial\r\nContent-Range: bytes 7-8/9\r\nContent-Length: 2\r\n\r\nhi')
      })
    }, async ({ url }) => {
      const custom = createOriginClient({ userAgent: 'test/1' })
      await custom.fetchRange(`${url.replace('//', '//user:p%40ss@')}/a%20b?q=1#frag`, {
        start: 7, end: 9, validator: { etag: '"e"', lastModified: null }, onData: () => {}
      })
      const lines = request.split('\r\n')
      expect(lines[0]).toBe('GET /a%20b?q=1 HTTP/1.1')
      expect(lines).toContain(`Host: ${new URL(url).host}`)
      expect(lines).toContain('User-Agent: test/1')
      expect(lines).toContain('range: bytes=7-8')
      expect(lines).toContain('if-range: "e"')
      expect(lines).toContain(`Authorization: Basic ${Buffer.from('user:p@ss').toString('base64')}`)
    })
  })
})
