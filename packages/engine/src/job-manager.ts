import { JOB_PRIORITIES, InvalidArgumentError, JobNotFoundError, NodeStoppedError } from '@dopt/interface'
import type { CreateJobOptions, Job, JobManager, JobPriority, JobType } from '@dopt/interface'
import type { OriginClient } from '@dopt/origin'
import type { Store } from '@dopt/store'
import { JobFileImpl } from './job-file.js'
import { JobImpl } from './job.js'
import { Notifier } from './notifier.js'
import { OriginSource } from './origin-source.js'
import { RateLimiter } from './rate-limiter.js'
import { engineSettings } from './settings.js'
import type { EngineContext } from './context.js'
import type { EngineInit, EngineSettings } from './settings.js'
import { checkDisplayName, checkNotAborted } from './validate.js'
import type { SeedCache } from './cache.js'
import type { PeerNetwork } from './network.js'
import { Bans } from './bans.js'
import type { Ban } from './bans.js'
import type { LiveRegistry } from './live-content.js'
import { PieceMemory } from './piece-memory.js'
import { PieceHasher } from './piece-hasher.js'
import type { PeerContext } from './transfer.js'

export interface JobEngineComponents {
  store: Store
  originClient: OriginClient
  /**
   * Hashes pieces off the receiving thread. Left out, the engine makes its own and ends it on `stop()`; one passed
   * in stays the caller's to close.
   */
  hasher?: PieceHasher
  /** Peers; leave out for download mode `http`. */
  peers?: {
    network: PeerNetwork
    /** This node's peer id. */
    self: string
    /** Where the network's content server finds running downloads (see ContentServerImpl). */
    live: LiveRegistry
    /** The group is private (pre-shared key). */
    privateGroup: boolean
    /** Read pieces served from running downloads with O_DIRECT where possible. */
    directReads: boolean
  }
  /** The seeding cache; leave out for download mode `http`. */
  cache?: SeedCache
}

/** The job manager with its queue: jobs start by priority, then age; a higher priority pre-empts a lower one. */
export interface JobEngine extends JobManager {
  readonly settings: EngineSettings
  /** Peers this node takes no content from, and why (empty in mode `http`). */
  bannedPeers(): Ban[]
  /** Totals since the node started (they never go down, also when a job ends). */
  stats(): EngineStats
  /** Halts every transfer, keeps every job as saved, and stops notifications. */
  stop(): Promise<void>
  /** Changes the download limits of foreground and background jobs while the node runs (0: none). */
  setDownloadRates(rates: { foreground?: number, background?: number }): void
}

/** What the engine has done since the node started. */
export interface EngineStats {
  /** Peers banned for sending wrong content. */
  peersBanned: number
  /** Pieces from peers that the origin contradicted when they were fetched again. */
  piecesRejected: number
  /** Body bytes the origin sent, to every job (`JobProgress.bytesFromOrigin` summed). */
  bytesFromOrigin: number
  /** Piece bytes received from peers, by every job (`JobProgress.bytesFromPeers` summed). */
  bytesFromPeers: number
}

const rank = (job: JobImpl): number => JOB_PRIORITIES.indexOf(job.record.priority)
const byPriority = (a: JobImpl, b: JobImpl): number => rank(a) - rank(b) || a.record.seq - b.record.seq

class JobEngineImpl implements JobEngine, EngineContext {
  readonly settings: EngineSettings
  readonly store: Store
  readonly client: OriginClient
  readonly origin: OriginSource
  readonly hasher: PieceHasher
  readonly #ownHasher: boolean
  readonly notifier: Notifier
  readonly peers?: PeerContext
  readonly cache?: SeedCache
  readonly #foreground: RateLimiter
  readonly #background: RateLimiter
  readonly #jobs = new Map<string, JobImpl>()
  #seq = 0
  /** Rejected pieces of jobs that ended. */
  #rejected = 0
  /** Byte counters of jobs that ended, less those the saved jobs had at start: the totals count from the start. */
  #bytes = { origin: 0, peers: 0 }
  #stopped = false
  #scheduling = false

  constructor (components: JobEngineComponents, init: EngineInit) {
    this.settings = engineSettings(init)
    this.store = components.store
    this.client = components.originClient
    this.hasher = components.hasher ?? new PieceHasher(init.hashThreads !== undefined ? { threads: this.settings.hashThreads } : {})
    this.#ownHasher = components.hasher == null
    this.origin = new OriginSource(components.originClient, this.hasher)
    this.notifier = new Notifier(this.settings.maxConcurrentCallbacks)
    this.#foreground = new RateLimiter(this.settings.foregroundDownloadRate)
    this.#background = new RateLimiter(this.settings.backgroundDownloadRate)
    if (components.peers != null) {
      this.peers = { ...components.peers, memory: new PieceMemory(this.settings.servingMemory), bans: new Bans() }
    }
    if (components.cache != null) this.cache = components.cache
  }

  setDownloadRates (rates: { foreground?: number, background?: number }): void {
    if (rates.foreground !== undefined) this.#foreground.rate = rates.foreground
    if (rates.background !== undefined) this.#background.rate = rates.background
  }

