import type { Baselines } from './system.js'

/**
 * The baseline systems this build can run beside dopt, by name (`Scenario.baselines`, `dopt lab --baseline`).
 * Integration point: `runAria2Fleet` (packages/lab/src/baseline-aria2.ts: aria2 BitTorrent clients with the origin
 * as a BEP 19 web seed and a local tracker) is being written on another branch; once it lands it is adapted here to
 * a `SystemRunner` (the same scenario, the run's fresh origin, the payload, an empty folder) for 'aria2' and
 * 'aria2-random'. Until then a scenario asking for a baseline fails before any run, naming it.
 */
export const BASELINES: Baselines = {}
