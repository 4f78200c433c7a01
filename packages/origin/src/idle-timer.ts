/**
 * A timer that fires after `ms` without `touch()`. Refreshing one timer costs far less than arming a new one
 * per read, which matters at hundreds of reads per second.
 */
export class IdleTimer {
  readonly #ms: number
  readonly #onIdle: () => void
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor (ms: number, onIdle: () => void) {
    this.#ms = ms
    this.#onIdle = onIdle
  }

  /** Arms the timer (again); a no-op when it runs already or `ms` is 0. */
  start (): void {
    if (this.#timer !== undefined || this.#ms <= 0) return
    this.#timer = setTimeout(this.#onIdle, this.#ms)
  }

  touch (): void {
    this.#timer?.refresh()
  }

  /** Disarms the timer, e.g. while the reader holds the connection paused on purpose. */
  stop (): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
