import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { collector, ETAG, LAST_MODIFIED, randomBody, rangesOf, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 2, retryDelay: 10 })
const body = randomBody(3 * 1024 * 1024 + 17)

describe('fetchRange', () => {
  it('fetches a whole file without a Range header', async () => {
    await withServer(serveBytes(body), async ({ url, requests }) => {
      const sink = collector()
      const info = await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(info).toEqual({ url: `${url}/`, size: body.length, etag: ETAG, lastModified: LAST_MODIFIED, acceptRanges: true })
      expect(rangesOf(requests)).toEqual([undefined])
    })
  })

  it('fetches [start, end) with Range and If-Range', async () => {
    await withServer(serveBytes(body), async ({ url, requests }) => {
      const sink = collector()
      const info = await client.fetchRange(url, {
        start: 1000, end: 2_000_000, validator: { etag: ETAG, lastModified: LAST_MODIFIED }, onData: sink.onData
      })
      expect(sink.bytes().equals(body.subarray(1000, 2_000_000))).toBe(true)
      expect(info).toMatchObject({ size: body.length, acceptRanges: true })
      expect(requests[0]?.headers.range).toBe('bytes=1000-1999999')
      expect(requests[0]?.headers['if-range']).toBe(ETAG)
    })
  })

  it('fetches from start to the end of the file', async () => {
    await withServer(serveBytes(body), async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 5, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(5))).toBe(true)
      expect(rangesOf(requests)).toEqual(['bytes=5-'])
    })
  })

  it('sends a ranged request from 0 when end is set', async () => {
    await withServer(serveBytes(body), async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, end: 10, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(0, 10))).toBe(true)
      expect(rangesOf(requests)).toEqual(['bytes=0-9'])
    })
  })

  it('uses Last-Modified as If-Range for a weak ETag, and omits If-Range without validators', async () => {
    await withServer(serveBytes(body, { etag: 'W/"w"' }), async ({ url, requests }) => {
      await client.fetchRange(url, { start: 1, end: 2, validator: { etag: 'W/"w"', lastModified: LAST_MODIFIED }, onData: () => {} })
      await client.fetchRange(url, { start: 1, end: 2, validator: { etag: 'W/"w"', lastModified: null }, onData: () => {} })
      await client.fetchRange(url, { start: 1, end: 2, onData: () => {} })
      expect(requests.map(r => r.headers['if-range'])).toEqual([LAST_MODIFIED, undefined, undefined])
    })
  })

  it('skips the first bytes when the origin ignores ranges', async () => {
    await withServer(serveBytes(body, { ranges: false }), async ({ url, requests }) => {
      const sink = collector()
      const info = await client.fetchRange(url, {
        start: 300_000, end: 1_300_000, validator: { etag: ETAG, lastModified: LAST_MODIFIED }, onData: sink.onData
      })
      expect(sink.bytes().equals(body.subarray(300_000, 1_300_000))).toBe(true)
      expect(info).toMatchObject({ size: body.length, acceptRanges: false })
      expect(requests).toHaveLength(1)
    })
  })

  it('fails with CONTENT_CHANGED when If-Range no longer matches', async () => {
    await withServer(serveBytes(body, { etag: '"v2"', lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT' }), async ({ url, requests }) => {
      const sink = collector()
      const err = await client.fetchRange(url, {
        start: 10, end: 20, validator: { etag: ETAG, lastModified: LAST_MODIFIED }, onData: sink.onData
      }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'CONTENT_CHANGED', context: 'remote-file' })
      expect(sink.calls).toEqual([])
      expect(requests).toHaveLength(1)
    })
  })

  it('compares Last-Modified when there is no ETag', async () => {
    await withServer(serveBytes(body, { etag: null, lastModified: 'Tue, 02 Jan 2024 00:00:00 GMT' }), async ({ url }) => {
      await expect(client.fetchRange(url, {
        start: 10, validator: { etag: null, lastModified: LAST_MODIFIED }, onData: () => {}
      })).rejects.toMatchObject({ code: 'CONTENT_CHANGED' })
    })
  })

  it('resolves with nothing delivered for a 416 at the end of the file', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      const sink = collector()
      const info = await client.fetchRange(url, { start: body.length, onData: sink.onData })
      expect(sink.calls).toEqual([])
      expect(info.size).toBe(body.length)
    })
  })

  it('fails with ORIGIN_PROTOCOL when end is beyond the size', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      await expect(client.fetchRange(url, { start: 10, end: body.length + 1, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
    await withServer(serveBytes(body, { ranges: false }), async ({ url }) => {
      await expect(client.fetchRange(url, { start: 10, end: body.length + 1, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('fails with ORIGIN_PROTOCOL for a start beyond the size', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      await expect(client.fetchRange(url, { start: body.length + 5, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', httpStatus: 416 })
    })
  })

  it('fails with ORIGIN_PROTOCOL when a range with an end starts past the size', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      await expect(client.fetchRange(url, { start: body.length + 5, end: body.length + 10, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', httpStatus: 416 })
    })
  })

  it('fails with ORIGIN_PROTOCOL when Content-Range starts elsewhere', async () => {
    await withServer((_req, res) => {
      res.writeHead(206, { 'content-range': 'bytes 0-9/100', 'content-length': '10' }).end('0123456789')
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 5, end: 15, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('asks again for the rest when the origin sends a shorter part than asked', async () => {
    const small = randomBody(1000)
    await withServer((req, res) => {
      const start = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1])
      const end = Math.min(start + 300, small.length)
      res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${small.length}`, 'content-length': end - start })
      res.end(small.subarray(start, end))
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 100, end: 900, onData: sink.onData })
      expect(sink.bytes().equals(small.subarray(100, 900))).toBe(true)
      expect(rangesOf(requests)).toEqual(['bytes=100-899', 'bytes=400-899', 'bytes=700-899'])
    })
  })

  it('delivers only up to end when the origin sends more', async () => {
    await withServer((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 10-${body.length - 1}/${body.length}`, 'content-length': body.length - 10 })
      res.end(body.subarray(10))
    }, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 10, end: 20, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(10, 20))).toBe(true)
    })
  })

  it('rejects a bad range', async () => {
    await expect(client.fetchRange('http://127.0.0.1:1/', { start: -1, onData: () => {} }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(client.fetchRange('http://127.0.0.1:1/', { start: 10, end: 5, onData: () => {} }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
