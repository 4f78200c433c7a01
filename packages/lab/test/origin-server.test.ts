import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { randomBytesSeeded, startOrigin, writeRandomFile } from '../src/index.js'
import type { Origin } from '../src/index.js'
import type { IncomingHttpHeaders } from 'node:http'

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  /** Set when the body ended early (the connection was cut). */
  error?: Error
}

/** A raw request with node:http, so headers, HEAD and cut bodies are seen exactly as sent. */
async function get (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return await new Promise<Reply>((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, res => {
      const chunks: Buffer[] = []
      const reply = (error?: Error): void => {
        const result: Reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }
        if (error !== undefined) result.error = error
        resolve(result)
      }
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { reply() })
      res.on('error', reply)
      res.on('aborted', () => { reply(new Error('aborted')) })
    })
    req.on('error', reject)
    req.end()
  })
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

describe('startOrigin', () => {
  const origins: Origin[] = []
  const dirs: string[] = []
  const start = async (): Promise<Origin> => {
    const origin = await startOrigin()
    origins.push(origin)
    return origin
  }

  afterEach(async () => {
    await Promise.all(origins.splice(0).map(async o => { await o.close() }))
    await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  })

  const data = randomBytesSeeded(1000, 3)

  describe('serving', () => {
    it('answers a full GET with length, validators and accept-ranges', async () => {
      const origin = await start()
      expect(origin.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      origin.setFile('/a.bin', { data })
      const reply = await get(origin.url('/a.bin'))
      expect(reply.status).toBe(200)
      expect(reply.headers['content-length']).toBe('1000')
      expect(reply.headers.etag).toBe('"1000-v1"')
      expect(reply.headers['last-modified']).toBe('Mon, 01 Jan 2024 00:00:00 GMT')
      expect(reply.headers['accept-ranges']).toBe('bytes')
      expect(reply.body.equals(data)).toBe(true)
      expect(origin.requests).toEqual([
        { method: 'GET', path: '/a.bin', range: null, ifRange: null, status: 200, bytesSent: 1000, time: expect.any(Number) }
      ])
      expect(origin.bytesSent).toBe(1000)
    })

    it('gives a new ETag each time a path is set, and honours explicit or absent validators', async () => {
      const origin = await start()
      origin.setFile('a.bin', { data })
      origin.setFile('/a.bin', { data })
      expect((await get(origin.url('a.bin'))).headers.etag).toBe('"1000-v2"')
      origin.setFile('/b.bin', { data, etag: '"custom"', lastModified: null })
      const reply = await get(origin.url('/b.bin'))
      expect(reply.headers.etag).toBe('"custom"')
      expect(reply.headers['last-modified']).toBeUndefined()
      origin.setFile('/c.bin', { data, etag: null })
      expect((await get(origin.url('/c.bin'))).headers.etag).toBeUndefined()
    })

    it('answers HEAD with headers only', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      const reply = await get(origin.url('/a.bin'), {}, 'HEAD')
      expect(reply.status).toBe(200)
      expect(reply.headers['content-length']).toBe('1000')
      expect(reply.body.byteLength).toBe(0)
      expect(origin.requests[0]).toMatchObject({ method: 'HEAD', status: 200, bytesSent: 0 })
    })

    it('answers 405 to HEAD when head is false, and to other methods', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data, head: false })
      const head = await get(origin.url('/a.bin'), {}, 'HEAD')
      expect(head.status).toBe(405)
      expect(head.headers.allow).toBe('GET')
      expect((await get(origin.url('/a.bin'))).status).toBe(200)
      expect((await get(origin.url('/a.bin'), {}, 'DELETE')).status).toBe(405)
    })

    it('answers 404 for unknown paths, ignoring the query', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      expect((await get(origin.url('/nope'))).status).toBe(404)
      expect((await get(origin.url('/a.bin?x=1'))).status).toBe(200)
      expect(origin.requests.map(r => [r.path, r.status])).toEqual([['/nope', 404], ['/a.bin', 200]])
    })

    it('sends chunked bodies without Content-Length', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data, chunked: true })
      const reply = await get(origin.url('/a.bin'))
      expect(reply.status).toBe(200)
      expect(reply.headers['transfer-encoding']).toBe('chunked')
      expect(reply.headers['content-length']).toBeUndefined()
      expect(reply.body.equals(data)).toBe(true)
    })

    it('redirects, and fetch follows to the content', async () => {
      const origin = await start()
      origin.setFile('/real.bin', { data })
      origin.redirect('/old.bin', '/real.bin')
      origin.redirect('/temp.bin', origin.url('/real.bin'), 307)
      const reply = await get(origin.url('/old.bin'))
      expect(reply.status).toBe(301)
      expect(reply.headers.location).toBe('/real.bin')
      expect((await get(origin.url('/temp.bin'))).headers.location).toBe(origin.url('/real.bin'))
      const res = await fetch(origin.url('/old.bin'))
      expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true)
      expect(() => { origin.redirect('/x', '/y', 200) }).toThrow(InvalidArgumentError)
    })

    it('rejects a file with neither or both of data and file, or a relative file path', async () => {
      const origin = await start()
      expect(() => { origin.setFile('/a', {}) }).toThrow(InvalidArgumentError)
      expect(() => { origin.setFile('/a', { data, file: '/tmp/x' }) }).toThrow(InvalidArgumentError)
      expect(() => { origin.setFile('/a', { file: 'relative/x' }) }).toThrow(InvalidArgumentError)
    })

    it('streams files from disk, whole and in ranges', async () => {
      const origin = await start()
      const dir = await mkdtemp(join(tmpdir(), 'dopt-lab-'))
      dirs.push(dir)
      const size = 5 * 1024 * 1024 + 17
      const path = join(dir, 'big.bin')
      await writeRandomFile(path, size, 9)
      const expected = randomBytesSeeded(size, 9)
      origin.setFile('/big.bin', { file: path })

      const res = await fetch(origin.url('/big.bin'))
      expect(res.headers.get('content-length')).toBe(String(size))
      expect(sha(new Uint8Array(await res.arrayBuffer()))).toBe(sha(expected))

      const part = await get(origin.url('/big.bin'), { range: 'bytes=1048570-2097160' })
      expect(part.status).toBe(206)
      expect(part.headers['content-range']).toBe(`bytes 1048570-2097160/${size}`)
      expect(part.body.equals(expected.subarray(1048570, 2097161))).toBe(true)
      expect(origin.bytesSent).toBe(size + 2097161 - 1048570)
    })

    it('answers 500 when the backing file is gone', async () => {
      const origin = await start()
      origin.setFile('/gone.bin', { file: join(tmpdir(), 'dopt-lab-does-not-exist') })
      expect((await get(origin.url('/gone.bin'))).status).toBe(500)
    })
  })

  describe('ranges', () => {
    it('answers single ranges with 206 and Content-Range', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      const cases: Array<[string, number, number]> = [
        ['bytes=10-19', 10, 19], ['bytes=990-', 990, 999], ['bytes=-5', 995, 999], ['bytes=900-5000', 900, 999],
        ['bytes=-5000', 0, 999]
      ]
      for (const [range, first, last] of cases) {
        const reply = await get(origin.url('/a.bin'), { range })
        expect(reply.status, range).toBe(206)
        expect(reply.headers['content-range'], range).toBe(`bytes ${first}-${last}/1000`)
        expect(reply.headers['content-length'], range).toBe(String(last - first + 1))
        expect(reply.body.equals(data.subarray(first, last + 1)), range).toBe(true)
      }
      expect(origin.requests[0]).toMatchObject({ range: 'bytes=10-19', status: 206, bytesSent: 10 })
    })

    it('answers 416 for unsatisfiable ranges', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
        const reply = await get(origin.url('/a.bin'), { range })
        expect(reply.status, range).toBe(416)
        expect(reply.headers['content-range'], range).toBe('bytes */1000')
      }
    })

    it('ignores malformed and multiple ranges', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=9-3']) {
        const reply = await get(origin.url('/a.bin'), { range })
        expect(reply.status, range).toBe(200)
        expect(reply.body.byteLength, range).toBe(1000)
      }
    })

    it('honours If-Range only while the validator matches', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      const range = 'bytes=100-199'
      expect((await get(origin.url('/a.bin'), { range, 'if-range': '"1000-v1"' })).status).toBe(206)
      expect((await get(origin.url('/a.bin'), { range, 'if-range': 'Mon, 01 Jan 2024 00:00:00 GMT' })).status).toBe(206)

      const stale = await get(origin.url('/a.bin'), { range, 'if-range': '"1000-v0"' })
      expect(stale.status).toBe(200)
      expect(stale.body.equals(data)).toBe(true)
      expect((await get(origin.url('/a.bin'), { range, 'if-range': 'W/"1000-v1"' })).status).toBe(200)
      expect((await get(origin.url('/a.bin'), { range, 'if-range': 'Tue, 02 Jan 2024 00:00:00 GMT' })).status).toBe(200)

      origin.setFile('/a.bin', { data })
      expect((await get(origin.url('/a.bin'), { range, 'if-range': '"1000-v1"' })).status).toBe(200)
      expect(origin.requests.at(-1)?.ifRange).toBe('"1000-v1"')
    })

    it('ignores Range and sends no Accept-Ranges when ranges is false', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data, ranges: false })
      const reply = await get(origin.url('/a.bin'), { range: 'bytes=0-9' })
      expect(reply.status).toBe(200)
      expect(reply.headers['accept-ranges']).toBeUndefined()
      expect(reply.headers['content-range']).toBeUndefined()
      expect(reply.body.equals(data)).toBe(true)
    })
  })

  describe('faults', () => {
    it('answers every request with a fixed status, until cleared', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { status: 410 })
      expect((await get(origin.url('/a.bin'))).status).toBe(410)
      expect((await get(origin.url('/a.bin'), {}, 'HEAD')).status).toBe(410)
      origin.setFault('/missing', { status: 503 })
      expect((await get(origin.url('/missing'))).status).toBe(503)
      origin.setFault('/a.bin', null)
      expect((await get(origin.url('/a.bin'))).status).toBe(200)
      expect(origin.bytesSent).toBe(1000)
    })

    it('fails the first N GETs with failStatus, not counting HEAD', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { failTimes: 2, failStatus: 503 })
      expect((await get(origin.url('/a.bin'), {}, 'HEAD')).status).toBe(200)
      expect((await get(origin.url('/a.bin'))).status).toBe(503)
      expect((await get(origin.url('/a.bin'))).status).toBe(503)
      const ok = await get(origin.url('/a.bin'))
      expect(ok.status).toBe(200)
      expect(ok.body.equals(data)).toBe(true)

      origin.setFault('/a.bin', { failTimes: 1 })
      expect((await get(origin.url('/a.bin'))).status).toBe(500)
      expect((await get(origin.url('/a.bin'))).status).toBe(200)
    })

    it('cuts the body after truncateAfter bytes, truncateTimes times', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { truncateAfter: 300, truncateTimes: 2 })

      const cut = await get(origin.url('/a.bin'))
      expect(cut.status).toBe(200)
      expect(cut.headers['content-length']).toBe('1000')
      expect(cut.error).toBeDefined()
      expect(cut.body.equals(data.subarray(0, 300))).toBe(true)

      await expect(fetch(origin.url('/a.bin')).then(async r => await r.arrayBuffer())).rejects.toThrow()

      const whole = await get(origin.url('/a.bin'))
      expect(whole.error).toBeUndefined()
      expect(whole.body.equals(data)).toBe(true)
      expect(origin.requests.map(r => r.bytesSent)).toEqual([300, 300, 1000])
    })

    it('cuts ranged and disk bodies too, even at zero bytes', async () => {
      const origin = await start()
      const dir = await mkdtemp(join(tmpdir(), 'dopt-lab-'))
      dirs.push(dir)
      const path = join(dir, 'f.bin')
      await writeRandomFile(path, 3 * 1024 * 1024, 5)
      origin.setFile('/f.bin', { file: path })
      origin.setFault('/f.bin', { truncateAfter: 1024 * 1024 + 1, truncateTimes: 1 })
      const cut = await get(origin.url('/f.bin'), { range: 'bytes=100-' })
      expect(cut.status).toBe(206)
      expect(cut.error).toBeDefined()
      expect(cut.body.equals(randomBytesSeeded(3 * 1024 * 1024, 5).subarray(100, 100 + 1024 * 1024 + 1))).toBe(true)

      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { truncateAfter: 0 })
      const none = await get(origin.url('/a.bin'))
      expect(none.status).toBe(200)
      expect(none.error).toBeDefined()
      expect(none.body.byteLength).toBe(0)
    })

    it('throttles to rate bytes per second', async () => {
      const origin = await start()
      const body = randomBytesSeeded(40_000)
      origin.setFile('/slow.bin', { data: body })
      origin.setFault('/slow.bin', { rate: 80_000 })
      const started = performance.now()
      const reply = await get(origin.url('/slow.bin'))
      const elapsed = performance.now() - started
      expect(reply.body.equals(body)).toBe(true)
      expect(elapsed).toBeGreaterThanOrEqual(450)
      expect(elapsed).toBeLessThan(3000)
    })

    it('stops a throttled body when the client leaves, and closes promptly mid-body', async () => {
      const origin = await start()
      origin.setFile('/slow.bin', { data: randomBytesSeeded(1_000_000) })
      origin.setFault('/slow.bin', { rate: 10_000 })

      const controller = new AbortController()
      const res = await fetch(origin.url('/slow.bin'), { signal: controller.signal })
      expect(res.status).toBe(200)
      await new Promise(resolve => setTimeout(resolve, 150))
      controller.abort()
      await new Promise(resolve => setTimeout(resolve, 150))
      const sentAfterAbort = origin.bytesSent
      expect(sentAfterAbort).toBeGreaterThan(0)
      expect(sentAfterAbort).toBeLessThan(10_000)
      await new Promise(resolve => setTimeout(resolve, 200))
      expect(origin.bytesSent).toBe(sentAfterAbort)

      const pending = get(origin.url('/slow.bin'))
      await new Promise(resolve => setTimeout(resolve, 100))
      const closing = performance.now()
      await origin.close()
      expect(performance.now() - closing).toBeLessThan(500)
      const reply = await pending
      expect(reply.error).toBeDefined()
    })

    it('delays the answer', async () => {
      const origin = await start()
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { delay: 200 })
      const started = performance.now()
      expect((await get(origin.url('/a.bin'))).status).toBe(200)
      expect(performance.now() - started).toBeGreaterThanOrEqual(190)
    })

    it('swaps the content after changeAfter bytes, so a stale If-Range gets the new body', async () => {
      const origin = await start()
      const next = randomBytesSeeded(800, 4)
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { changeAfter: 500, changeTo: next, truncateAfter: 600, truncateTimes: 1 })

      const first = await get(origin.url('/a.bin'))
      expect(first.headers.etag).toBe('"1000-v1"')
      // The response under way keeps its own content; only later requests see the change.
      expect(first.body.equals(data.subarray(0, 600))).toBe(true)

      const resumed = await get(origin.url('/a.bin'), { range: 'bytes=600-', 'if-range': '"1000-v1"' })
      expect(resumed.status).toBe(200)
      expect(resumed.headers.etag).toBe('"800-v2"')
      expect(resumed.headers['last-modified']).toBe('Mon, 01 Jan 2024 00:00:01 GMT')
      expect(resumed.body.equals(next)).toBe(true)

      const ranged = await get(origin.url('/a.bin'), { range: 'bytes=0-9', 'if-range': '"800-v2"' })
      expect(ranged.status).toBe(206)
      expect(ranged.body.equals(next.subarray(0, 10))).toBe(true)
    })

    it('changes between ranged requests when the count is reached exactly', async () => {
      const origin = await start()
      const next = randomBytesSeeded(1000, 11)
      origin.setFile('/a.bin', { data })
      origin.setFault('/a.bin', { changeAfter: 250, changeTo: next })
      const a = await get(origin.url('/a.bin'), { range: 'bytes=0-249' })
      expect(a.headers.etag).toBe('"1000-v1"')
      const b = await get(origin.url('/a.bin'), { range: 'bytes=250-499' })
      expect(b.headers.etag).toBe('"1000-v2"')
      expect(b.body.equals(next.subarray(250, 500))).toBe(true)
    })
  })
})
