/**
 * ## Baseline: aria2 with a BEP 19 web seed
 *
 * (DOC-BLOCK)
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { copyFile, mkdir, stat } from 'node:fs/promises'
import { basename, isAbsolute, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { AbortedError, InvalidArgumentError } from '@dopt/interface'
import { Aria2Process } from './aria2-client.js'
import { arrivalOffsets } from './arrivals.js'
import { BaselineFailedError, BaselineUnavailableError } from './errors.js'
import { freePorts } from './ports.js'
import { hashTorrentInfo, torrentFile } from './torrent.js'
import { startTracker } from './tracker.js'
import type { Aria2Status } from './aria2-client.js'
import type { NodeResult, Scenario } from './fleet-types.js'
import type { Tracker } from './tracker.js'
import type { Origin } from './types.js'

export interface Aria2FleetInit {
  /** nodes, fileSize, pieceSize, uploadRate, downloadRate, arrival, churn, timeout are used. */
  scenario: Scenario
  /** `aria2-random` adds `--stream-piece-selector=random` (the strong baseline). */
  kind: 'aria2' | 'aria2-random'
  /** The payload on disk (the origin serves it). */
  payloadPath: string
  /** Hex SHA-256 of the payload; every client's output is checked against it. */
  payloadSha256: string
  /** A started origin; the run registers one alias path per client on it (`/aria2/<run>/c<k>/<name>`). */
  origin: Origin
  /** An empty folder for the torrent, the clients' folders and their logs. */
  workDir: string
  signal?: AbortSignal
  /** The aria2c binary. @default 'aria2c' (looked up on `env.PATH`) */
  binary?: string
  /** Environment of the aria2c and opentracker processes (and the PATH they are looked up on). @default process.env */
  env?: NodeJS.ProcessEnv
  /** `auto`: Debian's opentracker if it is on the PATH, else the built-in tracker. @default 'auto' */
  tracker?: 'auto' | 'builtin'
  /** More aria2c options for experiments, after the lab's (a later option wins). @default [] */
  aria2Options?: string[]
  /** Told the release instant (epoch ms) when it is decided, for a live display. */
  onRelease?(at: number): void
}

export interface Aria2FleetResult {
  /** One per client, times relative to the release instant. */
  nodes: NodeResult[]
  /** Date.now() at the release. */
  releaseTime: number
  tracker: 'opentracker' | 'builtin'
  aria2Version: string
  /** Every peer address any client reported (`aria2.getPeers`, sampled each second): 127.0.0.1 only, or a leak. */
  peerAddresses: string[]
  /** The options every client ran with (RPC ones left out), for the report. */
  aria2Options: string[]
}

/** How often each downloading client is asked for its status: bounds the error of a `done` time. */
const POLL_MS = 50
/** How often CPU, memory, upload counters and peer lists are sampled. */
const SLOW_POLL_MS = 1000
/** How long the seed of `seed-first` may take to check its copy and announce itself, before the release. */
const SEED_READY_MS = 30_000

type Action = { at: number, kind: 'start' | 'leave' | 'kill' | 'restart', node: number, restartAfter?: number }

interface Client {
  index: number
  dir: string
  alias: string
  torrent: string
  /**
   * Ports its BitTorrent listener may take, in order (aria2c binds the first free one when its download starts,
   * long after they were picked: another client's RPC port may have taken one meanwhile).
   */
  listenPort: string
  offset: number
  proc: Aria2Process | null
  gid: string | null
  startAt: number | null
  doneAt: number | null
  finished: boolean
  error?: string
  completed: number
  /** CPU seconds and upload bytes of earlier incarnations (kill-restart); `base` is the current one's at its start. */
  cpuBefore: number
  cpuBase: number
  cpuLast: number
  peakRss: number
  uploadBefore: number
  uploadLast: number
}

