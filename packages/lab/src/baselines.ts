import { runAria2Fleet } from './baseline-aria2.js'
import type { Baselines, SystemContext, SystemOutcome, SystemRunner } from './system.js'

/** aria2 as a lab system: the same scenario, the run's fresh origin (its egress cap) and payload, its own folder. */
function aria2 (kind: 'aria2' | 'aria2-random'): SystemRunner {
  return async (ctx: SystemContext): Promise<SystemOutcome> => {
    const result = await runAria2Fleet({
      scenario: ctx.scenario, kind, payloadPath: ctx.payload.path, payloadSha256: ctx.payload.sha256, origin: ctx.origin,
      workDir: ctx.dir, signal: ctx.signal, onRelease: at => { ctx.onRelease(at) }
    })
    return { nodes: result.nodes, releasedAt: result.releaseTime }
  }
}

/**
 * The baseline systems this build can run beside dopt, by name (`Scenario.baselines`, `dopt lab --baseline`):
 * aria2 BitTorrent clients with the origin as a BEP 19 web seed and a local tracker (baseline-aria2.ts), stock, and
 * with `--stream-piece-selector=random` (the strong baseline).
 */
export const BASELINES: Baselines = {
  aria2: aria2('aria2'),
  'aria2-random': aria2('aria2-random')
}