  bannedPeers (): Ban[] {
    return this.peers?.bans.list() ?? []
  }

  stats (): EngineStats {
    let piecesRejected = this.#rejected
    let bytesFromOrigin = this.#bytes.origin
    let bytesFromPeers = this.#bytes.peers
    for (const job of this.#jobs.values()) {
      for (const f of job.files) {
        piecesRejected += f.rejectedPieces
        bytesFromOrigin += f.record.bytesFromOrigin ?? 0
        bytesFromPeers += f.record.bytesFromPeers ?? 0
      }
    }
    return { peersBanned: this.peers?.bans.total ?? 0, piecesRejected, bytesFromOrigin, bytesFromPeers }
  }

  async load (): Promise<void> {
    for (const record of await this.store.listJobs()) {
      if (record.state === 'acknowledged' || record.state === 'cancelled') {
        await this.store.deleteJob(record.id)
        continue
      }
      const job = new JobImpl(this, record)
      for (const fileRecord of await this.store.listFiles(record.id)) {
        const pieces = await this.store.getPieces(record.id, fileRecord.index)
        job.files.push(new JobFileImpl(fileRecord, job, pieces))
      }
      this.#jobs.set(record.id, job)
      this.#seq = Math.max(this.#seq, record.seq + 1)
    }
    // What saved jobs received in earlier runs is not this run's: counted from here on.
    for (const job of this.#jobs.values()) {
      for (const f of job.files) {
        this.#bytes.origin -= f.record.bytesFromOrigin ?? 0
        this.#bytes.peers -= f.record.bytesFromPeers ?? 0
      }
    }
    for (const job of this.#jobs.values()) await job.restore()
    this.reschedule()
  }

  async createJob (displayName: string, type: JobType = 'download', options: CreateJobOptions = {}): Promise<Job> {
    checkNotAborted(options, 'createJob')
    this.#assertRunning()
    checkDisplayName(displayName)
    if (type !== 'download') throw new InvalidArgumentError(`job type must be "download", not "${String(type)}"`)
    const owner = options.owner
    if (owner !== undefined && (!Number.isInteger(owner) || owner < 0 || owner > 0xffffffff)) throw new InvalidArgumentError(`a job's owner is a user id, not ${String(owner)}`)
    const job = JobImpl.create(this, displayName, type, this.#seq++, owner)
    await this.store.putJob(job.record)
    this.#jobs.set(job.id, job)
    return job
  }

  async getJob (id: string): Promise<Job> {
    const job = this.#jobs.get(id)
    if (job == null) throw new JobNotFoundError(`no job has the id "${id}"`, { jobId: id })
    return job
  }

  async enumJobs (): Promise<Job[]> {
    return [...this.#jobs.values()].sort((a, b) => a.record.seq - b.record.seq)
  }

  limiterFor (priority: JobPriority): RateLimiter {
    return priority === 'foreground' ? this.#foreground : this.#background
  }

  manifestInUse (cid: string, except: JobImpl): boolean {
    for (const job of this.#jobs.values()) {
      if (job !== except && job.files.some(f => f.record.manifestCid === cid)) return true
    }
    return false
  }

  forget (job: JobImpl): void {
    for (const f of job.files) {
      this.#rejected += f.rejectedPieces
      this.#bytes.origin += f.record.bytesFromOrigin ?? 0
      this.#bytes.peers += f.record.bytesFromPeers ?? 0
    }
    this.#jobs.delete(job.id)
  }

  reschedule (): void {
    if (this.#stopped || this.#scheduling) return
    this.#scheduling = true
    // Deferred, so that a burst of state changes schedules once, after the callers' records are saved.
    queueMicrotask(() => {
      this.#scheduling = false
      this.#schedule()
    })
  }

  #schedule (): void {
    if (this.#stopped) return
    const jobs = [...this.#jobs.values()]
    const running = jobs.filter(j => j.running).sort(byPriority)
    const queued = jobs.filter(j => !j.running && j.record.state === 'queued').sort(byPriority)
    for (const job of queued) {
      if (running.length < this.settings.maxConcurrentJobs) {
        job.start()
        running.push(job)
        running.sort(byPriority)
        continue
      }
      const lowest = running.at(-1)
      if (lowest == null || rank(lowest) <= rank(job)) break
      // Pre-empt: the lower job goes back to the queue; when its run ends, reschedule starts this one. The slot is
      // not free until then, so nothing else starts now.
      void lowest.requeue()
      break
    }
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.notifier.stop()
    await Promise.all([...this.#jobs.values()].map(async j => { await j.halt() }))
    // Kept-alive origin connections do not hold the process open, but a stopped node leaves none behind.
    this.client.close?.()
    if (this.#ownHasher) await this.hasher.close()
  }

  get stopped (): boolean {
    return this.#stopped
  }

  #assertRunning (): void {
    if (this.#stopped) throw new NodeStoppedError('the node is stopped')
  }
}

/** Opens the engine over a store: loads saved jobs and resumes those that were transferring. */
export async function createJobEngine (components: JobEngineComponents, init: EngineInit = {}): Promise<JobEngine> {
  const engine = new JobEngineImpl(components, init)
  await engine.load()
  return engine
}
