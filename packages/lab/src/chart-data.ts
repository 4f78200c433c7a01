/**
 * The numbers behind the lab's charts, taken from a report: plain rows that the chart specs plot as they are. Kept
 * apart from the specs so that what a chart claims (a CDF's steps, a mean over repeats, a unit) is tested on its own.
 */
import type { Report, SystemRun } from './fleet-types.js'

export type System = SystemRun['system']

/** Systems in the order charts list them: dopt first, then the baselines. */
export const SYSTEM_ORDER: readonly System[] = ['dopt', 'aria2', 'aria2-random']

/** One run with its place among the runs of its system (repeats count from 1, in the order they ran). */
export interface LabelledRun {
  run: SystemRun
  system: System
  repeat: number
  /** e.g. `aria2 #2`. */
  label: string
}

export function labelRuns (report: Report): LabelledRun[] {
  const seen = new Map<System, number>()
  return report.runs.map(run => {
    const repeat = (seen.get(run.system) ?? 0) + 1
    seen.set(run.system, repeat)
    return { run, system: run.system, repeat, label: `${run.system} #${repeat}` }
  })
}

/** The systems present in the report, in SYSTEM_ORDER. */
export function systemsOf (report: Report): System[] {
  return SYSTEM_ORDER.filter(system => report.runs.some(run => run.system === system))
}

export interface CdfPoint {
  system: System
  /** `pooled`: all repeats' nodes together; otherwise a run's label. */
  series: string
  /** Seconds after the release. */
  t: number
  /** Fraction of the series' nodes done by `t`. */
  fraction: number
}

/**
 * A step CDF of completion times: (0, 0), then one point per finished node at its `done` time, then a last point at
 * `until` so that the curve of a series with unfinished nodes stays flat below 1 to the chart's edge instead of
 * stopping at its last finisher. The denominator is every node, finished or not.
 */
export function cdfSteps (done: ReadonlyArray<number | null>, until: number): Array<{ t: number, fraction: number }> {
  const total = done.length
  if (total === 0) return []
  const times = done.filter((t): t is number => t !== null).sort((a, b) => a - b)
  const steps = [{ t: 0, fraction: 0 }]
  times.forEach((t, i) => steps.push({ t, fraction: (i + 1) / total }))
  steps.push({ t: Math.max(until, times.at(-1) ?? 0), fraction: times.length / total })
  return steps
}

/**
 * The CDF rows: one series per run, and, for a system with several repeats, a `pooled` series over all its runs'
 * nodes (the chart draws the repeats faintly and the pooled curve solid).
 */
export function cdfRows (report: Report, until: number): CdfPoint[] {
  const runs = labelRuns(report)
  const rows: CdfPoint[] = []
  for (const system of systemsOf(report)) {
    const mine = runs.filter(r => r.system === system)
    for (const r of mine) {
      for (const step of cdfSteps(r.run.nodes.map(n => n.done), until)) rows.push({ system, series: r.label, ...step })
    }
    if (mine.length > 1) {
      const pooled = mine.flatMap(r => r.run.nodes.map(n => n.done))
      for (const step of cdfSteps(pooled, until)) rows.push({ system, series: 'pooled', ...step })
    }
  }
  return rows
}

/** The last instant any chart over time needs to show: the last node done, the last egress sample, the bound. */
export function timeExtent (report: Report): number {
  let last = report.bounds.lastDone
  for (const run of report.runs) {
    for (const node of run.nodes) if (node.done !== null) last = Math.max(last, node.done)
    for (const [t] of run.origin.egress) last = Math.max(last, t)
  }
  return Number.isFinite(last) && last > 0 ? last : 1
}

/** A binary unit for byte counts, chosen so the largest value reads as a small number. */
export interface ByteUnit { name: 'B' | 'KiB' | 'MiB' | 'GiB', size: number }

export function byteUnit (largest: number): ByteUnit {
  if (largest >= 1024 ** 3) return { name: 'GiB', size: 1024 ** 3 }
  if (largest >= 1024 ** 2) return { name: 'MiB', size: 1024 ** 2 }
  if (largest >= 1024) return { name: 'KiB', size: 1024 }
  return { name: 'B', size: 1 }
}

export type ByteKind = 'from origin' | 'from peers' | 'uploaded'
export const BYTE_KINDS: readonly ByteKind[] = ['from origin', 'from peers', 'uploaded']

export interface NodeBytesRow {
  system: System
  node: number
  /** `received` bars stack origin and peers; `uploaded` stands beside them. */
  bar: 'received' | 'uploaded'
  kind: ByteKind
  /** In `unit`. */
  value: number
}

