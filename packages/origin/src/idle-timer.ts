import { OriginUnavailableError } from '@dopt/interface'
import type { TransportSettings } from './transport.js'
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

/** A transport failure worth retrying (`ORIGIN_UNAVAILABLE`, context general-transport). */
export function transportUnavailable (url: string, message: string, cause?: unknown): OriginUnavailableError {
  return new OriginUnavailableError(message, { context: 'general-transport', url, cause })
}

/**
 * The two deadlines of every exchange, whichever transport carries it, so both report the same errors: an idle
 * timer (started and stopped by the transport) and a connect timer (cleared once connected).
 */
export function startDeadlines (url: string, settings: TransportSettings, fail: (err: OriginUnavailableError) => void): { idle: IdleTimer, connectTimer: ReturnType<typeof setTimeout> } {
  const idle = new IdleTimer(settings.idleTimeout, () => {
    fail(transportUnavailable(url, `no data from the origin for ${settings.idleTimeout} ms`))
  })
  const connectTimer = setTimeout(() => {
    fail(transportUnavailable(url, `could not connect within ${settings.connectTimeout} ms`))
  }, settings.connectTimeout)
  return { idle, connectTimer }
}
