import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { collector, randomBody, serveBytes } from './fixtures.js'
import { withRawServer, withServer } from './with-server.js'

const client = createOriginClient({ retries: 1, retryDelay: 10 })
const MiB = 1 << 20

/** A static file server whose HEAD says `headSize` while its GETs serve (and size) the real body. */
function lyingHead (body: Buffer, headSize: number) {
  const serve = serveBytes(body)
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': headSize, 'accept-ranges': 'bytes', etag: '"v1"' }).end()
      return
    }
    serve(req, res)
  }
}

describe('sizes cross-checked', () => {
  it('fails a 206 whose Content-Range total is not the size in use, before any byte is delivered', async () => {
    const body = randomBody(3 * MiB)
    await withServer(lyingHead(body, 2 * MiB), async ({ url }) => {
      const info = await client.head(url)
      expect(info.size).toBe(2 * MiB)
      const sink = collector()
      const err = await client.fetchRange(url, { start: 0, end: MiB, size: info.size ?? undefined, onData: sink.onData })
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'SIZE_MISMATCH', context: 'remote-file', httpStatus: 206, expectedSize: 2 * MiB, actualSize: 3 * MiB })
      expect(sink.calls).toHaveLength(0)
    })
  })

  it('fails a HEAD that over-reports, on the first ranged GET', async () => {
    const body = randomBody(MiB)
    await withServer(lyingHead(body, MiB + 1000), async ({ url }) => {
      await expect(client.fetchRange(url, { start: MiB - 10, end: MiB + 1000, size: MiB + 1000, onData: () => {} }))
        .rejects.toMatchObject({ code: 'SIZE_MISMATCH', expectedSize: MiB + 1000, actualSize: MiB })
      // Asked past the real end: a 416 with the real size says the same.
      await expect(client.fetchRange(url, { start: MiB + 10, end: MiB + 1000, size: MiB + 1000, onData: () => {} }))
        .rejects.toMatchObject({ code: 'SIZE_MISMATCH', httpStatus: 416, actualSize: MiB })
    })
  })

  it('fails a 200 whose Content-Length is not the size in use (an origin that ignores ranges)', async () => {
    const body = randomBody(100_000)
    await withServer(serveBytes(body, { ranges: false }), async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, end: 50_000, size: 90_000, onData: () => {} }))
        .rejects.toMatchObject({ code: 'SIZE_MISMATCH', httpStatus: 200, expectedSize: 90_000, actualSize: 100_000 })
      const sink = collector()
      await client.fetchRange(url, { start: 0, end: 50_000, size: 100_000, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(0, 50_000))).toBe(true)
    })
  })

  it('reads a chunked 200 to its end when it should end with the file, and fails it when it goes on', async () => {
    const body = randomBody(20_000)
    const chunked = (req: IncomingMessage, res: ServerResponse): void => {
      res.writeHead(200, { 'transfer-encoding': 'chunked', etag: '"c"' })
      res.end(body)
    }
    await withServer(chunked, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, end: body.length, size: body.length, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      await expect(client.fetchRange(url, { start: 0, end: 15_000, size: 15_000, onData: () => {} }))
        .rejects.toMatchObject({ code: 'SIZE_MISMATCH', expectedSize: 15_000 })
      await expect(client.fetchRange(url, { start: 0, end: 25_000, size: 25_000, onData: () => {} }))
        .rejects.toMatchObject({ code: 'SIZE_MISMATCH', expectedSize: 25_000, actualSize: 20_000 })
    })
  })

  it('reports a changed file (other ETag and size) as CONTENT_CHANGED, not SIZE_MISMATCH', async () => {
    const body = randomBody(5000)
    await withServer(serveBytes(body, { etag: '"v2"' }), async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, end: 1000, size: 4000, validator: { etag: '"v1"', lastModified: null }, onData: () => {} }))
        .rejects.toMatchObject({ code: 'CONTENT_CHANGED' })
    })
  })

  it('fails a 206 whose Content-Length disagrees with its Content-Range', async () => {
    await withRawServer(socket => {
      socket.end('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nContent-Length: 5\r\n\r\nabcde')
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, end: 10, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', httpStatus: 206 })
    })
  })

  it('confirms a HEAD size of 0 with a ranged GET', async () => {
    const body = randomBody(70_000)
    await withServer(lyingHead(body, 0), async ({ url, requests }) => {
      expect(await client.head(url)).toMatchObject({ size: 70_000, acceptRanges: true })
      expect(requests.map(r => `${r.method ?? ''} ${r.headers.range ?? ''}`)).toEqual(['HEAD ', 'GET bytes=0-0'])
    })
    // A file that is really empty stays empty: the probe's 416 says `bytes */0`.
    await withServer(serveBytes(Buffer.alloc(0)), async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: 0 })
    })
  })

  it('refuses a size that is not an integer >= 0', async () => {
    await expect(client.fetchRange('http://127.0.0.1:1/x', { start: 0, size: -1, onData: () => {} }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