/**
 * Per system and node index, the mean over that system's repeats of the bytes a node received from the origin and
 * from peers and the bytes it uploaded (a node index is the same place in the scenario in every repeat: same start,
 * same churn). A node index absent from some repeat is averaged over the repeats that have it.
 */
export function nodeBytesRows (report: Report): { rows: NodeBytesRow[], unit: ByteUnit } {
  const sums = new Map<string, { system: System, node: number, n: number, origin: number, peers: number, up: number }>()
  for (const run of report.runs) {
    for (const node of run.nodes) {
      const key = `${run.system}/${node.index}`
      const sum = sums.get(key) ?? { system: run.system, node: node.index, n: 0, origin: 0, peers: 0, up: 0 }
      sum.n++
      sum.origin += node.bytesFromOrigin
      sum.peers += node.bytesFromPeers
      sum.up += node.bytesUploaded
      sums.set(key, sum)
    }
  }
  const means = [...sums.values()]
    .sort((a, b) => SYSTEM_ORDER.indexOf(a.system) - SYSTEM_ORDER.indexOf(b.system) || a.node - b.node)
    .map(s => ({ system: s.system, node: s.node, origin: s.origin / s.n, peers: s.peers / s.n, up: s.up / s.n }))
  const unit = byteUnit(Math.max(0, ...means.map(m => Math.max(m.origin + m.peers, m.up))))
  const rows = means.flatMap((m): NodeBytesRow[] => [
    { system: m.system, node: m.node, bar: 'received', kind: 'from origin', value: m.origin / unit.size },
    { system: m.system, node: m.node, bar: 'received', kind: 'from peers', value: m.peers / unit.size },
    { system: m.system, node: m.node, bar: 'uploaded', kind: 'uploaded', value: m.up / unit.size }
  ])
  return { rows, unit }
}

export interface EgressRow {
  system: System
  series: string
  t: number
  /** Cumulative origin bytes, in `unit`. */
  value: number
}

/** Each run's cumulative origin egress samples, in one unit shared with the one-copy line. */
export function egressRows (report: Report): { rows: EgressRow[], unit: ByteUnit } {
  const runs = labelRuns(report)
  let largest = report.bounds.oneCopyBytes
  for (const r of runs) for (const [, bytes] of r.run.origin.egress) largest = Math.max(largest, bytes)
  const unit = byteUnit(largest)
  const rows: EgressRow[] = []
  for (const system of systemsOf(report)) {
    for (const r of runs.filter(r => r.system === system)) {
      const samples = [...r.run.origin.egress].sort((a, b) => a[0] - b[0])
      for (const [t, bytes] of samples) rows.push({ system, series: r.label, t, value: bytes / unit.size })
    }
  }
  return { rows, unit }
}

/**
 * What a reader must know that the marks cannot show: runs whose nodes did not all finish, or that reported no
 * nodes or no egress samples, and a few words for the title (`''` when every run is complete).
 */
export function runNotes (report: Report): { headline: string, unfinished: string[], noEgress: string[] } {
  const unfinished: string[] = []
  const noEgress: string[] = []
  let finished = 0
  for (const r of labelRuns(report)) {
    const total = r.run.nodes.length
    const missing = r.run.nodes.filter(n => n.done === null).length
    finished += total - missing
    if (total === 0) unfinished.push(`${r.label}: no nodes reported`)
    else if (missing > 0) unfinished.push(`${r.label}: ${missing} of ${total} nodes never finished`)
    if (r.run.origin.egress.length === 0) noEgress.push(`${r.label}: no egress samples`)
  }
  let headline = ''
  if (report.runs.length === 0) {
    unfinished.push('no runs in this report')
    headline = 'no runs'
  } else if (finished === 0) {
    headline = 'no node finished'
  } else if (unfinished.length > 0) {
    headline = 'some nodes never finished'
  }
  return { headline, unfinished, noEgress }
}

/** Seconds for a label: 3 significant digits, no trailing zeros (12.3 s, 0.45 s, 140 s). */
export function formatSeconds (s: number): string {
  return `${Number(s.toPrecision(3))} s`
}

/** Bytes for a label, in their own binary unit (64 MiB, 1.5 GiB). */
export function formatBytes (bytes: number): string {
  const unit = byteUnit(bytes)
  return `${Number((bytes / unit.size).toPrecision(3))} ${unit.name}`
}

/** The smallest of 1, 2, 2.5, 5 × 10^k that is ≥ x: an axis end that reads well (x > 0). */
export function niceCeil (x: number): number {
  const power = 10 ** Math.floor(Math.log10(x))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= x * (1 - 1e-12)) return step * power
  return 10 * power
}