/** aria2c's version, or why it cannot run (missing binary, not aria2, broken install). */
export async function aria2Available (options: { binary?: string, env?: NodeJS.ProcessEnv } = {}): Promise<{ ok: true, version: string } | { ok: false, reason: string }> {
  const binary = options.binary ?? 'aria2c'
  return await new Promise(resolve => {
    let out = ''
    const child = spawn(binary, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], env: options.env ?? process.env, timeout: 10_000 })
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolve({
        ok: false,
        reason: err.code === 'ENOENT'
          ? `${binary} not found${binary.includes('/') ? '' : ' on the PATH'} (Debian: apt-get install aria2)`
          : `${binary} could not run: ${err.message}`
      })
    })
    child.once('close', code => {
      const m = /^aria2 version (\S+)/m.exec(out)
      if (code === 0 && m !== null) resolve({ ok: true, version: m[1]! })
      else if (code !== null) resolve({ ok: false, reason: `${binary} --version failed (exit ${code}): not a working aria2c` })
    })
  })
}

/** The aria2c options of one client (besides RPC), as the module comment explains. */
export function aria2ClientOptions (init: Pick<Aria2FleetInit, 'scenario' | 'kind'>, dir: string, listenPort: number | string): string[] {
  const s = init.scenario
  return [
    '--no-conf=true', '--no-netrc=true', `--dir=${dir}`, `--log=${join(dir, 'aria2.log')}`, '--log-level=notice',
    '--quiet=true', '--summary-interval=0', '--enable-color=false',
    // Nothing leaves 127.0.0.0/8.
    '--interface=127.0.0.1', '--disable-ipv6=true', `--listen-port=${listenPort}`,
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    // The scenario's per-node limits; 0 means none, as in the scenario.
    `--max-overall-upload-limit=${s.uploadRate}`, `--max-overall-download-limit=${s.downloadRate ?? 0}`,
    // Seed until the run ends, as dopt nodes keep serving; every peer may connect to every other.
    '--seed-ratio=0.0', `--bt-max-peers=${Math.max(55, s.nodes)}`,
    // No control file while downloading: a SIGKILLed client restarts by checking the pieces it has on disk
    // (--check-integrity on the re-add) and resumes from them (--continue), its upload counter from 0.
    '--continue=true', '--auto-save-interval=0', '--file-allocation=none',
    '--rpc-save-upload-metadata=false', '--rpc-max-request-size=16M',
    ...(init.kind === 'aria2-random' ? ['--stream-piece-selector=random'] : [])
  ]
}

/**
 * Runs the scenario's fleet of aria2c clients on one torrent whose web seed is `origin`, and reports each client
 * as dopt's nodes are reported. Every process it started is gone when it returns or throws.
 */
