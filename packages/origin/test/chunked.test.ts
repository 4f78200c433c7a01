import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { dribble } from './dribble.js'
import { collector, randomBody } from './fixtures.js'
import { withRawServer, withServer } from './with-server.js'

const client = createOriginClient({ retries: 2, retryDelay: 10 })
const body = randomBody(1024 * 1024 + 333)

/** node:http sends chunked encoding when no Content-Length is set and the body is written in parts. */
function chunkedHandler (etag = '"c"') {
  return (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(200, { etag })
    for (let i = 0; i < body.length; i += 70_001) res.write(body.subarray(i, i + 70_001))
    res.end()
  }
}

describe('chunked bodies', () => {
  it('decodes a chunked body', async () => {
    await withServer(chunkedHandler(), async ({ url }) => {
      const sink = collector()
      const info = await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(info.size).toBeNull()
    })
  })

  it('skips into a chunked 200 that ignores the range', async () => {
    await withServer(chunkedHandler(), async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 100_000, end: 900_000, validator: { etag: '"c"', lastModified: null }, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(100_000, 900_000))).toBe(true)
    })
  })

  it('fails with ORIGIN_PROTOCOL when a chunked body ends before end', async () => {
    await withServer(chunkedHandler(), async ({ url }) => {
      await expect(client.fetchRange(url, { start: 10, end: body.length + 10, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('decodes sizes, extensions and trailers split across reads', async () => {
    const chunks = ['Hello, ', 'chunked ', 'w', 'orld!'.repeat(20)]
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      chunks.map((c, i) => `${c.length.toString(16).toUpperCase()}${i === 1 ? ';ext=1' : ''}\r\n${c}\r\n`).join('') +
      '0\r\nX-Trailer: yes\r\n\r\n'
    for (const size of [1, 3, 7]) {
      await withRawServer(socket => { void dribble(socket, wire, size) }, async ({ url }) => {
        const sink = collector()
        await client.fetchRange(url, { start: 0, onData: sink.onData })
        expect(sink.bytes().toString()).toBe(chunks.join(''))
      })
    }
  })

  it('retries a chunked body cut before its last chunk, resuming exactly', async () => {
    let calls = 0
    await withServer((req, res) => {
      if (++calls === 1) {
        res.writeHead(200, { etag: '"c"' })
        res.write(body.subarray(0, 400_000), () => res.socket?.destroy())
        return
      }
      chunkedHandler()(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(requests[1]?.headers.range).toMatch(/^bytes=\d+-$/)
    })
  })

  it('fails with ORIGIN_PROTOCOL on a bad chunk size', async () => {
    await withRawServer(socket => {
      socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })
})
