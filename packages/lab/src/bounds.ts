import type { Bounds, Scenario } from './fleet-types.js'
import { randomBytesSeeded } from './random-file.js'

/**
 * When each node starts its download, in seconds after the release. together and seed-first: 0 (seed-first's node 0
 * downloads before the release; its entry is 0 here and it is not counted as a downloader). staggered: k × every.
 * poisson: node 0 at 0, then exponential gaps of mean `mean`, drawn from `seed` (default: the scenario's seed), so
 * the same scenario gives the same times.
 */
export function arrivalTimes (scenario: Pick<Scenario, 'nodes' | 'arrival' | 'seed'>): number[] {
  const { nodes, arrival } = scenario
  switch (arrival.kind) {
    case 'staggered':
      return Array.from({ length: nodes }, (_, k) => k * arrival.every)
    case 'poisson': {
      const words = new Uint32Array(randomBytesSeeded(4 * nodes, arrival.seed ?? scenario.seed ?? 1).slice().buffer)
      const times = [0]
      for (let k = 1; k < nodes; k++) {
        // Uniform in (0, 1]: never log(0).
        const u = ((words[k] ?? 0) + 1) / 2 ** 32
        times.push(times[k - 1]! - arrival.mean * Math.log(u))
      }
      return times
    }
    default:
      return Array.from({ length: nodes }, () => 0)
  }
}

/** Nodes that must finish for the run to count as done: all but seed-first's seed and the nodes that leave. */
export function requiredNodes (scenario: Pick<Scenario, 'nodes' | 'arrival' | 'churn'>): number[] {
  const leaving = new Set((scenario.churn ?? []).filter(e => e.action === 'leave').map(e => e.node))
  const all = Array.from({ length: scenario.nodes }, (_, k) => k)
  return all.filter(k => !(scenario.arrival.kind === 'seed-first' && k === 0) && !leaving.has(k))
}

/** x / rate, with rate 0 meaning no limit (so no time). */
const over = (bytes: number, rate: number): number => rate > 0 && Number.isFinite(rate) ? bytes / rate : 0

/**
 * Lower bounds for a scenario (Kumar & Ross, "Peer-assisted file distribution: the minimum distribution time",
 * 2006). With F the file size, u_s the upload of what holds the file at the release (the origin, plus the seed in
 * seed-first), d_min the slowest download limit, n the nodes that must finish and Σu_i every node's upload, no
 * system can finish the last of them sooner than
 *
 *   max( F / u_s,  F / d_min,  n·F / (u_s + Σu_i) )
 *
 * (every bit must leave a holder once; the slowest node must take in F; n copies must be uploaded by someone). With
 * arrivals spread out, the last node to arrive also needs F / d_min after it arrives. A rate of 0 (no limit) makes
 * its term 0. Under churn this stays a lower bound: a leaving node is not counted in n, its upload still is in Σu_i.
 * The origin must also send at least one copy (F bytes), seed-first's seed included.
 */
export function lowerBounds (scenario: Scenario): Bounds {
  const F = scenario.fileSize
  const seeded = scenario.arrival.kind === 'seed-first'
  const upload = scenario.uploadRate > 0 ? scenario.uploadRate : Infinity
  const origin = scenario.originRate > 0 ? scenario.originRate : Infinity
  const holders = origin + (seeded ? upload : 0)
  const download = scenario.downloadRate ?? 0
  const required = requiredNodes(scenario)
  const n = required.length
  const starts = arrivalTimes(scenario)
  const lastStart = Math.max(0, ...required.map(k => starts[k] ?? 0))
  const terms = {
    originUpload: over(F, holders),
    slowestDownload: over(F, download),
    totalUpload: over(n * F, origin + scenario.nodes * upload),
    lastArrival: lastStart + over(F, download)
  }
  return {
    lastDone: Math.max(terms.originUpload, terms.slowestDownload, terms.totalUpload, terms.lastArrival),
    terms,
    oneCopyBytes: F
  }
}
