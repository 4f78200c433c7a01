import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { BaselineKind, NodeResult } from './fleet-types.js'
import type { LabNetwork } from './netns.js'
import type { ResolvedScenario } from './scenario.js'
import type { Origin } from './types.js'

/** The payload of a run, written once and served by every run's fresh origin. */
export interface Payload {
  /** Absolute path of the file on disk. */
  path: string
  size: number
  /** Its SHA-256, hex. */
  sha256: string
  /** Its manifest's CID (pieces of the scenario's piece size), as a publisher makes it. */
  manifestCid: string
  /** The encoded manifest, served beside the file at `<path>.dopt-manifest`. */
  manifestBytes: Uint8Array
}

/**
 * What a system (dopt or a baseline) gets for one run: the same scenario, a fresh origin with the scenario's egress
 * cap (its counters start at zero), the payload's URL on it, and an empty folder of its own.
 */
export interface SystemContext {
  scenario: ResolvedScenario
  origin: Origin
  /** The payload's URL on `origin`; its manifest sidecar is `url + '.dopt-manifest'`. */
  url: string
  payload: Payload
  /** An empty folder for this run's data folders and outputs; removed after the run. */
  dir: string
  /**
   * The run's network namespaces (`network: netns`), where node k runs in `network.nodes[k]` and tc shapes the
   * rates; absent on loopback, where every process is on 127.0.0.1 and the rates are the applications' own limits.
   */
  network?: LabNetwork
  /** When each node starts, seconds after the release (`arrivalTimes`). */
  starts: number[]
  /** Aborted when the lab is interrupted: stop every process and return (or throw) promptly. */
  signal: AbortSignal
  /** Call once the release instant is decided (epoch ms), for the live display. */
  onRelease(at: number): void
  /** Call when node `index` is done or has failed, for the live display. */
  onNodeSettled(index: number): void
}

export interface SystemOutcome {
  /** One per node, in index order. Times relative to `releasedAt`; `verified` from the output's SHA-256. */
  nodes: NodeResult[]
  /** The release instant, epoch ms: the origin's egress samples are made relative to it. */
  releasedAt: number
}

/** Runs one system on one scenario, once. */
export type SystemRunner = (ctx: SystemContext) => Promise<SystemOutcome>

/** The systems a lab can run besides dopt. */
export type Baselines = Partial<Record<BaselineKind, SystemRunner>>

/** SHA-256 (hex) of a file; null if it cannot be read (missing). */
export async function sha256OfFile (path: string): Promise<string | null> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer)
  } catch {
    return null
  }
  return hash.digest('hex')
}

/** Wall-clock milliseconds since the Unix epoch, sub-millisecond: the clock every process of a run shares. */
export const wallClock = (): number => performance.timeOrigin + performance.now()
