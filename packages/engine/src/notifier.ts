/**
 * Runs notification callbacks: at most `limit` at once across the node (BITS delivers four simultaneous
 * notifications per user), and for the callbacks that must succeed, again after a delay while they throw.
 */
export class Notifier {
  readonly #limit: number
  #running = 0
  readonly #waiting: Array<() => void> = []
  readonly #timers = new Set<NodeJS.Timeout>()
  #stopped = false

  constructor (limit: number) {
    this.#limit = limit
  }

  /** Runs `fn` in a callback slot; errors are returned, not thrown. */
  async run (fn: () => unknown): Promise<unknown> {
    if (this.#stopped) return undefined
    await this.#acquire()
    if (this.#stopped) { this.#release(); return undefined }
    try {
      await fn()
      return undefined
    } catch (err) {
      return err ?? new Error('callback threw')
    } finally {
      this.#release()
    }
  }

  /**
   * Runs `fn` until it returns without throwing, waiting `delayMs` between attempts, while `stillWanted()` holds.
   * Resolves true once it succeeded, false if it was given up (no longer wanted, or the notifier stopped).
   */
  async runUntilDone (fn: () => unknown, delayMs: number, stillWanted: () => boolean, onFailure?: (err: unknown) => void): Promise<boolean> {
    // Bounded by `stillWanted` and `stop()`: the job leaving the state, or the node stopping, ends the loop.
    while (!this.#stopped && stillWanted()) {
      const err = await this.run(fn)
      if (err === undefined) return !this.#stopped
      onFailure?.(err)
      await this.#sleep(delayMs)
    }
    return false
  }

  stop (): void {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    for (const wake of this.#waiting.splice(0)) wake()
  }

  async #sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { this.#timers.delete(t); resolve() }, ms)
      this.#timers.add(t)
      if (this.#stopped) { clearTimeout(t); resolve() }
    })
  }

  async #acquire (): Promise<void> {
    if (this.#running < this.#limit) { this.#running++; return }
    await new Promise<void>(resolve => this.#waiting.push(resolve))
    this.#running++
  }

  #release (): void {
    this.#running--
    this.#waiting.shift()?.()
  }
}
