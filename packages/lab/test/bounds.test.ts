import { describe, expect, it } from 'vitest'
import { arrivalTimes, lowerBounds, parseScenario, relativeEgress, requiredNodes, spread, summarize } from '../src/index.js'
import type { SystemRun } from '../src/index.js'

const MiB = 1024 * 1024

const scenario = (over: Record<string, unknown> = {}): ReturnType<typeof parseScenario> =>
  parseScenario({ nodes: 4, fileSize: 64 * MiB, originRate: 20 * MiB, uploadRate: 20 * MiB, ...over })

describe('lowerBounds (Kumar & Ross)', () => {
  it('the reference at N = 4: the origin term binds', () => {
    const b = lowerBounds(scenario())
    // F/u_origin = 64/20; N·F/(u_origin + N·u) = 4·64/(20 + 80); no download limit.
    expect(b.terms.originUpload).toBeCloseTo(3.2, 10)
    expect(b.terms.totalUpload).toBeCloseTo(2.56, 10)
    expect(b.terms.slowestDownload).toBe(0)
    expect(b.lastDone).toBeCloseTo(3.2, 10)
    expect(b.oneCopyBytes).toBe(64 * MiB)
  })

  it('at N = 32 the total upload term binds, and tends to F/u as N grows', () => {
    const b = lowerBounds(scenario({ nodes: 32 }))
    expect(b.terms.totalUpload).toBeCloseTo(32 * 64 / (20 + 32 * 20), 10)
    expect(b.lastDone).toBeCloseTo(3.2, 10) // F/u_origin still 3.2 > 3.1
    const slowUploads = lowerBounds(scenario({ nodes: 32, uploadRate: 5 * MiB }))
    expect(slowUploads.lastDone).toBeCloseTo(32 * 64 / (20 + 32 * 5), 10)
    expect(slowUploads.terms.totalUpload).toBe(slowUploads.lastDone)
  })

  it('a download limit gives the slowest-download term', () => {
    const b = lowerBounds(scenario({ downloadRate: 8 * MiB }))
    expect(b.terms.slowestDownload).toBeCloseTo(8, 10)
    expect(b.lastDone).toBeCloseTo(8, 10)
  })

  it('a limit of 0 (none) gives its term 0', () => {
    const b = lowerBounds(scenario({ originRate: 0, uploadRate: 0 }))
    expect(b.terms).toEqual({ originUpload: 0, slowestDownload: 0, totalUpload: 0, lastArrival: 0 })
    expect(b.lastDone).toBe(0)
  })

  it('seed-first: the seed counts as a holder and not as a downloader', () => {
    const b = lowerBounds(scenario({ arrival: 'seed-first' }))
    expect(b.terms.originUpload).toBeCloseTo(64 / (20 + 20), 10)
    expect(b.terms.totalUpload).toBeCloseTo(3 * 64 / (20 + 4 * 20), 10)
    expect(b.lastDone).toBeCloseTo(1.92, 10)
  })

  it('staggered arrivals: the last arrival plus its download', () => {
    const b = lowerBounds(scenario({ arrival: 'staggered:5', downloadRate: 16 * MiB }))
    expect(b.terms.lastArrival).toBeCloseTo(15 + 4, 10)
    expect(b.lastDone).toBeCloseTo(19, 10)
  })

  it('a node that leaves is not counted among those that must finish', () => {
    const s = scenario({ churn: [{ node: 3, at: 1, action: 'leave' }, { node: 2, at: 1, action: 'kill-restart' }] })
    expect(requiredNodes(s)).toEqual([0, 1, 2])
    expect(lowerBounds(s).terms.totalUpload).toBeCloseTo(3 * 64 / (20 + 4 * 20), 10)
  })
})

describe('arrivalTimes', () => {
  it('together, staggered and seed-first', () => {
    expect(arrivalTimes(scenario())).toEqual([0, 0, 0, 0])
    expect(arrivalTimes(scenario({ arrival: 'staggered:1.5' }))).toEqual([0, 1.5, 3, 4.5])
    expect(arrivalTimes(scenario({ arrival: 'seed-first' }))).toEqual([0, 0, 0, 0])
  })

  it('poisson: increasing, the same for the same seed, another for another, mean about right', () => {
    const a = arrivalTimes(scenario({ nodes: 64, arrival: 'poisson:2:9' }))
    expect(a[0]).toBe(0)
    for (let k = 1; k < a.length; k++) expect(a[k]!).toBeGreaterThan(a[k - 1]!)
    expect(arrivalTimes(scenario({ nodes: 64, arrival: 'poisson:2:9' }))).toEqual(a)
    expect(arrivalTimes(scenario({ nodes: 64, arrival: 'poisson:2:10' }))).not.toEqual(a)
    // 63 gaps of mean 2 s: the sample mean is within a factor of 2 with overwhelming probability.
    const mean = a.at(-1)! / 63
    expect(mean).toBeGreaterThan(1)
    expect(mean).toBeLessThan(4)
  })
})

describe('summary figures', () => {
  it('spread: median, min and max', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 })
    expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4 })
  })

  const run = (lastDone: number | null, originCopies: number, cpu: number): SystemRun => ({
    system: 'dopt', lastDone, originCopies, origin: { bytesSent: originCopies * 64 * MiB, requests: 1, egress: [] },
    nodes: [0, 1].map(index => ({ index, start: 0, done: lastDone, bytesFromOrigin: 0, bytesFromPeers: 0, bytesUploaded: 0, cpuSeconds: cpu, peakRss: 0, verified: true }))
  })

  it('a run that never finished counts as the slowest; per GiB per node CPU', () => {
    const s = scenario({ nodes: 2 })
    const bounds = lowerBounds(s)
    const [x] = summarize([run(4, 2, 1), run(null, 3, 2), run(6, 1, 3)], s, bounds)
    expect(x!.repeats).toBe(3)
    expect(x!.lastDone).toEqual({ median: 6, min: 4, max: null })
    expect(x!.lastDoneOverBound.median).toBeCloseTo(6 / bounds.lastDone, 10)
    expect(x!.originCopies).toEqual({ median: 2, min: 1, max: 3 })
    // 2 nodes of `cpu` s each on a 1/16 GiB file: cpu × 16 per GiB per node.
    expect(x!.cpuSecondsPerGiBPerNode).toEqual({ median: 32, min: 16, max: 48 })
  })
})

describe('relativeEgress', () => {
  it('an idle origin before the release: starts at [0, 0]', () => {
    const r = 10_000
    expect(relativeEgress([[r - 300, 0], [r - 200, 0], [r + 100, 5], [r + 250, 9]], r)).toEqual([[0, 0], [0.1, 5], [0.25, 9]])
  })

  it('a busy origin before the release (a seed): keeps the samples since its first byte', () => {
    const r = 10_000
    expect(relativeEgress([[r - 500, 0], [r - 400, 0], [r - 300, 4], [r - 100, 8], [r + 100, 9]], r))
      .toEqual([[-0.4, 0], [-0.3, 4], [-0.1, 8], [0, 8], [0.1, 9]])
  })
})
