import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { collector, randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 1, retryDelay: 10, idleTimeout: 200 })
const body = randomBody(500_000)

describe('idle timeout', () => {
  it('gives up on a stalled body and resumes on a new connection', async () => {
    const serve = serveBytes(body)
    let stalled = false
    await withServer((req, res) => {
      if (!stalled) {
        stalled = true
        res.writeHead(200, { 'content-length': body.length, etag: '"v1"' })
        res.write(body.subarray(0, 123_456)) // and nothing more
        return
      }
      serve(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(requests).toHaveLength(2)
      expect(requests[1]?.headers.range).toMatch(/^bytes=\d+-$/)
    })
  })

  it('fails with ORIGIN_UNAVAILABLE when the origin never answers', async () => {
    await withServer(() => { /* stall */ }, async ({ url, requests }) => {
      const started = Date.now()
      const err = await client.head(url).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'general-transport' })
      expect(requests).toHaveLength(2)
      expect(Date.now() - started).toBeGreaterThanOrEqual(400)
    })
  })

  it('does not count time that onData holds the stream as idle', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      const sink = collector()
      let first = true
      await client.fetchRange(url, {
        start: 0,
        onData: async chunk => {
          sink.onData(chunk)
          if (first) {
            first = false
            await new Promise(resolve => setTimeout(resolve, 500))
          }
        }
      })
      expect(sink.bytes().equals(body)).toBe(true)
    })
  })
})
