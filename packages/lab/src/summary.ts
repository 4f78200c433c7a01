import type { Bounds, Report, Scenario, SystemRun } from './fleet-types.js'

const GiB = 1024 ** 3

interface Spread { median: number, min: number, max: number }

/** Median (mean of the middle two for an even count), min and max; Infinity stays Infinity. */
export function spread (values: number[]): Spread {
  const v = [...values].sort((a, b) => a - b)
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN }
  const mid = Math.floor(v.length / 2)
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
  return { median, min: v[0]!, max: v.at(-1)! }
}

/** A spread where a run that never finished counts as infinitely slow, and a statistic that lands there is null. */
function spreadOrNull (values: Array<number | null>): { median: number | null, min: number | null, max: number | null } {
  const s = spread(values.map(v => v ?? Infinity))
  const fin = (x: number): number | null => Number.isFinite(x) ? x : null
  return { median: fin(s.median), min: fin(s.min), max: fin(s.max) }
}

/** The mean CPU seconds per node per GiB of the file, in one run. */
export function cpuSecondsPerGiBPerNode (run: SystemRun, scenario: Pick<Scenario, 'fileSize'>): number {
  const cpu = run.nodes.reduce((sum, n) => sum + n.cpuSeconds, 0)
  return run.nodes.length === 0 ? 0 : cpu / run.nodes.length / (scenario.fileSize / GiB)
}

/** last done ÷ its lower bound; null if a node never finished or the bound is 0 (nothing limited). */
export function overBound (lastDone: number | null, bounds: Bounds): number | null {
  return lastDone === null || !(bounds.lastDone > 0) ? null : lastDone / bounds.lastDone
}

/** Per system, in the order they first ran: median, min and max of the headline figures over its runs. */
export function summarize (runs: SystemRun[], scenario: Pick<Scenario, 'fileSize'>, bounds: Bounds): Report['summary'] {
  const systems = [...new Set(runs.map(r => r.system))]
  return systems.map(system => {
    const mine = runs.filter(r => r.system === system)
    return {
      system,
      repeats: mine.length,
      lastDone: spreadOrNull(mine.map(r => r.lastDone)),
      lastDoneOverBound: spreadOrNull(mine.map(r => overBound(r.lastDone, bounds))),
      originCopies: spread(mine.map(r => r.originCopies)),
      cpuSecondsPerGiBPerNode: spread(mine.map(r => cpuSecondsPerGiBPerNode(r, scenario)))
    }
  })
}
