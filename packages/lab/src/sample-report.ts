/**
 * A synthetic fleet report, the same on every call: to test the charts and to look at them without running a fleet
 * (scripts/render-sample-charts.mjs). Its figures are made up but shaped like a run's: dopt takes about a copy from
 * the origin and the rest from peers; the baselines lean on the origin more and finish later.
 */
import type { BaselineKind, NodeResult, Report, SystemRun } from './fleet-types.js'

export interface SampleReportInit {
  /** @default 12 */
  nodes?: number
  /** Runs per system. @default 2 */
  repeats?: number
  /** @default ['aria2'] */
  baselines?: BaselineKind[]
}

const MiB = 1024 * 1024

/** mulberry32: a small seeded generator, so the sample is the same everywhere. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** How each system behaves in the sample: its share of bytes from the origin and how long it takes. */
const PROFILES: Record<SystemRun['system'], { originShare: number, firstDone: number, spread: number }> = {
  dopt: { originShare: 1.3, firstDone: 6, spread: 4 },
  aria2: { originShare: 4, firstDone: 9, spread: 9 },
  'aria2-random': { originShare: 2.5, firstDone: 8, spread: 7 }
}

export function sampleReport (init: SampleReportInit = {}): Report {
  const nodes = init.nodes ?? 12
  const repeats = init.repeats ?? 2
  const baselines = init.baselines ?? ['aria2']
  const fileSize = 64 * MiB
  const originRate = 20 * MiB
  const uploadRate = 10 * MiB
  const random = seeded(7)
  const runs: SystemRun[] = []
  for (const system of ['dopt', ...baselines] as const) {
    const profile = PROFILES[system]
    for (let repeat = 0; repeat < repeats; repeat++) {
      const originBytes = Math.round(profile.originShare * fileSize)
      // Unequal origin shares per node that add up to the run's total.
      const weights = Array.from({ length: nodes }, () => 0.3 + random())
      const weightSum = weights.reduce((a, b) => a + b, 0)
      const fromOrigin = weights.map(w => Math.min(fileSize, Math.round(originBytes * w / weightSum)))
      const results: NodeResult[] = fromOrigin.map((origin, index) => ({
        index,
        start: 0,
        done: Math.round((profile.firstDone + profile.spread * random()) * 1000) / 1000,
        bytesFromOrigin: origin,
        bytesFromPeers: fileSize - origin,
        bytesUploaded: 0,
        cpuSeconds: 0.4 + random(),
        peakRss: (80 + 40 * random()) * MiB,
        verified: true
      }))
      // What the peers received, uploaded by the nodes in proportion to a random weight.
      const peerTotal = results.reduce((sum, n) => sum + n.bytesFromPeers, 0)
      const upWeights = results.map(() => random())
      const upSum = upWeights.reduce((a, b) => a + b, 0)
      results.forEach((n, i) => { n.bytesUploaded = Math.round(peerTotal * (upWeights[i] ?? 0) / upSum) })
      const sent = fromOrigin.reduce((a, b) => a + b, 0)
      const lastDone = Math.max(...results.map(n => n.done ?? 0))
      runs.push({
        system,
        nodes: results,
        origin: { bytesSent: sent, requests: nodes * 4, egress: egressSamples(sent, lastDone, originRate * (0.7 + 0.25 * random())) },
        lastDone,
        originCopies: sent / fileSize
      })
    }
  }
  const totalUpload = (nodes * fileSize) / (originRate + nodes * uploadRate)
  return {
    scenario: {
      name: 'sample', description: 'synthetic figures for the charts', nodes, fileSize, originRate, uploadRate,
      arrival: { kind: 'together' }, check: 'sha256', baselines
    },
    machine: { cpus: 2, cpuModel: 'sample', memoryBytes: 24 * 1024 * MiB, os: 'linux', node: 'v20' },
    dopt: { commit: '0000000', dirty: false, versions: {} },
    startedAt: '2026-12-03T00:00:00.000Z',
    bounds: {
      lastDone: Math.max(fileSize / originRate, totalUpload),
      terms: { originUpload: fileSize / originRate, slowestDownload: 0, totalUpload },
      oneCopyBytes: fileSize
    },
    runs,
    summary: []
  }
}

/** Cumulative origin bytes every half second: at `rate` until `sent`, then flat to `until`. */
function egressSamples (sent: number, until: number, rate: number): Array<[number, number]> {
  const samples: Array<[number, number]> = []
  for (let t = 0; t <= until + 0.25; t += 0.5) samples.push([t, Math.min(sent, Math.round(rate * t))])
  return samples
}
