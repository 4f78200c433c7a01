import { InvalidArgumentError } from '@dopt/interface'

/** Largest grant: small enough that many responses take turns often, large enough to keep grants cheap. */
const MAX_SLICE = 64 * 1024
const MIN_SLICE = 1024
/** The bucket holds this much time's worth of tokens, so a timer that fires late does not lose bandwidth. */
const BURST_SECONDS = 0.025

interface Waiter {
  want: number
  resolve: (granted: number) => void
  signal: AbortSignal
  onAbort: () => void
}

/**
 * One token bucket for a whole server's egress: every response asks for its next bytes with `take`, and requests
 * are granted in arrival order (FIFO), one slice at a time. A response that got a slice asks again at the back of
 * the line, so concurrent responses share the rate evenly, and their total never exceeds `rate` (plus one burst of
 * ~25 ms). The bucket starts empty.
 */
export class EgressLimiter {
  readonly rate: number
  /** Most bytes one grant gives. */
  readonly slice: number
  readonly #capacity: number
  #tokens = 0
  #last = performance.now()
  readonly #queue: Waiter[] = []
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor (rate: number, slice?: number) {
    if (!(Number.isFinite(rate) && rate > 0)) throw new InvalidArgumentError(`An egress rate must be a number of bytes/s > 0, not ${String(rate)}`)
    this.rate = rate
    this.slice = slice ?? Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.floor(rate / 50)))
    if (!(Number.isInteger(this.slice) && this.slice > 0)) throw new InvalidArgumentError(`An egress slice must be a whole number of bytes > 0, not ${String(slice)}`)
    this.#capacity = Math.max(this.slice, rate * BURST_SECONDS)
  }

  /**
   * Resolves with how many of `want` bytes may be sent now: at least 1, at most `slice`. Resolves 0 when `signal`
   * aborts or the limiter is closed first (the caller then stops).
   */
  async take (want: number, signal: AbortSignal): Promise<number> {
    if (this.#closed || signal.aborted || want <= 0) return 0
    return await new Promise<number>(resolve => {
      const waiter: Waiter = {
        want: Math.min(want, this.slice),
        resolve,
        signal,
        onAbort: () => {
          const i = this.#queue.indexOf(waiter)
          if (i >= 0) this.#queue.splice(i, 1)
          resolve(0)
          this.#serve()
        }
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
      this.#serve()
    })
  }

  /** Lets every waiting response go with 0 (they stop); later calls get 0 at once. */
  close (): void {
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    for (const waiter of this.#queue.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      waiter.resolve(0)
    }
  }

  #refill (): void {
    const now = performance.now()
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.rate / 1000)
    this.#last = now
  }

  /** Grants the head of the line while tokens last, then sleeps until the next head's tokens have accrued. */
  #serve (): void {
    if (this.#timer !== null || this.#closed) return
    this.#refill()
    for (let head = this.#queue[0]; head !== undefined; head = this.#queue[0]) {
      if (this.#tokens < head.want) {
        const ms = Math.max(1, Math.ceil((head.want - this.#tokens) * 1000 / this.rate))
        this.#timer = setTimeout(() => {
          this.#timer = null
          this.#serve()
        }, ms)
        return
      }
      this.#tokens -= head.want
      this.#queue.shift()
      head.signal.removeEventListener('abort', head.onAbort)
      head.resolve(head.want)
    }
  }
}

/** Cumulative bytes over time: [milliseconds since the Unix epoch, bytes]. */
export type EgressSamples = Array<[number, number]>

/**
 * Reads a cumulative byte counter every `intervalMs` until `stop()`, which takes one last sample and returns them
 * all. Times are wall-clock milliseconds (`performance.timeOrigin + performance.now()`), so they can be set
 * relative to a release instant decided later.
 */
export function sampleCounter (read: () => number, intervalMs = 100): { stop(): EgressSamples } {
  const samples: EgressSamples = []
  const sample = (): void => { samples.push([performance.timeOrigin + performance.now(), read()]) }
  sample()
  const timer = setInterval(sample, intervalMs)
  return {
    stop () {
      clearInterval(timer)
      sample()
      return samples
    }
  }
}
