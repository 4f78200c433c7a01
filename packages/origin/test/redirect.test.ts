import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { collector, randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 1, retryDelay: 10, maxRedirects: 3 })
const body = randomBody(200_000)

describe('redirects', () => {
  it('follows a relative Location', async () => {
    const serve = serveBytes(body)
    await withServer((req, res) => {
      if (req.url === '/old/file') res.writeHead(301, { location: '../new/file?x=1' }).end()
      else if (req.url === '/new/file?x=1') serve(req, res)
      else res.writeHead(404).end()
    }, async ({ url }) => {
      const sink = collector()
      const info = await client.fetchRange(`${url}/old/file`, { start: 10, end: 1000, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(10, 1000))).toBe(true)
      expect(info.url).toBe(`${url}/new/file?x=1`)
      expect((await client.head(`${url}/old/file`)).url).toBe(`${url}/new/file?x=1`)
    })
  })

  it('follows absolute Locations to another origin, keeping Range and If-Range', async () => {
    await withServer(serveBytes(body), async ({ url: target, requests }) => {
      let status = 301
      await withServer((_req, res) => {
        res.writeHead(status, { location: `${target}/file` }).end()
      }, async ({ url }) => {
        for (status of [301, 302, 303, 307, 308]) {
          const sink = collector()
          await client.fetchRange(url, {
            start: 5, end: 50, validator: { etag: '"v1"', lastModified: null }, onData: sink.onData
          })
          expect(sink.bytes().equals(body.subarray(5, 50))).toBe(true)
        }
        expect(requests.map(r => [r.headers.range, r.headers['if-range']])).toEqual(Array(5).fill(['bytes=5-49', '"v1"']))
      })
    })
  })

  it('fails with ORIGIN_PROTOCOL after too many redirects', async () => {
    let hops = 0
    await withServer((_req, res) => {
      hops++
      res.writeHead(302, { location: `/hop${hops}` }).end()
    }, async ({ url, requests }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', httpStatus: 302 })
      // The first request and maxRedirects (3) hops.
      expect(requests).toHaveLength(4)
    })
  })

  it('fails with ORIGIN_PROTOCOL on a redirect without Location', async () => {
    await withServer((_req, res) => { res.writeHead(302).end() }, async ({ url }) => {
      await expect(client.head(url)).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })
})
