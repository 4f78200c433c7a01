import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { AbortedError } from '@dopt/interface'
import { nodeIdentity } from '@dopt/node'
import { requiredNodes } from './bounds.js'
import { LabRunError } from './errors.js'
import type { NodeResult } from './fleet-types.js'
import type { FromNode, InitMessage, NodeFigures } from './node-messages.js'
import { NodeProcess, runnerPath } from './node-process.js'
import { NODE_PORT } from './netns-plan.js'
import { freePorts } from './ports.js'
import { sha256OfFile, wallClock } from './system.js'
import type { SystemContext, SystemOutcome } from './system.js'

/** How long node processes may take to start, all together (N processes share two cores). */
const READY_TIMEOUT_MS = 120_000
/**
 * How long the lab waits, once every node listens, for every node to be connected to all the others before it
 * releases them anyway: the mesh's TLS handshakes are start-up too (N·(N-1)/2 of them; at N = 32 they kept both
 * cores busy for seconds after the release when the lab did not wait).
 */
const MESH_TIMEOUT_MS = 60_000
/** Time between sending `go` and the release, so every node has it before the instant. */
const RELEASE_LEAD_MS = 200
const PROGRESS_MS = 250
const ZERO: NodeFigures = { bytesTransferred: 0, bytesFromOrigin: 0, bytesFromPeers: 0, bytesUploaded: 0, cpuSeconds: 0, peakRss: 0 }

/** One node across its processes (a kill-restart gives it a second one). */
interface Slot {
  index: number
  dataDir: string
  output: string
  init: InitMessage
  proc: NodeProcess | null
  /** Figures of the current process, and the sums of the earlier ones. */
  figures: NodeFigures
  earlier: { bytesUploaded: number, cpuSeconds: number, peakRss: number }
  startedAt: number | null
  doneAt: number | null
  error: string | null
  /** Left on purpose (churn leave), or killed on purpose and not back yet: its exit is not a failure. */
  expectingExit: boolean
  left: boolean
  restarts: number
  resumedBytes: number | null
  /** Connected peers, as it last said before its `go`. */
  peers: number
  /** Resolved when it is done, has failed, or left. */
  settled: boolean
  ready: { resolve: () => void, reject: (err: Error) => void } | null
}

/**
 * The dopt system: one `lab-node.js` process per node on 127.0.0.1 (or each in its network namespace, `ctx.network`),
 * each with its own data folder, static full-mesh peers (identities and addresses fixed up front), mDNS off. Every
 * process starts first; all are released at one instant. After its download a node serves peers until the run ends.
 */
