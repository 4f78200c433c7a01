import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerResponse } from 'node:http'

/** How often a throttled body is written: small enough to look smooth, large enough to stay cheap. */
const RATE_TICK_MS = 50

export interface PumpOptions {
  /** Body bytes to send before cutting the connection; `Infinity` for no cut. */
  limit: number
  /** Bytes per second; `undefined` for full speed. */
  rate?: number
  /** Bytes that may go before the next bookkeeping point (at least 1), so `onSent` sees it exactly. */
  untilMark(): number
  /**
   * A shared budget (the origin's total egress): resolves with how many of the bytes asked for may go now, or 0 to
   * stop (aborted). Asked after the per-response `rate` wait, right before each write.
   */
  grant?: (want: number, signal: AbortSignal) => Promise<number>
  /** Called after every write with the number of bytes handed to the socket. */
  onSent(bytes: number): void
  /** Aborted when the client goes away or the origin closes. */
  signal: AbortSignal
}

/** `done`: the whole body went; `cut`: `limit` was reached with body left; `aborted`: the client or origin left. */
export type PumpResult = 'done' | 'cut' | 'aborted'

/**
 * Writes a body to `res` with backpressure, throttling and a byte limit. It never ends or destroys `res`: the caller
 * decides what each result means. Chunks are written as they come (1 MiB from disk), so full speed costs one
 * `write` per chunk.
 */
export async function pump (
  res: ServerResponse,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: PumpOptions
): Promise<PumpResult> {
  const { limit, rate, signal } = options
  const started = performance.now()
  const slice = rate === undefined ? Infinity : Math.max(1, Math.floor(rate * RATE_TICK_MS / 1000))
  let sent = 0

  for await (const data of source) {
    let chunk: Uint8Array = data
    while (chunk.byteLength > 0) {
      if (signal.aborted || res.destroyed) return 'aborted'
      if (sent >= limit) return 'cut'
      let n = Math.min(chunk.byteLength, limit - sent, options.untilMark(), slice)

      if (rate !== undefined) {
        // Wait until the bytes sent so far, plus this slice, fit the rate since the start.
        const wait = started + (sent + n) / rate * 1000 - performance.now()
        if (wait > 0 && !(await pause(wait, signal))) return 'aborted'
        if (res.destroyed) return 'aborted'
      }
      if (options.grant !== undefined) {
        n = await options.grant(n, signal)
        if (n === 0 || res.destroyed) return 'aborted'
      }

      const piece = n === chunk.byteLength ? chunk : chunk.subarray(0, n)
      chunk = chunk.subarray(n)
      const flowing = res.write(piece)
      sent += n
      options.onSent(n)
      if (!flowing && !(await drained(res, signal))) return 'aborted'
    }
  }
  return 'done'
}

async function pause (ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal })
    return true
  } catch {
    return false
  }
}

/** Resolves true once `res` drains, false if it closes or `signal` aborts first. */
export async function drained (res: ServerResponse, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted || res.destroyed) return false
  return await new Promise<boolean>(resolve => {
    const finish = (ok: boolean): void => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      signal.removeEventListener('abort', onClose)
      resolve(ok)
    }
    const onDrain = (): void => { finish(true) }
    const onClose = (): void => { finish(false) }
    res.on('drain', onDrain)
    res.on('close', onClose)
    signal.addEventListener('abort', onClose)
  })
}
