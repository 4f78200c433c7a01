import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MiB, download, fixture, until } from './fixture.js'
import type { Fixture } from './fixture.js'

// The node-level byte totals the metrics' counters are made from (engine stats(), node getStats()).
let f: Fixture
beforeEach(async () => { f = await fixture() })
afterEach(async () => { await f.close() })

describe('node byte totals', () => {
  it('count from the node\'s start: bytes a saved job got in an earlier run are not counted again', async () => {
    const { url } = f.serve('r.bin', 4 * MiB, 2 * MiB)
    const first = await f.node('a')
    const job = await download(first, url, f.path('r.out'))
    await until('some pieces are saved', () => job.getProgress().bytesTransferred >= MiB ? true : undefined)
    await first.stop()
    const earlier = first.getStats().bytesFromOrigin
    expect(earlier).toBeGreaterThan(0)

    const again = await f.node('a')
    expect(again.getStats().bytesFromOrigin).toBe(0)
    const [restored] = await again.jobs.enumJobs()
    const saved = restored!.getProgress().bytesFromOrigin
    expect(saved).toBeGreaterThan(0)
    expect(await restored!.waitFor()).toBe('transferred')
    expect(again.getStats().bytesFromOrigin).toBe(restored!.getProgress().bytesFromOrigin - saved)
    const total = again.getStats().bytesFromOrigin
    expect(total).toBeGreaterThan(0)
    await restored!.complete()
    // The job has ended; its bytes stay in the totals.
    expect(again.getStats().bytesFromOrigin).toBe(total)
    expect(again.getStats().bytesFromPeers).toBe(0)
  })
})
