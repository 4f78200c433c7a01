import { AbortedError } from '@dopt/interface'

/** Counts failures in a row and spaces the retries: `retryDelay`, doubling, with jitter so clients spread out. */
export class Backoff {
  readonly #retries: number
  readonly #delay: number
  #failures = 0

  constructor (retries: number, delay: number) {
    this.#retries = retries
    this.#delay = delay
  }

  /** Counts a failure; returns how long to wait before the next attempt, or null when no attempt is left. */
  fail (): number | null {
    this.#failures++
    if (this.#failures > this.#retries) return null
    const base = this.#delay * 2 ** (this.#failures - 1)
    return base / 2 + Math.random() * base / 2
  }

  /** Forgets earlier failures: the last attempt moved the download on. */
  reset (): void {
    this.#failures = 0
  }
}

/** Waits `ms`, or rejects with AbortedError as soon as the signal fires. */
export async function sleep (ms: number, signal: AbortSignal | undefined, url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortedError('request aborted', { url }))
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(new AbortedError('request aborted', { url }))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
