import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { manifestOfFile, toHex } from '@dopt/content'
import { AbortedError } from '@dopt/interface'
import { BASELINES } from './baselines.js'
import { aria2Available } from './baseline-aria2.js'
import { arrivalTimes, lowerBounds, requiredNodes } from './bounds.js'
import { runDoptFleet } from './dopt-fleet.js'
import { sampleCounter } from './egress.js'
import type { EgressSamples } from './egress.js'
import { ScenarioError } from './errors.js'
import type { NodeResult, Report, SystemRun } from './fleet-types.js'
import { doptInfo, machineInfo } from './machine.js'
import { assertNetnsAvailable, createNetwork } from './netns.js'
import type { LabNetwork } from './netns.js'
import { startOrigin } from './origin-server.js'
import { writeRandomFile } from './random-file.js'
import type { ResolvedScenario } from './scenario.js'
import { summarize } from './summary.js'
import { wallClock } from './system.js'
import type { Baselines, Payload, SystemRunner } from './system.js'

/** Where the payload sits on each run's origin. */
export const PAYLOAD_PATH = '/payload.bin'
/** Where a publisher's manifest sits beside its file: what the engine fetches for a pinned CID. */
export const MANIFEST_SUFFIX = '.dopt-manifest'
const EGRESS_SAMPLE_MS = 100

/** What the live display shows. */
export interface LabProgress {
  system: SystemRun['system']
  /** 1-based, of `repeats`. */
  repeat: number
  repeats: number
  nodes: number
  /** Nodes done or failed so far. */
  settled: number
  /** Seconds since the release; null while the nodes start. */
  elapsed: number | null
  /** Body bytes the origin has sent in this run. */
  originBytes: number
  fileSize: number
}

export interface LabInit {
  scenario: ResolvedScenario
  /** Runs of each system. @default 1 */
  repeat?: number
  /** Folder under which the payload and the nodes' data folders live (in a temporary folder, removed after). @default os.tmpdir() */
  workDir?: string
  /** Keep that temporary folder. @default false */
  keep?: boolean
  /**
   * Systems other than dopt that can run, by name; a scenario asking for another fails before any run.
   * @default BASELINES (what this build has)
   */
  baselines?: Baselines
  signal?: AbortSignal
  onProgress?: (progress: LabProgress) => void
  /** @default 250 ms */
  progressInterval?: number
}

/**
 * Runs a scenario: dopt, then each baseline, `repeat` times over, each run on a fresh origin with the scenario's
 * egress cap and with every process released at one instant. Resolves with the report (not yet written: see
 * writeReport). Interrupted through `signal`, it stops every process and rejects with ABORTED.
 */
export async function runLab (init: LabInit): Promise<Report> {
  const { scenario } = init
  const repeats = init.repeat ?? 1
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new ScenarioError('repeat', `must be a whole number from 1 to 100, not ${repeats}`)
  const netns = scenario.network.mode === 'netns'
  // Before anything starts: NETNS_UNAVAILABLE says why this machine cannot (not root, no ip/tc, no netem).
  if (netns) await assertNetnsAvailable({ netem: (scenario.network.latency ?? 0) > 0 || (scenario.network.loss ?? 0) > 0 })
  const { systems, skipped } = await runnable(systemsFor(scenario, init.baselines), netns)
  const signal = init.signal ?? new AbortController().signal
  const startedAt = new Date().toISOString()
  const work = await mkdtemp(join(init.workDir ?? tmpdir(), 'dopt-lab-'))
  let network: LabNetwork | undefined
  try {
    const payload = await makePayload(work, scenario)
    // One network for the whole lab: every run gets fresh processes and a fresh origin in the same namespaces.
    if (netns) {
      network = await createNetwork(scenario.nodes, {
        originRate: scenario.originRate,
        uploadRate: scenario.uploadRate,
        downloadRate: scenario.downloadRate,
        latency: scenario.network.latency ?? 0,
        loss: scenario.network.loss ?? 0
      })
    }
    const runs: SystemRun[] = []
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const [system, runner] of systems) {
        if (signal.aborted) throw new AbortedError('the lab was interrupted')
        runs.push(await runSystem(system, runner, { ...init, signal, network }, payload, join(work, `${system}-${repeat}`), repeat, repeats))
      }
    }
    const bounds = lowerBounds(scenario)
    return {
      scenario,
      machine: machineInfo(),
      dopt: await doptInfo(),
      startedAt,
      bounds,
      runs,
      limits: netns ? 'tc' : 'application',
      ...(skipped.length > 0 ? { skipped } : {}),
      summary: summarize(runs, scenario, bounds)
    }
  } finally {
    await network?.destroy()
    if (init.keep !== true) await rm(work, { recursive: true, force: true })
  }
}

/**
 * dopt, then the scenario's baselines, with their runners; ScenarioError naming the first baseline this build
 * cannot run (checked before anything starts).
 */
export function systemsFor (scenario: Pick<ResolvedScenario, 'baselines'>, baselines: Baselines = BASELINES): Array<[SystemRun['system'], SystemRunner]> {
  const systems: Array<[SystemRun['system'], SystemRunner]> = [['dopt', runDoptFleet]]
  for (const name of scenario.baselines) {
    const runner = baselines[name]
    if (runner === undefined) {
      throw new ScenarioError('baselines', `"${name}" is not available in this build (no runner for it in packages/lab/src/baselines.ts)`)
    }
    systems.push([name, runner])
  }
  return systems
}

