import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { collector, ETAG, randomBody, rangesOf, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'

const client = createOriginClient({ retries: 3, retryDelay: 10 })
const body = randomBody(2 * 1024 * 1024 + 5)

describe('retries', () => {
  it('resumes a truncated body from the next undelivered byte, with If-Range', async () => {
    const serve = serveBytes(body)
    let cuts = 0
    await withServer((req, res) => {
      // The first two responses break off part-way: headers promise the whole range, the socket dies.
      if (cuts < 2) {
        cuts++
        const start = Number(/^bytes=(\d+)-/.exec(req.headers.range ?? 'bytes=0-')?.[1])
        res.writeHead(start === 0 ? 200 : 206, {
          'content-length': body.length - start, etag: ETAG,
          ...(start === 0 ? {} : { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` })
        })
        res.write(body.subarray(start, start + 700_000 + cuts * 13), () => res.socket?.destroy())
        return
      }
      serve(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(requests).toHaveLength(3)
      expect(rangesOf(requests)[0]).toBeUndefined()
      // The origin's own ETag guards the resumed requests.
      expect(requests.slice(1).map(r => r.headers['if-range'])).toEqual([ETAG, ETAG])
      const first = Number(/^bytes=(\d+)-$/.exec(requests[1]?.headers.range ?? '')?.[1])
      const second = Number(/^bytes=(\d+)-$/.exec(requests[2]?.headers.range ?? '')?.[1])
      expect(first).toBeGreaterThan(0)
      expect(second).toBeGreaterThan(first)
    })
  })

  it('resumes a truncated range within [start, end)', async () => {
    const serve = serveBytes(body)
    let cut = false
    await withServer((req, res) => {
      if (!cut) {
        cut = true
        res.writeHead(206, { 'content-length': 1_000_000, 'content-range': `bytes 100-1000099/${body.length}`, etag: ETAG })
        res.write(body.subarray(100, 500_000), () => res.socket?.destroy())
        return
      }
      serve(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 100, end: 1_000_100, onData: sink.onData })
      expect(sink.bytes().equals(body.subarray(100, 1_000_100))).toBe(true)
      expect(requests).toHaveLength(2)
    })
  })

  it('fails with CONTENT_CHANGED when the file changes between attempts', async () => {
    let calls = 0
    await withServer((_req, res) => {
      calls++
      res.writeHead(200, { 'content-length': body.length, etag: calls === 1 ? '"a"' : '"b"' })
      if (calls === 1) res.write(body.subarray(0, 100_000), () => res.socket?.destroy())
      else res.end(body)
    }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'CONTENT_CHANGED' })
    })
  })

  it('succeeds after 500 twice', async () => {
    const serve = serveBytes(body)
    let calls = 0
    await withServer((req, res) => {
      if (++calls <= 2) res.writeHead(500).end('oops')
      else serve(req, res)
    }, async ({ url, requests }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
      expect(requests).toHaveLength(3)
    })
  })

  for (const status of [503, 408, 429]) {
    it(`fails with ORIGIN_UNAVAILABLE after the retries on ${status} forever`, async () => {
      await withServer((_req, res) => { res.writeHead(status).end() }, async ({ url, requests }) => {
        const err = await client.fetchRange(url, { start: 0, onData: () => {} }).catch((e: unknown) => e)
        expect(err).toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'remote-file', httpStatus: status })
        expect(requests).toHaveLength(4)
      })
    })
  }

  it('fails with ORIGIN_UNAVAILABLE on a refused connection', async () => {
    const port = await freePort()
    const started = Date.now()
    const err = await client.fetchRange(`http://127.0.0.1:${port}/`, { start: 0, onData: () => {} }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'general-transport' })
    // Three backoffs of 10, 20 and 40 ms (with jitter): retried, but not slowly.
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('fails with ORIGIN_UNAVAILABLE when every attempt is cut before any byte', async () => {
    await withServer((_req, res) => { res.socket?.destroy() }, async ({ url, requests }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} }))
        .rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', context: 'general-transport' })
      expect(requests).toHaveLength(4)
    })
  })

  it('does not retry with retries: 0', async () => {
    const once = createOriginClient({ retries: 0, retryDelay: 10 })
    await withServer((_req, res) => { res.writeHead(502).end() }, async ({ url, requests }) => {
      await expect(once.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ httpStatus: 502 })
      expect(requests).toHaveLength(1)
    })
  })
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('Retry-After', () => {
  it('parses delay-seconds and HTTP-dates', async () => {
    const { parseRetryAfter } = await import('../src/origin-client.js')
    const now = Date.parse('Sat, 21 Nov 2026 12:00:00 GMT')
    expect(parseRetryAfter('7', now)).toBe(7000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('Sat, 21 Nov 2026 12:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Sat, 21 Nov 2026 11:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })

  it('waits at least what a 503 asks before the retry', async () => {
    const serve = serveBytes(body)
    const times: number[] = []
    await withServer((req, res) => {
      times.push(Date.now())
      if (times.length === 1) res.writeHead(503, { 'retry-after': '1', 'content-length': 0 }).end()
      else serve(req, res)
    }, async ({ url }) => {
      const sink = collector()
      await client.fetchRange(url, { start: 0, onData: sink.onData })
      expect(sink.bytes().equals(body)).toBe(true)
    })
    expect(times).toHaveLength(2)
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950)
  })

  it('gives up at once, transient, when a 429 asks for longer than maxRetryAfter', async () => {
    const patient = createOriginClient({ retries: 3, retryDelay: 10, maxRetryAfter: 5_000 })
    let calls = 0
    await withServer((_req, res) => {
      calls++
      res.writeHead(429, { 'retry-after': '3600', 'content-length': 0 }).end()
    }, async ({ url }) => {
      await expect(patient.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_UNAVAILABLE', httpStatus: 429 })
    })
    expect(calls).toBe(1)
  })
})