export async function runAria2Fleet (init: Aria2FleetInit): Promise<Aria2FleetResult> {
  const { scenario, origin, workDir, signal } = init
  const n = scenario.nodes
  validate(init)
  signal?.throwIfAborted()
  const binary = init.binary ?? 'aria2c'
  const available = await aria2Available({ binary, env: init.env })
  if (!available.ok) throw new BaselineUnavailableError(available.reason)
  const { size } = await stat(init.payloadPath)
  if (size !== scenario.fileSize) {
    throw new InvalidArgumentError(`The payload has ${size} bytes, the scenario says ${scenario.fileSize}`, { path: init.payloadPath })
  }

  const name = basename(init.payloadPath)
  const info = await hashTorrentInfo(init.payloadPath, name, scenario.pieceSize ?? 1024 * 1024)
  const run = randomBytes(4).toString('hex')
  const offsets = arrivalOffsets(scenario.arrival, n)
  const seedFirst = scenario.arrival.kind === 'seed-first'
  const clients: Client[] = []
  const tasks = new Set<Promise<unknown>>()
  let tracker: Tracker | undefined
  const peerAddresses = new Set<string>()

  const startProcess = async (c: Client): Promise<Aria2Process> =>
    await Aria2Process.start({
      binary, env: init.env, options: [...aria2ClientOptions(init, c.dir, c.listenPort), ...(init.aria2Options ?? [])]
    })
  const addTorrent = async (c: Client, proc: Aria2Process, options: Record<string, string>): Promise<string> =>
    await proc.call<string>('aria2.addTorrent', [c.torrent, [], options])

  try {
    tracker = await startTracker({ infoHashes: [info.infoHash], workDir, prefer: init.tracker, path: init.env?.PATH })
    // Three distinct ports per client, picked together.
    const ports = await freePorts(3 * n)
    for (let k = 0; k < n; k++) {
      const dir = join(workDir, `c${k}`)
      await mkdir(dir, { recursive: true })
      const alias = `/aria2/${run}/c${k}/${encodeURIComponent(name)}`
      origin.setFile(alias, { file: init.payloadPath })
      const torrent = Buffer.from(torrentFile(info, { announce: tracker.announceUrl, urlList: [origin.url(alias)] })).toString('base64')
      clients.push({
        index: k, dir, alias, torrent, listenPort: ports.slice(3 * k, 3 * k + 3).join(','), offset: offsets[k] ?? 0, proc: null, gid: null,
        startAt: null, doneAt: null, finished: false, completed: 0, cpuBefore: 0, cpuBase: 0, cpuLast: 0, peakRss: 0,
        uploadBefore: 0, uploadLast: 0
      })
    }
    const procs = await Promise.all(clients.map(startProcess))
    clients.forEach((c, k) => { c.proc = procs[k]! })
    signal?.throwIfAborted()

    if (seedFirst) await prepareSeed(clients[0]!, init, addTorrent, tracker, info.infoHash, name)
    const downloaders = clients.filter(c => !(seedFirst && c.index === 0))
    await Promise.all(downloaders.map(async c => { c.gid = await addTorrent(c, c.proc!, { pause: 'true' }) }))
    for (const c of clients) {
      const sample = await c.proc!.sample()
      c.cpuBase = c.cpuLast = sample?.cpuSeconds ?? 0
      c.peakRss = sample?.peakRss ?? 0
    }
    signal?.throwIfAborted()

    // The release: every client whose offset is 0 is unpaused at once; the rest at their offsets.
    const releaseTime = Date.now()
    init.onRelease?.(releaseTime)
    const actions: Action[] = downloaders.map(c => ({ at: releaseTime + c.offset * 1000, kind: 'start', node: c.index }))
    for (const e of scenario.churn ?? []) {
      actions.push({ at: releaseTime + e.at * 1000, kind: e.action === 'leave' ? 'leave' : 'kill', node: e.node, restartAfter: e.restartAfter ?? 1 })
    }
    actions.sort((a, b) => a.at - b.at)

    const doAction = (a: Action): void => {
      const c = clients[a.node]!
      if (a.kind === 'start') {
        if (c.proc === null || c.gid === null || c.finished) return
        const proc = c.proc
        const gid = c.gid
        c.startAt = Date.now()
        track(tasks, proc.call('aria2.unpause', [gid]).catch(() => { /* a dead client shows in its status */ }))
      } else if (a.kind === 'leave') {
        const proc = c.proc
        c.proc = null
        if (c.doneAt === null && !c.finished) c.error = `left at ${(a.at - releaseTime) / 1000} s (churn)`
        c.finished = true
        if (proc !== null) track(tasks, retire(c, proc).finally(async () => { await proc.stop() }))
      } else if (a.kind === 'kill') {
        const proc = c.proc
        if (proc === null) return
        c.proc = null
        track(tasks, retire(c, proc).finally(() => { proc.kill() }))
        actions.push({ at: Date.now() + (a.restartAfter ?? 1) * 1000, kind: 'restart', node: c.index })
        actions.sort((x, y) => x.at - y.at)
      } else if (c.error === undefined) {
        // Restart in the same folder; --continue resumes from the control file, --check-integrity re-checks what
        // the kill may have left half-written.
        track(tasks, (async () => {
          const proc = await startProcess(c)
          c.cpuBase = c.cpuLast = (await proc.sample())?.cpuSeconds ?? 0
          c.gid = await addTorrent(c, proc, { 'check-integrity': 'true' })
          c.startAt ??= Date.now()
          c.proc = proc
        })().catch((err: unknown) => {
          c.error = `restart failed: ${(err as Error).message}`
          c.finished = true
        }))
      }
    }

    const deadline = releaseTime + (scenario.timeout ?? 300) * 1000
    let lastSlow = 0
    for (;;) {
      if (signal?.aborted === true) throw new AbortedError('The aria2 fleet run was aborted')
      while (actions.length > 0 && actions[0]!.at <= Date.now()) doAction(actions.shift()!)
      if (clients.every(c => c.finished)) break
      if (Date.now() > deadline) {
        for (const c of clients) {
          if (!c.finished) c.error = `not done after ${scenario.timeout ?? 300} s (timeout)`
        }
        break
      }
      await Promise.all(clients.filter(c => !c.finished && c.startAt !== null).map(async c => { await pollStatus(c) }))
      if (Date.now() - lastSlow >= SLOW_POLL_MS) {
        lastSlow = Date.now()
        await Promise.all(clients.map(async c => { await slowSample(c, peerAddresses) }))
      }
      const next = actions[0]?.at ?? Infinity
      await sleep(Math.max(0, Math.min(POLL_MS, next - Date.now())))
    }

    await Promise.allSettled([...tasks])
    await Promise.all(clients.map(async c => { await slowSample(c, peerAddresses) }))
    await stopAll(clients)

    const originBytes = new Map<string, number>()
    for (const r of origin.requests) originBytes.set(r.path, (originBytes.get(r.path) ?? 0) + r.bytesSent)
    const nodes: NodeResult[] = []
    for (const c of clients) {
      nodes.push(await nodeResult(c, init, name, releaseTime, originBytes.get(c.alias) ?? 0, seedFirst))
    }
    return {
      nodes,
      releaseTime,
      tracker: tracker.kind,
      aria2Version: available.version,
      peerAddresses: [...peerAddresses].sort(),
      aria2Options: [...aria2ClientOptions(init, '<client dir>', '<free port>'), ...(init.aria2Options ?? [])]
    }
  } finally {
    await Promise.allSettled([...tasks])
    await stopAll(clients)
    await tracker?.close()
  }
}

