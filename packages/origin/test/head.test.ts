import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { ETAG, LAST_MODIFIED, randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 2, retryDelay: 10 })

describe('head', () => {
  it('reports size, validators and range support from HEAD', async () => {
    const body = randomBody(1234)
    await withServer(serveBytes(body), async ({ url, requests }) => {
      const info = await client.head(`${url}/file`)
      expect(info).toEqual({ url: `${url}/file`, size: 1234, etag: ETAG, lastModified: LAST_MODIFIED, acceptRanges: true })
      expect(requests.map(r => r.method)).toEqual(['HEAD'])
    })
  })

  it('keeps weak ETags verbatim and reports no range support without Accept-Ranges: bytes', async () => {
    await withServer(serveBytes(randomBody(10), { etag: 'W/"weak"', lastModified: null, ranges: false }), async ({ url }) => {
      const info = await client.head(url)
      expect(info).toMatchObject({ size: 10, etag: 'W/"weak"', lastModified: null, acceptRanges: false })
    })
  })

  it('reports acceptRanges false for Accept-Ranges: none', async () => {
    await withServer((req, res) => {
      res.writeHead(200, { 'content-length': '5', 'accept-ranges': 'none' }).end(req.method === 'HEAD' ? undefined : 'hello')
    }, async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: 5, etag: null, acceptRanges: false })
    })
  })

  for (const status of [405, 501, 403]) {
    it(`falls back to a 1-byte ranged GET when HEAD gets ${status}`, async () => {
      const serve = serveBytes(randomBody(5000))
      await withServer((req, res) => {
        if (req.method === 'HEAD') res.writeHead(status).end()
        else serve(req, res)
      }, async ({ url, requests }) => {
        const info = await client.head(url)
        expect(info).toMatchObject({ size: 5000, etag: ETAG, acceptRanges: true })
        expect(requests.map(r => [r.method, r.headers.range])).toEqual([['HEAD', undefined], ['GET', 'bytes=0-0']])
      })
    })
  }

  it('fails with 403 when the ranged GET after a HEAD 403 is refused too', async () => {
    await withServer((_req, res) => { res.writeHead(403).end() }, async ({ url, requests }) => {
      await expect(client.head(url)).rejects.toMatchObject({ code: 'HTTP_STATUS', httpStatus: 403 })
      expect(requests.map(r => r.method)).toEqual(['HEAD', 'GET'])
    })
  })

  it('falls back to a ranged GET when HEAD gives no size', async () => {
    await withServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'transfer-encoding': 'chunked' }).end()
      } else {
        res.writeHead(206, { 'content-range': 'bytes 0-0/777', 'content-length': '1' }).end('x')
      }
    }, async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: 777, acceptRanges: true })
    })
  })

  it('reports size null when HEAD gives none and the fallback GET is refused', async () => {
    await withServer((req, res) => {
      if (req.method === 'HEAD') res.writeHead(200, { etag: '"h"', 'transfer-encoding': 'chunked' }).end()
      else res.writeHead(403).end()
    }, async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: null, etag: '"h"' })
    })
  })

  it('reads the size from Content-Length when the fallback GET ignores the range', async () => {
    const body = randomBody(100_000)
    await withServer((req, res) => {
      if (req.method === 'HEAD') res.writeHead(405).end()
      else res.writeHead(200, { 'content-length': body.length }).end(body)
    }, async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: 100_000, acceptRanges: false })
    })
  })

  it('reports size 0 for an empty file whose fallback GET gets 416', async () => {
    await withServer((req, res) => {
      if (req.method === 'HEAD') res.writeHead(405).end()
      else res.writeHead(416, { 'content-range': 'bytes */0' }).end()
    }, async ({ url }) => {
      expect(await client.head(url)).toMatchObject({ size: 0 })
    })
  })

  it('retries HEAD on 503 and fails with HTTP_STATUS on 404', async () => {
    let calls = 0
    await withServer((req, res) => {
      calls++
      if (req.url === '/missing') res.writeHead(404).end()
      else if (calls < 3) res.writeHead(503).end()
      else res.writeHead(200, { 'content-length': '3' }).end()
    }, async ({ url }) => {
      expect(await client.head(`${url}/ok`)).toMatchObject({ size: 3 })
      calls = 0
      await expect(client.head(`${url}/missing`)).rejects.toMatchObject({ code: 'HTTP_STATUS', httpStatus: 404 })
      expect(calls).toBe(1)
    })
  })

  it('rejects URLs that are not http(s)', async () => {
    await expect(client.head('ftp://127.0.0.1/x')).rejects.toMatchObject({ code: 'INVALID_URL' })
    await expect(client.head('not a url')).rejects.toMatchObject({ code: 'INVALID_URL' })
  })
})
