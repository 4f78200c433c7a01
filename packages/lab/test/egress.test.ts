import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { EgressLimiter, sampleCounter } from '../src/egress.js'
import { randomBytesSeeded, startOrigin } from '../src/index.js'
import type { Origin } from '../src/index.js'

const MiB = 1024 * 1024

/** GETs `url` to the end; resolves with the bytes received and when the last one came (performance.now()). */
async function download (url: string): Promise<{ bytes: number, finished: number }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, res => {
      let bytes = 0
      res.on('data', (chunk: Buffer) => { bytes += chunk.byteLength })
      res.on('end', () => { resolve({ bytes, finished: performance.now() }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('origin egress cap (startOrigin({ egressRate }))', () => {
  const origins: Origin[] = []
  const start = async (egressRate: number): Promise<Origin> => {
    const origin = await startOrigin({ egressRate })
    origins.push(origin)
    return origin
  }
  afterEach(async () => {
    await Promise.all(origins.splice(0).map(async o => { await o.close() }))
  })

  it('two concurrent clients together get about the cap, each about half of it', async () => {
    const rate = 4 * MiB
    const origin = await start(rate)
    const data = randomBytesSeeded(2 * MiB, 5)
    origin.setFile('/a.bin', { data })
    const t0 = performance.now()
    const [a, b] = await Promise.all([download(origin.url('/a.bin')), download(origin.url('/a.bin'))])
    const seconds = (Math.max(a.finished, b.finished) - t0) / 1000
    expect(a.bytes + b.bytes).toBe(4 * MiB)
    expect(origin.bytesSent).toBe(4 * MiB)
    // 4 MiB at 4 MiB/s: 1 s. Never faster than the cap allows (less one burst); slack above for a busy machine.
    expect(seconds).toBeGreaterThan(0.9)
    expect(seconds).toBeLessThan(2.5)
    // Shared fairly: the first client does not finish long before the second (alone it would take 0.5 s).
    expect((Math.min(a.finished, b.finished) - t0) / 1000).toBeGreaterThan(0.8)
  })

  it('one client alone gets the whole cap', async () => {
    const origin = await start(4 * MiB)
    origin.setFile('/a.bin', { data: randomBytesSeeded(2 * MiB, 6) })
    const t0 = performance.now()
    const { bytes, finished } = await download(origin.url('/a.bin'))
    expect(bytes).toBe(2 * MiB)
    const seconds = (finished - t0) / 1000
    expect(seconds).toBeGreaterThan(0.45)
    expect(seconds).toBeLessThan(1.5)
  })

  it('a per-path rate fault still throttles one response below the cap', async () => {
    const origin = await start(8 * MiB)
    origin.setFile('/slow.bin', { data: randomBytesSeeded(MiB / 2, 7) })
    origin.setFault('/slow.bin', { rate: MiB })
    const t0 = performance.now()
    const { bytes, finished } = await download(origin.url('/slow.bin'))
    expect(bytes).toBe(MiB / 2)
    expect((finished - t0) / 1000).toBeGreaterThan(0.45)
  })

  it('sampled egress never runs ahead of the cap', async () => {
    const rate = 4 * MiB
    const origin = await start(rate)
    origin.setFile('/a.bin', { data: randomBytesSeeded(MiB, 8) })
    const sampler = sampleCounter(() => origin.bytesSent, 50)
    await Promise.all([1, 2, 3].map(async () => await download(origin.url('/a.bin'))))
    const samples = sampler.stop()
    expect(samples.length).toBeGreaterThan(5)
    const [first] = samples
    const last = samples.at(-1)!
    expect(last[1]).toBe(3 * MiB)
    for (let i = 1; i < samples.length; i++) {
      const [t, bytes] = samples[i]!
      expect(bytes).toBeGreaterThanOrEqual(samples[i - 1]![1])
      // From the first sample on, at most rate × elapsed plus one burst (25 ms) and one slice.
      expect(bytes - first![1]).toBeLessThanOrEqual(rate * (t - first![0]) / 1000 + rate * 0.025 + 64 * 1024)
    }
  })

  it('refuses a rate that is not a positive number', async () => {
    await expect(startOrigin({ egressRate: -1 })).rejects.toThrow(InvalidArgumentError)
    await expect(startOrigin({ egressRate: Number.NaN })).rejects.toThrow(/egress rate/)
  })
})

describe('EgressLimiter', () => {
  it('grants waiting takers in arrival order, a slice at a time', async () => {
    const limiter = new EgressLimiter(1024 * 1024, 4096)
    const signal = new AbortController().signal
    const order: string[] = []
    // Two takers that each want 5 slices, asking again after every grant.
    const taker = async (name: string): Promise<number> => {
      let got = 0
      while (got < 5 * 4096) {
        const n = await limiter.take(5 * 4096 - got, signal)
        expect(n).toBeGreaterThan(0)
        expect(n).toBeLessThanOrEqual(4096)
        got += n
        order.push(name)
      }
      return got
    }
    const [a, b] = await Promise.all([taker('a'), taker('b')])
    expect(a + b).toBe(10 * 4096)
    // FIFO: neither runs more than one grant ahead of the other.
    for (let i = 0; i < order.length - 1; i += 2) expect(new Set(order.slice(i, i + 2)).size).toBe(2)
  })

  it('answers 0 to a taker whose signal aborts, and to everyone after close()', async () => {
    const limiter = new EgressLimiter(1000, 1000)
    const controller = new AbortController()
    const waiting = limiter.take(1000, controller.signal)
    controller.abort()
    expect(await waiting).toBe(0)
    const other = limiter.take(1000, new AbortController().signal)
    limiter.close()
    expect(await other).toBe(0)
    expect(await limiter.take(10, new AbortController().signal)).toBe(0)
  })
})