/** Seed-first: client 0 gets a copy of the payload, checks it against the torrent, and is a seed at the release. */
async function prepareSeed (
  c: Client, init: Aria2FleetInit, addTorrent: (c: Client, p: Aria2Process, o: Record<string, string>) => Promise<string>,
  tracker: Tracker, infoHash: Uint8Array, name: string
): Promise<void> {
  await copyFile(init.payloadPath, join(c.dir, name))
  c.gid = await addTorrent(c, c.proc!, { 'check-integrity': 'true' })
  const deadline = Date.now() + SEED_READY_MS
  for (;;) {
    init.signal?.throwIfAborted()
    const s = await c.proc!.status(c.gid)
    if (s.status === 'error') throw new BaselineFailedError(`The seed failed to check its copy: ${s.errorMessage ?? ''}`)
    if (isComplete(s) && await tracker.seeders(infoHash) >= 1) break
    if (Date.now() > deadline) throw new BaselineFailedError('The seed was not seeding within 30 s')
    await sleep(POLL_MS)
  }
  c.startAt = c.doneAt = Date.now()
  c.finished = true
}

async function pollStatus (c: Client): Promise<void> {
  const proc = c.proc
  if (proc === null || c.gid === null) return
  let s: Aria2Status
  try {
    s = await proc.status(c.gid)
  } catch (err) {
    if (c.proc === proc && !proc.alive) {
      c.error = `aria2c exited: ${proc.stderr === '' ? (err as Error).message : proc.stderr}`
      c.finished = true
    }
    return
  }
  // Churn may have retired this process meanwhile: its figures were booked then.
  if (c.proc !== proc) return
  c.uploadLast = Number(s.uploadLength)
  c.completed = Number(s.completedLength)
  if (s.status === 'error' || s.status === 'removed') {
    c.error = `aria2 error ${s.errorCode ?? ''}: ${s.errorMessage ?? s.status}`
    c.finished = true
  } else if (isComplete(s) && c.doneAt === null) {
    c.doneAt = Date.now()
    c.finished = true
  }
}

function isComplete (s: Aria2Status): boolean {
  return Number(s.totalLength) > 0 && s.completedLength === s.totalLength
}

/** Upload counter, CPU, memory and peers of a live client. */
async function slowSample (c: Client, peerAddresses: Set<string>): Promise<void> {
  const proc = c.proc
  if (proc === null || !proc.alive) return
  const sample = await proc.sample()
  if (sample !== null && c.proc === proc) {
    c.cpuLast = sample.cpuSeconds
    c.peakRss = Math.max(c.peakRss, sample.peakRss)
  }
  if (c.gid === null) return
  try {
    const [s, peers] = await Promise.all([proc.status(c.gid), proc.peers(c.gid)])
    if (c.proc === proc) c.uploadLast = Number(s.uploadLength)
    for (const p of peers) peerAddresses.add(p.ip)
  } catch { /* gone meanwhile: its last figures stand */ }
}

