import type { Exchange } from './transport.js'
import type { Validator } from './types.js'

/** Carries what onData threw, so that it is rethrown unchanged and never mistaken for a transport failure. */
export class SinkFailure extends Error {
  readonly error: unknown

  constructor (error: unknown) {
    super('onData failed')
    this.error = error
  }
}

/** Progress of one fetchRange call, shared by its attempts. */
export interface RangeProgress {
  /** Absolute offset of the next byte onData has not had yet. */
  next: number
  /** Sent as If-Range on every request: the caller's, else the first response's, so no retry splices files. */
  validator: Validator | null
}

/**
 * Turns the body of one response into exactly the undelivered part of [start, end): skips what earlier attempts
 * (or a server that ignores ranges) sent already, and closes the exchange once `end` is reached.
 */
export class RangeDelivery {
  readonly #exchange: Exchange
  readonly #progress: RangeProgress
  readonly #end: number
  /** Where the exchange is closed: `end`, or further to see where the body ends. */
  readonly #closeAt: number
  readonly #onData: (chunk: Uint8Array) => void | Promise<void>
  /** Absolute offset of the next byte of this response. */
  #position: number

  constructor (exchange: Exchange, bodyStart: number, progress: RangeProgress, end: number,
    onData: (chunk: Uint8Array) => void | Promise<void>, closeAt = end) {
    this.#exchange = exchange
    this.#closeAt = closeAt
    this.#position = bodyStart
    this.#progress = progress
    this.#end = end
    this.#onData = onData
  }

  /** Absolute offset just past the last byte of the response seen so far. */
  get position (): number {
    return this.#position
  }

  readonly push = (chunk: Uint8Array): void | Promise<void> => {
    const from = this.#position
    const to = from + chunk.length
    this.#position = to
    const lo = Math.max(from, this.#progress.next)
    const hi = Math.min(to, this.#end)
    const last = to >= this.#closeAt
    if (hi <= lo) {
      if (last) this.#exchange.close()
      return
    }
    this.#progress.next = hi
    const piece = lo === from && hi === to ? chunk : chunk.subarray(lo - from, hi - from)
    let result: void | Promise<void>
    try {
      result = this.#onData(piece)
    } catch (err) {
      throw new SinkFailure(err)
    }
    if (result === undefined) {
      if (last) this.#exchange.close()
      return
    }
    return result.then(() => {
      if (last) this.#exchange.close()
    }, (err: unknown) => { throw new SinkFailure(err) })
  }
}
