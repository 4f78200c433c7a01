import type { Job } from '@dopt/interface'
import type { DoptNode } from '@dopt/node'
import type { SseHub } from './sse.js'
import { readSnapshot, sampleOf } from './snapshot.js'
import type { ActivitySample, ActivitySnapshot } from './snapshot.js'

/**
 * Reads the node every `interval` ms, and soon after a job's state or progress event, and sends what it read to
 * the pages; keeps the last samples for the chart of a page opened later.
 */
export class Sampler {
  readonly history: ActivitySample[] = []
  readonly #node: DoptNode
  readonly #hub: SseHub
  readonly #interval: number
  readonly #historyLength: number
  readonly #maxListed: number
  /** Jobs listened to, with their listener, so that close() can remove it. */
  readonly #watched = new Map<string, { job: Job, listener: () => void }>()
  #timer: NodeJS.Timeout | null = null
  #soon: NodeJS.Timeout | null = null
  #reading: Promise<ActivitySnapshot> | null = null
  #last: ActivitySnapshot | null = null
  #stopped = false

  constructor (node: DoptNode, hub: SseHub, interval: number, historyLength: number, maxListed: number) {
    this.#node = node
    this.#hub = hub
    this.#interval = interval
    this.#historyLength = historyLength
    this.#maxListed = maxListed
  }

  start (): void {
    void this.#tick()
    this.#timer = setInterval(() => { void this.#tick() }, this.#interval)
    this.#timer.unref()
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer != null) clearInterval(this.#timer)
    if (this.#soon != null) clearTimeout(this.#soon)
    for (const { job, listener } of this.#watched.values()) {
      job.removeEventListener('state', listener)
      job.removeEventListener('progress', listener)
    }
    this.#watched.clear()
  }

  /** The last reading when it is fresh (under a quarter interval old), else a new one. */
  async current (): Promise<ActivitySnapshot> {
    if (this.#last != null && Date.now() - this.#last.time < this.#interval / 4) return this.#last
    return await this.#read()
  }

  /** Reads the node and sends the reading to the pages; `record`: keep it in the history (the timer's ticks only, so the history spans a known time). */
  async #tick (record = true): Promise<void> {
    if (this.#stopped) return
    try {
      const s = await this.#read()
      if (this.#stopped) return
      if (record) {
        this.history.push(sampleOf(s))
        if (this.history.length > this.#historyLength) this.history.shift()
      }
      this.#hub.broadcast('snapshot', s)
      await this.#watch()
    } catch {
      // The node is stopping (its database closed): the next tick tries again, close() ends the ticks.
    }
  }

  /** One reading at a time; callers during a reading share it. */
  async #read (): Promise<ActivitySnapshot> {
    this.#reading ??= readSnapshot(this.#node, this.#maxListed).finally(() => { this.#reading = null })
    const s = await this.#reading
    this.#last = s
    return s
  }

  /** Listens to new jobs' events, and forgets jobs that ended. */
  async #watch (): Promise<void> {
    const jobs = await this.#node.jobs.enumJobs()
    const ids = new Set(jobs.map(j => j.id))
    for (const [id, { job, listener }] of this.#watched) {
      if (ids.has(id)) continue
      job.removeEventListener('state', listener)
      job.removeEventListener('progress', listener)
      this.#watched.delete(id)
    }
    for (const job of jobs) {
      if (this.#watched.has(job.id)) continue
      const listener = (): void => { this.#poke() }
      job.addEventListener('state', listener)
      job.addEventListener('progress', listener)
      this.#watched.set(job.id, { job, listener })
    }
  }

  /** A job changed: a sample soon (at most one per 200 ms), not at the next tick. */
  #poke (): void {
    if (this.#soon != null || this.#stopped) return
    this.#soon = setTimeout(() => {
      this.#soon = null
      void this.#tick(false)
    }, 200)
    this.#soon.unref()
  }
}
