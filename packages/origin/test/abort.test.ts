import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { randomBody } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 3, retryDelay: 10 })

describe('abort', () => {
  it('rejects with ABORTED promptly mid-body and drops the connection', async () => {
    let closed: Promise<void> = Promise.resolve()
    await withServer((_req, res) => {
      closed = new Promise(resolve => res.socket?.once('close', () => resolve()))
      res.writeHead(200, { 'content-length': 10_000_000 })
      res.write(randomBody(100_000)) // then stall
    }, async ({ url, requests }) => {
      const controller = new AbortController()
      const started = Date.now()
      const fetching = client.fetchRange(url, {
        start: 0, signal: controller.signal, onData: () => { controller.abort() }
      })
      await expect(fetching).rejects.toMatchObject({ code: 'ABORTED' })
      await closed
      expect(Date.now() - started).toBeLessThan(1000)
      expect(requests).toHaveLength(1)
    })
  })

  it('rejects at once for an aborted signal, without a request', async () => {
    await withServer((_req, res) => { res.end() }, async ({ url, requests }) => {
      await expect(client.fetchRange(url, { start: 0, signal: AbortSignal.abort(), onData: () => {} }))
        .rejects.toMatchObject({ code: 'ABORTED' })
      await expect(client.head(url, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORTED' })
      expect(requests).toHaveLength(0)
    })
  })

  it('aborts while waiting for the response head', async () => {
    await withServer(() => { /* never answers */ }, async ({ url }) => {
      await expect(client.head(url, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ code: 'ABORTED' })
    })
  })

  it('aborts during a retry backoff', async () => {
    const slow = createOriginClient({ retries: 5, retryDelay: 60_000 })
    await withServer((_req, res) => { res.writeHead(503).end() }, async ({ url, requests }) => {
      const started = Date.now()
      await expect(slow.fetchRange(url, { start: 0, signal: AbortSignal.timeout(150), onData: () => {} }))
        .rejects.toMatchObject({ code: 'ABORTED' })
      expect(Date.now() - started).toBeLessThan(2000)
      expect(requests).toHaveLength(1)
    })
  })

  it('aborts while onData holds the stream paused', async () => {
    await withServer((_req, res) => {
      res.writeHead(200, { 'content-length': 1_000_000 }).end(randomBody(1_000_000))
    }, async ({ url }) => {
      const controller = new AbortController()
      const fetching = client.fetchRange(url, {
        start: 0,
        signal: controller.signal,
        onData: async () => {
          setTimeout(() => { controller.abort() }, 20)
          await new Promise(resolve => setTimeout(resolve, 5000))
        }
      })
      const started = Date.now()
      await expect(fetching).rejects.toMatchObject({ code: 'ABORTED' })
      expect(Date.now() - started).toBeLessThan(1000)
    })
  })
})