/** Why the aria2 baselines do not run in network namespaces. */
export const ARIA2_NETNS_REASON = 'the aria2 baseline runs on 127.0.0.1 only: the lab drives each aria2c over JSON-RPC on its 127.0.0.1 and runs the tracker there, which the lab\'s own process could not reach inside network namespaces without linking the host\'s namespace to them; run it without netns'

/**
 * Leaves out the aria2 baselines when aria2c cannot run here, or in network namespaces (`netns`): the lab says so
 * (Report.skipped) and runs the rest.
 */
async function runnable (systems: Array<[SystemRun['system'], SystemRunner]>, netns = false): Promise<{ systems: Array<[SystemRun['system'], SystemRunner]>, skipped: NonNullable<Report['skipped']> }> {
  if (!systems.some(([name]) => name.startsWith('aria2'))) return { systems, skipped: [] }
  const aria2 = netns ? { ok: false as const, reason: ARIA2_NETNS_REASON } : await aria2Available()
  if (aria2.ok) return { systems, skipped: [] }
  return {
    systems: systems.filter(([name]) => !name.startsWith('aria2')),
    skipped: systems.filter(([name]) => name.startsWith('aria2')).map(([system]) => ({ system, reason: aria2.reason }))
  }
}

/** The payload file (seeded random bytes), its SHA-256 and its manifest, made once per lab. */
async function makePayload (work: string, scenario: ResolvedScenario): Promise<Payload> {
  const path = join(work, 'payload.bin')
  await writeRandomFile(path, scenario.fileSize, scenario.seed)
  // No source URL in the manifest: each run's origin has its own port, and the CID stays the same across runs.
  const { manifest, bytes, cid } = await manifestOfFile(path, { pieceSize: scenario.pieceSize })
  return { path, size: scenario.fileSize, sha256: toHex(manifest.sha256!), manifestCid: cid, manifestBytes: bytes }
}

async function runSystem (
  system: SystemRun['system'], runner: SystemRunner, init: LabInit & { signal: AbortSignal, network: LabNetwork | undefined },
  payload: Payload, dir: string, repeat: number, repeats: number
): Promise<SystemRun> {
  const { scenario, network } = init
  await mkdir(dir, { recursive: true })
  // In namespaces the origin serves on a socket opened in its namespace, and tc caps its egress (not the bucket).
  const origin = network === undefined
    ? await startOrigin({ egressRate: scenario.originRate })
    : await startOrigin({ handle: await network.listen(network.origin), host: network.origin.address })
  origin.setFile(PAYLOAD_PATH, { file: payload.path })
  origin.setFile(PAYLOAD_PATH + MANIFEST_SUFFIX, { data: payload.manifestBytes })
  const sampler = sampleCounter(() => origin.bytesSent, EGRESS_SAMPLE_MS)
  let releasedAt: number | null = null
  let settled = 0
  const progress = (): void => {
    init.onProgress?.({
      system, repeat, repeats, nodes: scenario.nodes, settled, fileSize: scenario.fileSize, originBytes: origin.bytesSent,
      elapsed: releasedAt === null || wallClock() < releasedAt ? null : (wallClock() - releasedAt) / 1000
    })
  }
  const ticker = setInterval(progress, init.progressInterval ?? 250)
  try {
    progress()
    const outcome = await runner({
      scenario, origin, url: origin.url(PAYLOAD_PATH), payload, dir, starts: arrivalTimes(scenario), signal: init.signal,
      ...(network === undefined ? {} : { network }),
      onRelease: at => { releasedAt = at },
      onNodeSettled: () => { settled++ }
    })
    progress()
    const samples = sampler.stop()
    return systemRun(system, scenario, outcome.nodes, outcome.releasedAt, {
      bytesSent: origin.bytesSent, requests: origin.requests.length, samples
    })
  } finally {
    clearInterval(ticker)
    sampler.stop()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** A run's figures from its nodes and what its origin saw. */
export function systemRun (
  system: SystemRun['system'], scenario: ResolvedScenario, nodes: NodeResult[], releasedAt: number,
  origin: { bytesSent: number, requests: number, samples: EgressSamples }
): SystemRun {
  const required = requiredNodes(scenario)
  const dones = required.map(k => nodes[k]?.done ?? null)
  const lastDone = dones.length === 0 || dones.some(d => d === null) ? null : Math.max(...(dones as number[]))
  return {
    system,
    nodes,
    origin: { bytesSent: origin.bytesSent, requests: origin.requests, egress: relativeEgress(origin.samples, releasedAt) },
    lastDone,
    originCopies: origin.bytesSent / scenario.fileSize,
    releasedAt: new Date(releasedAt).toISOString()
  }
}

/**
 * Egress samples in seconds after the release. Before the release only what matters is kept: nothing but a 0 at
 * the release when the origin was idle, the samples since its first byte when it was not (seed-first's seed).
 */
export function relativeEgress (samples: EgressSamples, releasedAt: number): Array<[number, number]> {
  const round = (t: number): number => Math.round((t - releasedAt)) / 1000
  const before = samples.filter(([t]) => t < releasedAt)
  const after = samples.filter(([t]) => t >= releasedAt).map(([t, b]): [number, number] => [round(t), b])
  const atRelease = before.at(-1)?.[1] ?? 0
  if (atRelease === 0) return [[0, 0], ...after]
  const firstBusy = before.findIndex(([, b]) => b > 0)
  const kept = before.slice(Math.max(0, firstBusy - 1)).map(([t, b]): [number, number] => [round(t), b])
  return [...kept, [0, atRelease], ...after]
}
