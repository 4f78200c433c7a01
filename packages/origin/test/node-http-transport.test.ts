import { describe, expect, it } from 'vitest'
import { NodeHttpTransport } from '../src/node-http-transport.js'
import { DefaultOriginClient } from '../src/origin-client.js'
import { collector, ETAG, randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

// https: goes through node:https; the same code drives node:http, so these run it against a plain local server.
const client = new DefaultOriginClient({ retries: 2, retryDelay: 10, idleTimeout: 200 }, settings => {
  const transport = new NodeHttpTransport(settings)
  return { http: transport, https: transport }
})
const body = randomBody(2 * 1024 * 1024 + 7)

describe('node:http transport (the https: path)', () => {
  it('heads and fetches ranges', async () => {
    await withServer(serveBytes(body), async ({ url, requests }) => {
      expect(await client.head(url)).toMatchObject({ size: body.length, etag: ETAG, acceptRanges: true })
      const sink = collector()
      await client.fetchRange(url, { start: 10, end: 1_500_000, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(10, 1_500_000))).toBe(true)
      expect(requests[1]?.headers.range).toBe('bytes=10-1499999')
    })
  })

  it('resumes a truncated body exactly', async () => {
    const serve = serveBytes(body)
    let cut = false
    await withServer((req, res) => {
      if (!cut) {
        cut = true
        res.writeHead(200, { 'content-length': body.length, etag: ETAG })
        res.write(body.subarray(0, 600_000), () => res.socket?.destroy())
        return
      }
      serve(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(requests).toHaveLength(2)
    })
  })

  it('decodes chunked bodies and skips into a 200 that ignores ranges', async () => {
    await withServer((_req, res) => {
      res.writeHead(200, { etag: ETAG })
      for (let i = 0; i < body.length; i += 100_000) res.write(body.subarray(i, i + 100_000))
      res.end()
    }, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 5, end: 1_000_005, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(5, 1_000_005))).toBe(true)
    })
  })

  it('maps statuses to errors', async () => {
    let status = 404
    await withServer((_req, res) => { res.writeHead(status).end() }, async ({ url, requests }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'HTTP_STATUS', httpStatus: 404 })
      status = 503
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', httpStatus: 503 })
      expect(requests).toHaveLength(4)
    })
  })

  it('times out a stalled body, applies backpressure and aborts', async () => {
    await withServer((_req, res) => {
      res.writeHead(200, { 'content-length': 10_000_000 })
      res.write(randomBody(1000))
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'general-transport' })
      const controller = new AbortController()
      await expect(client.fetchRange(url, { start: 0, signal: controller.signal, onData: () => { controller.abort() } }))
        .rejects.toMatchObject({ code: 'ABORTED' })
    })
    await withServer(serveBytes(body), async ({ url }) => {
      const parts: Buffer[] = []
      let active = 0
      await client.fetchRange(url, {
        start: 0,
        onData: async chunk => {
          expect(++active).toBe(1)
          await new Promise(resolve => setTimeout(resolve, 1))
          parts.push(Buffer.from(chunk))
          active--
        }
      })
      expect(Buffer.concat(parts).equals(body)).toBe(true)
    })
  })
})