export async function runDoptFleet (ctx: SystemContext): Promise<SystemOutcome> {
  const { scenario, signal } = ctx
  const runner = runnerPath()
  const n = scenario.nodes
  // In network namespaces every node has an address of its own (and its own ports); on loopback, a port each.
  const hosts = ctx.network?.nodes
  if (hosts !== undefined && hosts.length < n) throw new LabRunError(`the lab's network has ${hosts.length} node namespaces, not ${n}`)
  const listens = hosts !== undefined
    ? hosts.slice(0, n).map(h => `/ip4/${h.address}/tcp/${NODE_PORT}`)
    : (await freePorts(n)).map(port => `/ip4/127.0.0.1/tcp/${port}`)
  const dirs = Array.from({ length: n }, (_, k) => join(ctx.dir, `node-${k}`))
  await Promise.all(dirs.map(async d => { await mkdir(d, { recursive: true }) }))
  const ids = await Promise.all(dirs.map(async d => await nodeIdentity(join(d, 'data'))))
  const addrs = listens.map((listen, k) => `${listen}/p2p/${ids[k]!}`)
  // In namespaces tc shapes uploads and downloads (netns-plan.ts): dopt's own limits stay off, or both would apply.
  const rates = hosts !== undefined
    ? { uploadRate: 0, foregroundDownloadRate: 0 }
    : { uploadRate: scenario.uploadRate, foregroundDownloadRate: scenario.downloadRate }
  const check = scenario.check === 'sha256'
    ? { sha256: ctx.payload.sha256 }
    : scenario.check === 'manifest' ? { manifest: ctx.payload.manifestCid } : {}

  const slots: Slot[] = dirs.map((dir, k) => ({
    index: k,
    dataDir: join(dir, 'data'),
    output: join(dir, 'payload.bin'),
    init: {
      type: 'init',
      index: k,
      config: {
        // Lab defaults a scenario may change: retry soon after a transient error (the default waits 10 minutes),
        // share every file.
        minimumRetryDelay: 1,
        minFileSizeToCache: 0,
        ...scenario.dopt,
        dataDir: join(dir, 'data'),
        mode: scenario.mode,
        mdns: false,
        listen: [listens[k]!],
        peers: addrs.filter((_, j) => j !== k),
        ...rates,
        pieceSize: scenario.pieceSize
      },
      url: ctx.url,
      output: join(dir, 'payload.bin'),
      displayName: `dopt lab node ${k}`,
      check,
      job: 'new',
      progressInterval: PROGRESS_MS
    },
    proc: null,
    figures: ZERO,
    earlier: { bytesUploaded: 0, cpuSeconds: 0, peakRss: 0 },
    startedAt: null,
    doneAt: null,
    error: null,
    expectingExit: false,
    left: false,
    restarts: 0,
    resumedBytes: null,
    peers: 0,
    settled: false,
    ready: null
  }))

  const required = new Set(requiredNodes(scenario))
  let ending = false
  let wake: () => void = () => {}
  const timers: NodeJS.Timeout[] = []
  const settle = (slot: Slot): void => {
    if (slot.settled) return
    slot.settled = true
    ctx.onNodeSettled(slot.index)
    wake()
  }

  const onMessage = (slot: Slot, proc: NodeProcess, msg: FromNode): void => {
    if (slot.proc !== proc) return // a killed process's last words
    switch (msg.type) {
      case 'ready':
        slot.ready?.resolve()
        return
      case 'peers':
        slot.peers = msg.count
        wake()
        return
      case 'fatal':
        slot.ready?.reject(new LabRunError(`dopt node ${slot.index} did not start: ${msg.message} (${msg.code})`))
        return
      case 'started':
        slot.startedAt ??= msg.at
        if (slot.restarts > 0) slot.resumedBytes = msg.bytesTransferred
        break
      case 'done':
        slot.doneAt = msg.at
        break
      case 'failed':
        slot.error = `job failed: ${msg.message} (${msg.code})`
        break
      default:
        break
    }
    // A process restarted after its download has no job: the job's figures stay those its first process reported.
    slot.figures = slot.init.job === 'none'
      ? { ...slot.figures, bytesUploaded: msg.bytesUploaded, cpuSeconds: msg.cpuSeconds, peakRss: msg.peakRss }
      : pick(msg)
    if (msg.type === 'done' || msg.type === 'failed') settle(slot)
  }

  /** Starts the slot's process and resolves once its node listens. */
  const launch = async (slot: Slot): Promise<void> => {
    const netns = hosts?.[slot.index]?.ns
    const proc: NodeProcess = new NodeProcess(runner, msg => { onMessage(slot, proc, msg) }, netns === undefined ? {} : { netns })
    slot.proc = proc
    const ready = new Promise<void>((resolve, reject) => { slot.ready = { resolve, reject } })
    void proc.exited.then(({ code, signal: sig }) => {
      if (slot.proc !== proc) return
      slot.earlier.bytesUploaded += slot.figures.bytesUploaded
      slot.earlier.cpuSeconds += slot.figures.cpuSeconds
      slot.earlier.peakRss = Math.max(slot.earlier.peakRss, slot.figures.peakRss)
      // The process's own counters are in `earlier` now; the job's figures stay for the next process to update.
      slot.figures = { ...slot.figures, bytesUploaded: 0, cpuSeconds: 0, peakRss: 0 }
      slot.proc = null
      slot.ready?.reject(new LabRunError(`dopt node ${slot.index} exited (${code ?? sig}) before it was ready: ${proc.stderr.trim().slice(-1000)}`))
      if (!slot.expectingExit && !ending && slot.doneAt === null) {
        slot.error ??= `its process exited (${code ?? sig}) during the run: ${proc.stderr.trim().slice(-500)}`
        settle(slot)
      }
      wake()
    })
    proc.send(slot.init)
    const timer = setTimeout(() => { slot.ready?.reject(new LabRunError(`dopt node ${slot.index} did not start within ${READY_TIMEOUT_MS / 1000} s`)) }, READY_TIMEOUT_MS)
    try {
      await ready
    } finally {
      clearTimeout(timer)
      slot.ready = null
    }
  }

  const stopAll = async (): Promise<void> => {
    ending = true
    for (const t of timers) clearTimeout(t)
    await Promise.all(slots.map(async s => { await s.proc?.stop() }))
  }

  const restart = async (slot: Slot, after: number): Promise<void> => {
    slot.expectingExit = true
    const proc = slot.proc
    proc?.kill()
    await proc?.exited
    await new Promise(resolve => setTimeout(resolve, after * 1000))
    if (ending) return
    slot.restarts++
    slot.init = { ...slot.init, job: slot.doneAt !== null ? 'none' : slot.startedAt !== null ? 'resume' : 'new' }
    try {
      await launch(slot)
    } catch (err) {
      slot.error = `restart failed: ${(err as Error).message}`
      settle(slot)
      return
    }
    slot.expectingExit = false
    slot.proc?.send({ type: 'go', startAt: Math.max(wallClock(), releasedAt + (ctx.starts[slot.index] ?? 0) * 1000) })
  }

  const onAbort = (): void => { wake() }
  signal.addEventListener('abort', onAbort)
  let releasedAt = 0
  let peersAtRelease: number[] = []
  try {
    await Promise.all(slots.map(launch))
    if (signal.aborted) throw new AbortedError('the lab was interrupted')
    await until(() => signal.aborted || slots.every(s => s.peers >= n - 1), MESH_TIMEOUT_MS, w => { wake = w })
    if (signal.aborted) throw new AbortedError('the lab was interrupted')
    peersAtRelease = slots.map(s => s.peers)

    if (scenario.arrival.kind === 'seed-first') {
      // The seed downloads before the release (untimed), then serves from its cache.
      const seed = slots[0]!
      seed.proc?.send({ type: 'go', startAt: wallClock() })
      await until(() => seed.settled || signal.aborted, scenario.timeout * 1000, w => { wake = w })
      if (signal.aborted) throw new AbortedError('the lab was interrupted')
      if (seed.doneAt === null) throw new LabRunError(`the seed (node 0) did not get the file before the release: ${seed.error ?? `not done within ${scenario.timeout} s`}`)
    }

    releasedAt = wallClock() + RELEASE_LEAD_MS
    ctx.onRelease(releasedAt)
    for (const slot of slots) {
      if (scenario.arrival.kind === 'seed-first' && slot.index === 0) continue
      slot.proc?.send({ type: 'go', startAt: releasedAt + (ctx.starts[slot.index] ?? 0) * 1000 })
    }
    for (const event of scenario.churn) {
      const slot = slots[event.node]!
      const delay = releasedAt + event.at * 1000 - wallClock()
      timers.push(setTimeout(() => {
        if (ending || slot.proc === null) return
        if (event.action === 'leave') {
          slot.expectingExit = true
          slot.left = true
          slot.proc.terminate()
          settle(slot)
          return
        }
        void restart(slot, event.restartAfter ?? 1)
      }, Math.max(0, delay)))
    }

    const deadline = releasedAt + scenario.timeout * 1000
    await until(() => signal.aborted || [...required].every(k => slots[k]!.settled), deadline - wallClock(), w => { wake = w })
    if (signal.aborted) throw new AbortedError('the lab was interrupted')
  } finally {
    signal.removeEventListener('abort', onAbort)
    await stopAll()
  }

  const nodes: NodeResult[] = []
  for (const slot of slots) {
    const t = (at: number): number => (at - releasedAt) / 1000
    let verified = false
    let error = slot.error
    if (slot.doneAt !== null) {
      verified = await sha256OfFile(slot.output) === ctx.payload.sha256
      if (!verified) error = 'its output does not match the payload\'s SHA-256'
    } else if (slot.left) {
      error = `left at ${scenario.churn.find(e => e.node === slot.index && e.action === 'leave')?.at ?? '?'} s (churn) before it was done`
    } else {
      error ??= `not done when the run ended after ${scenario.timeout} s`
    }
    const result: NodeResult = {
      index: slot.index,
      start: slot.startedAt === null ? (ctx.starts[slot.index] ?? 0) : t(slot.startedAt),
      done: verified && slot.doneAt !== null ? t(slot.doneAt) : null,
      bytesFromOrigin: slot.figures.bytesFromOrigin,
      bytesFromPeers: slot.figures.bytesFromPeers,
      bytesUploaded: slot.earlier.bytesUploaded + slot.figures.bytesUploaded,
      cpuSeconds: slot.earlier.cpuSeconds + slot.figures.cpuSeconds,
      peakRss: Math.max(slot.earlier.peakRss, slot.figures.peakRss),
      verified
    }
    if (error !== null && !verified) result.error = error
    if (scenario.arrival.kind === 'seed-first' && slot.index === 0) result.seed = true
    if (slot.restarts > 0) result.restarts = slot.restarts
    if (slot.resumedBytes !== null) result.resumedBytes = slot.resumedBytes
    result.peersAtRelease = peersAtRelease[slot.index] ?? 0
    nodes.push(result)
  }
  return { nodes, releasedAt }
}

function pick (f: NodeFigures): NodeFigures {
  return {
    bytesTransferred: f.bytesTransferred,
    bytesFromOrigin: f.bytesFromOrigin,
    bytesFromPeers: f.bytesFromPeers,
    bytesUploaded: f.bytesUploaded,
    cpuSeconds: f.cpuSeconds,
    peakRss: f.peakRss
  }
}

/**
 * Waits until `done()` holds or `ms` pass. `setWake` receives a function that re-checks at once (called on every
 * event that may change the answer); a 1 s poll bounds the wait even if a wake-up is missed.
 */
async function until (done: () => boolean, ms: number, setWake: (wake: () => void) => void): Promise<void> {
  const deadline = wallClock() + ms
  while (!done() && wallClock() < deadline) {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, Math.max(0, Math.min(1000, deadline - wallClock())))
      setWake(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
  setWake(() => {})
}
