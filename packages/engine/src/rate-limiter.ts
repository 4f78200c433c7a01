import type { AbortOptions } from '@dopt/interface'

/**
 * A token bucket: `take(n)` resolves once `n` bytes fit under `rate` bytes per second. The bucket holds at most one
 * second of tokens, so a pause does not buy a burst. A rate of 0 means no limit.
 */
export class RateLimiter {
  #rate: number
  #tokens: number
  #last = Date.now()
  /** Takers in line, served in order so a large piece cannot be starved by small chunks. */
  #queue: Promise<void> = Promise.resolve()

  constructor (rate: number) {
    this.#rate = rate
    this.#tokens = rate
  }

  get rate (): number {
    return this.#rate
  }

  set rate (rate: number) {
    this.#rate = rate
    this.#tokens = Math.min(this.#tokens, rate)
  }

  async take (bytes: number, options: AbortOptions = {}): Promise<void> {
    if (this.#rate <= 0) return
    const turn = this.#queue.then(async () => { await this.#wait(bytes, options) })
    this.#queue = turn.catch(() => {})
    await turn
  }

  async #wait (bytes: number, options: AbortOptions): Promise<void> {
    for (;;) {
      options.signal?.throwIfAborted()
      const now = Date.now()
      this.#tokens = Math.min(this.#rate, this.#tokens + (now - this.#last) * this.#rate / 1000)
      this.#last = now
      // A request larger than the bucket goes through once the bucket is full, leaving it in debt.
      if (this.#tokens >= Math.min(bytes, this.#rate)) {
        this.#tokens -= bytes
        return
      }
      const ms = Math.ceil((Math.min(bytes, this.#rate) - this.#tokens) * 1000 / this.#rate)
      await new Promise<void>((resolve, reject) => {
        const { signal } = options
        const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
        // The listener goes when the wait ends either way: a long-lived signal (a whole transfer's) must not
        // collect one per wait.
        const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, Math.max(1, ms))
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
  }
}
