import { AbortedError } from '@dopt/interface'

/** A counting semaphore with a FIFO queue; waiters leave the queue when their signal aborts. */
export class Semaphore {
  #free: number
  readonly #waiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []

  constructor (slots: number) {
    this.#free = Math.max(1, slots)
  }

  get queued (): number {
    return this.#waiters.length
  }

  async acquire (signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new AbortedError('aborted while queued')
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() },
        reject
      }
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(new AbortedError('aborted while queued'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }

  release (): void {
    const next = this.#waiters.shift()
    if (next !== undefined) next.resolve()
    else this.#free++
  }
}

/**
 * Paces bytes to `bytesPerSecond` on a virtual clock: each send is scheduled after the previous one's share of time,
 * so the average rate holds for any message size (a message larger than one second's budget just waits longer).
 */
export class RateLimiter {
  readonly #rate: number
  #nextFree = 0

  constructor (bytesPerSecond: number) {
    this.#rate = bytesPerSecond
  }

  async take (bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate <= 0) return
    const now = performance.now()
    const start = Math.max(now, this.#nextFree)
    this.#nextFree = start + (bytes / this.#rate) * 1000
    const wait = start - now
    if (wait < 1) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, wait)
      const onAbort = (): void => { clearTimeout(timer); reject(new AbortedError('aborted while paced')) }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}
