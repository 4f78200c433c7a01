import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { ActivitySnapshot } from './snapshot.js'

/** The job states a live job can be in (acknowledged and cancelled jobs leave the node at once). */
const LIVE_STATES = ['queued', 'connecting', 'transferring', 'suspended', 'error', 'transient-error', 'transferred'] as const

/**
 * The node's metrics in Prometheus' text format, made by prom-client. Values are not counted here: each scrape
 * reads the node (`readSnapshot`) and sets every metric from it, so a scrape is exact at its time and nothing
 * drifts. Node-level counters come from the node's own totals since it started; per-job series exist while the
 * job does (its bytes are the job's, saved with it, so they survive a restart; when the job ends the series goes,
 * and the node-level totals keep its bytes).
 */
export class ActivityMetrics {
  readonly registry = new Registry()
  readonly #bytesReceived: Counter<'source'>
  readonly #bytesUploaded: Counter
  readonly #piecesUploaded: Counter
  readonly #piecesRejected: Counter
  readonly #peersBannedTotal: Counter
  readonly #jobBytesReceived: Counter<'job_id' | 'source'>
  readonly #jobBytesUploaded: Counter<'job_id'>
  readonly #jobBytes: Gauge<'job_id'>
  readonly #jobBytesTransferred: Gauge<'job_id'>
  readonly #jobInfo: Gauge<'job_id' | 'name' | 'state' | 'priority'>
  readonly #jobs: Gauge<'state'>
  readonly #peers: Gauge
  readonly #bannedPeers: Gauge
  readonly #cacheBytes: Gauge
  readonly #cacheItems: Gauge
  readonly #all: Array<Counter<string> | Gauge<string>>

  constructor (init: { processMetrics?: boolean } = {}) {
    const registers = [this.registry]
    this.#bytesReceived = new Counter({ name: 'dopt_bytes_received_total', help: 'Bytes received since the node started, by source (peers: piece bytes; origin: body bytes), all jobs, ended ones included', labelNames: ['source'], registers })
    this.#bytesUploaded = new Counter({ name: 'dopt_bytes_uploaded_total', help: 'Piece bytes served to peers since the node started, from the cache and running downloads', registers })
    this.#piecesUploaded = new Counter({ name: 'dopt_pieces_uploaded_total', help: 'Pieces served to peers since the node started', registers })
    this.#piecesRejected = new Counter({ name: 'dopt_pieces_rejected_total', help: 'Pieces from peers that the origin contradicted when fetched again, since the node started', registers })
    this.#peersBannedTotal = new Counter({ name: 'dopt_peers_banned_total', help: 'Peers banned for sending wrong content since the node started', registers })
    this.#jobBytesReceived = new Counter({ name: 'dopt_job_bytes_received_total', help: 'Bytes a job received over its life, by source; the series ends with the job', labelNames: ['job_id', 'source'], registers })
    this.#jobBytesUploaded = new Counter({ name: 'dopt_job_bytes_uploaded_total', help: "Piece bytes of a job's files served to peers while it ran", labelNames: ['job_id'], registers })
    this.#jobBytes = new Gauge({ name: 'dopt_job_bytes', help: "Size of a job's files; -1 while a size is unknown", labelNames: ['job_id'], registers })
    this.#jobBytesTransferred = new Gauge({ name: 'dopt_job_bytes_transferred', help: 'Verified bytes of a job written so far', labelNames: ['job_id'], registers })
    this.#jobInfo = new Gauge({ name: 'dopt_job_info', help: 'Always 1: a job, its display name, state and priority', labelNames: ['job_id', 'name', 'state', 'priority'], registers })
    this.#jobs = new Gauge({ name: 'dopt_jobs', help: 'Jobs by state', labelNames: ['state'], registers })
    this.#peers = new Gauge({ name: 'dopt_peers_connected', help: 'Peers connected now', registers })
    this.#bannedPeers = new Gauge({ name: 'dopt_peers_banned', help: 'Peers banned now (a ban lasts an hour)', registers })
    this.#cacheBytes = new Gauge({ name: 'dopt_cache_bytes', help: 'Bytes of content in the seeding cache', registers })
    this.#cacheItems = new Gauge({ name: 'dopt_cache_items', help: 'Files in the seeding cache', registers })
    this.#all = [this.#bytesReceived, this.#bytesUploaded, this.#piecesUploaded, this.#piecesRejected, this.#peersBannedTotal,
      this.#jobBytesReceived, this.#jobBytesUploaded, this.#jobBytes, this.#jobBytesTransferred, this.#jobInfo, this.#jobs,
      this.#peers, this.#bannedPeers, this.#cacheBytes, this.#cacheItems]
    // The process's CPU, memory, event loop lag and GC, as prom-client's default collectors read them at each scrape.
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'dopt_' })
  }

  /** The text of a scrape, with every metric set from `s`. */
  async render (s: ActivitySnapshot): Promise<string> {
    for (const m of this.#all) m.reset()
    const t = s.totals
    this.#bytesReceived.inc({ source: 'peers' }, t.bytesFromPeers)
    this.#bytesReceived.inc({ source: 'origin' }, t.bytesFromOrigin)
    this.#bytesUploaded.inc(t.bytesUploaded)
    this.#piecesUploaded.inc(t.piecesUploaded)
    this.#piecesRejected.inc(t.piecesRejected)
    this.#peersBannedTotal.inc(t.peersBanned)
    for (const j of s.jobs) {
      this.#jobBytesReceived.inc({ job_id: j.jobId, source: 'peers' }, j.bytesFromPeers)
      this.#jobBytesReceived.inc({ job_id: j.jobId, source: 'origin' }, j.bytesFromOrigin)
      this.#jobBytesUploaded.inc({ job_id: j.jobId }, j.bytesUploaded)
      this.#jobBytes.set({ job_id: j.jobId }, j.bytesTotal)
      this.#jobBytesTransferred.set({ job_id: j.jobId }, j.bytesTransferred)
      this.#jobInfo.set({ job_id: j.jobId, name: j.displayName, state: j.state, priority: j.priority }, 1)
    }
    for (const state of LIVE_STATES) this.#jobs.set({ state }, s.jobsByState[state])
    this.#peers.set(s.peerCount)
    this.#bannedPeers.set(s.banCount)
    this.#cacheBytes.set(s.cache.bytes)
    this.#cacheItems.set(s.cache.items)
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }
}