/** Takes a client's last figures before its process goes (churn), and books them to earlier incarnations. */
async function retire (c: Client, proc: Aria2Process): Promise<void> {
  const gid = c.gid
  const sample = await proc.sample()
  try {
    if (gid !== null) c.uploadLast = Number((await proc.status(gid)).uploadLength)
  } catch { /* keep the last polled figure */ }
  c.cpuBefore += (sample?.cpuSeconds ?? c.cpuLast) - c.cpuBase
  c.peakRss = Math.max(c.peakRss, sample?.peakRss ?? 0)
  c.uploadBefore += c.uploadLast
  c.cpuBase = c.cpuLast = 0
  c.uploadLast = 0
  c.gid = null
}

async function stopAll (clients: Client[]): Promise<void> {
  await Promise.all(clients.map(async c => {
    const proc = c.proc
    c.proc = null
    if (proc !== null) await proc.stop()
  }))
}

async function nodeResult (
  c: Client, init: Aria2FleetInit, name: string, releaseTime: number, fromOrigin: number, seedFirst: boolean
): Promise<NodeResult> {
  const size = init.scenario.fileSize
  const seed = seedFirst && c.index === 0
  let verified = false
  let error = c.error
  if (c.doneAt !== null) {
    verified = await sha256File(join(c.dir, name)).then(h => h === init.payloadSha256.toLowerCase(), () => false)
    if (!verified) error ??= 'its output does not match the payload SHA-256'
  }
  const result: NodeResult = {
    index: c.index,
    start: seed ? 0 : c.startAt === null ? c.offset : (c.startAt - releaseTime) / 1000,
    done: c.doneAt === null || !verified ? null : seed ? 0 : (c.doneAt - releaseTime) / 1000,
    bytesFromOrigin: fromOrigin,
    bytesFromPeers: seed ? 0 : Math.max(0, (c.doneAt !== null ? size : c.completed) - fromOrigin),
    bytesUploaded: c.uploadBefore + c.uploadLast,
    cpuSeconds: Math.round(Math.max(0, c.cpuBefore + c.cpuLast - c.cpuBase) * 1000) / 1000,
    peakRss: c.peakRss,
    verified
  }
  if (error !== undefined) result.error = error
  return result
}

function validate (init: Aria2FleetInit): void {
  const s = init.scenario
  if (!Number.isSafeInteger(s.nodes) || s.nodes < 1) throw new InvalidArgumentError(`Not a node count: ${s.nodes}`)
  if (init.kind !== 'aria2' && init.kind !== 'aria2-random') throw new InvalidArgumentError(`Not an aria2 baseline: ${String(init.kind)}`)
  if (!(s.uploadRate >= 0) || !((s.downloadRate ?? 0) >= 0)) throw new InvalidArgumentError('Rates must be >= 0')
  if (!isAbsolute(init.payloadPath) || !isAbsolute(init.workDir)) throw new InvalidArgumentError('payloadPath and workDir must be absolute')
  if (!/^[0-9a-fA-F]{64}$/.test(init.payloadSha256)) throw new InvalidArgumentError('payloadSha256 must be 64 hex digits')
  if (!((s.timeout ?? 300) > 0)) throw new InvalidArgumentError('The timeout must be > 0')
  for (const e of s.churn ?? []) {
    if (!Number.isSafeInteger(e.node) || e.node < 0 || e.node >= s.nodes) throw new InvalidArgumentError(`No node ${e.node} to churn`)
    if (!(e.at >= 0) || !((e.restartAfter ?? 1) >= 0)) throw new InvalidArgumentError('Churn times must be >= 0')
  }
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) hash.update(chunk)
  return hash.digest('hex')
}

function track (tasks: Set<Promise<unknown>>, task: Promise<unknown>): void {
  tasks.add(task)
  void task.finally(() => tasks.delete(task)).catch(() => {})
}
