import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../src/rate-limiter.js'

describe('RateLimiter', () => {
  it('does not wait with rate 0', async () => {
    const limiter = new RateLimiter(0)
    const started = Date.now()
    for (let i = 0; i < 1000; i++) await limiter.take(1 << 20)
    expect(Date.now() - started).toBeLessThan(500)
  })

  it('holds takers to the rate after the first second of tokens', async () => {
    const limiter = new RateLimiter(1000)
    const started = Date.now()
    // 1000 tokens at start, then 1000 per second: 1500 bytes need at least half a second.
    for (let i = 0; i < 15; i++) await limiter.take(100)
    expect(Date.now() - started).toBeGreaterThanOrEqual(450)
  })

  it('lets a request larger than the bucket through once the bucket is full', async () => {
    const limiter = new RateLimiter(1000)
    await limiter.take(5000)
    const started = Date.now()
    await limiter.take(100)
    // Now 4000 in debt: the next 100 wait about four seconds; check it waits at all, and that abort works.
    const controller = new AbortController()
    const pending = limiter.take(100, { signal: controller.signal })
    setTimeout(() => { controller.abort(new Error('stop')) }, 50)
    await expect(pending).rejects.toThrow('stop')
    expect(Date.now() - started).toBeGreaterThanOrEqual(40)
  })

  it('leaves no abort listener behind on a signal once its waits are over', async () => {
    const limiter = new RateLimiter(100_000)
    const controller = new AbortController()
    // 8 takes of a quarter of the bucket: the last four wait.
    for (let i = 0; i < 8; i++) await limiter.take(25_000, { signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})
