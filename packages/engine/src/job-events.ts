import { AbortedError, InvalidArgumentError, JOB_STATES } from '@dopt/interface'
import type { AbortOptions, JobEvent, JobEventMap, JobState } from '@dopt/interface'

const EVENT_TYPES: Array<keyof JobEventMap> = ['state', 'progress', 'file-transferred', 'transferred', 'error', 'notice']

/** A job's typed events, and the two ways of consuming them besides listeners: `waitFor` and an async iterator. */
export class JobEvents {
  readonly #target = new EventTarget()
  readonly #jobId: string
  readonly #state: () => JobState
  readonly #final: readonly JobState[]

  /** `final` are the states after which nothing more happens: iterators end there. */
  constructor (jobId: string, state: () => JobState, final: readonly JobState[]) {
    this.#jobId = jobId
    this.#state = state
    this.#final = final
  }

  emit<K extends keyof JobEventMap>(type: K, detail: JobEventMap[K]): void {
    this.#target.dispatchEvent(new CustomEvent(type, { detail }))
  }

  add<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void, options?: AddEventListenerOptions): void {
    this.#target.addEventListener(type, listener as EventListener, options)
  }

  remove<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void {
    this.#target.removeEventListener(type, listener as EventListener)
  }

  async waitFor (states: readonly JobState[], options: AbortOptions = {}): Promise<JobState> {
    if (!Array.isArray(states) || states.length === 0 || states.some(s => !JOB_STATES.includes(s))) {
      throw new InvalidArgumentError(`waitFor takes a list of job states (${JOB_STATES.join(', ')}), not ${JSON.stringify(states)}`, { jobId: this.#jobId })
    }
    // A job that ended can reach no other state: its final state answers instead of a wait that never ends.
    const settles = (state: JobState): boolean => states.includes(state) || this.#final.includes(state)
    const now = this.#state()
    if (settles(now)) return now
    return await new Promise<JobState>((resolve, reject) => {
      const onState = (e: CustomEvent<JobEventMap['state']>): void => {
        if (!settles(e.detail.state)) return
        cleanup()
        resolve(e.detail.state)
      }
      const onAbort = (): void => {
        cleanup()
        reject(new AbortedError(`stopped waiting for job ${this.#jobId}`, { cause: options.signal?.reason, jobId: this.#jobId }))
      }
      const cleanup = (): void => {
        this.remove('state', onState)
        options.signal?.removeEventListener('abort', onAbort)
      }
      this.add('state', onState)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (options.signal?.aborted === true) onAbort()
    })
  }

  async * iterate (options: AbortOptions = {}): AsyncIterableIterator<JobEvent> {
    const queue: JobEvent[] = []
    let wake: (() => void) | null = null
    const listener = (e: Event): void => {
      const detail = (e as CustomEvent).detail as object
      queue.push({ type: e.type, jobId: this.#jobId, ...detail } as JobEvent)
      wake?.()
    }
    const onAbort = (): void => wake?.()
    for (const t of EVENT_TYPES) this.#target.addEventListener(t, listener)
    options.signal?.addEventListener('abort', onAbort)
    try {
      while (options.signal?.aborted !== true) {
        const event = queue.shift()
        if (event == null) {
          if (this.#final.includes(this.#state())) return
          await new Promise<void>(resolve => { wake = resolve })
          wake = null
          continue
        }
        yield event
        if (event.type === 'state' && this.#final.includes(event.state)) return
      }
    } finally {
      for (const t of EVENT_TYPES) this.#target.removeEventListener(t, listener)
      options.signal?.removeEventListener('abort', onAbort)
    }
  }
}
