import { AbortedError } from '@dopt/interface'

/**
 * Upload slots shared by peers: at most `total` in use, at most `perPeer` by one peer, and when a slot frees the
 * peers waiting take turns (round robin), each peer's own requests in FIFO order. One peer asking for many pieces —
 * or never reading its answers — cannot keep the others waiting.
 */
export class FairSlots {
  readonly #total: number
  readonly #perPeer: number
  #used = 0
  readonly #inUse = new Map<string, number>()
  /** Waiting requests per peer; the map's order is the turn order. */
  readonly #waiting = new Map<string, Array<{ resolve: () => void }>>()

  constructor (total: number, perPeer: number) {
    this.#total = Math.max(1, total)
    this.#perPeer = Math.max(1, perPeer)
  }

  get used (): number {
    return this.#used
  }

  async acquire (peer: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw new AbortedError('aborted while queued')
    if (this.#used < this.#total && (this.#inUse.get(peer) ?? 0) < this.#perPeer && !this.#waiting.has(peer)) {
      this.#take(peer)
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve: () => { signal?.removeEventListener('abort', onAbort); resolve() } }
      const onAbort = (): void => {
        const queue = this.#waiting.get(peer)
        const i = queue?.indexOf(waiter) ?? -1
        if (i >= 0) queue!.splice(i, 1)
        if (queue?.length === 0) this.#waiting.delete(peer)
        reject(new AbortedError('aborted while queued'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      const queue = this.#waiting.get(peer)
      if (queue === undefined) this.#waiting.set(peer, [waiter])
      else queue.push(waiter)
    })
  }

  release (peer: string): void {
    this.#used--
    const n = (this.#inUse.get(peer) ?? 1) - 1
    if (n > 0) this.#inUse.set(peer, n)
    else this.#inUse.delete(peer)
    this.#grant()
  }

  #take (peer: string): void {
    this.#used++
    this.#inUse.set(peer, (this.#inUse.get(peer) ?? 0) + 1)
  }

  /** Gives free slots to waiting peers in turn; a peer served goes to the back of the line. */
  #grant (): void {
    for (const [peer, queue] of this.#waiting) {
      if (this.#used >= this.#total) return
      if ((this.#inUse.get(peer) ?? 0) >= this.#perPeer) continue
      const waiter = queue.shift()!
      this.#waiting.delete(peer)
      if (queue.length > 0) this.#waiting.set(peer, queue) // to the back of the turn order
      this.#take(peer)
      waiter.resolve()
    }
  }
}

/**
 * Paces bytes to `bytesPerSecond` on a virtual clock: each send is scheduled after the previous one's share of time,
 * so the average rate holds for any message size (a message larger than one second's budget just waits longer).
 */
export class RateLimiter {
  #rate: number
  #nextFree = 0

  constructor (bytesPerSecond: number) {
    this.#rate = bytesPerSecond
  }

  /** Bytes per second from now on (0: none); what is scheduled keeps its time. */
  set rate (bytesPerSecond: number) {
    this.#rate = bytesPerSecond
    this.#nextFree = Math.min(this.#nextFree, performance.now())
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
