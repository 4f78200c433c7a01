/** A peer this node will not take content from, and why. */
export interface Ban {
  peerId: string
  reason: string
  /** Milliseconds since the epoch. */
  since: number
  until: number
}

/**
 * Peers caught sending wrong content (pieces that fail their hash, hashes the origin contradicts). Node-wide: a peer
 * that lied about one file is not trusted with another. A ban lasts `duration` ms (an honest peer whose disk went
 * bad can come back after repair); kept in memory.
 */
export class Bans {
  readonly #bans = new Map<string, Ban>()
  readonly #duration: number
  /** Peers banned since the node started (a peer banned twice counts twice). */
  total = 0

  constructor (duration = 3_600_000) {
    this.#duration = duration
  }

  ban (peerId: string, reason: string): void {
    const now = Date.now()
    this.#bans.set(peerId, { peerId, reason, since: now, until: now + this.#duration })
    this.total++
  }

  banned (peerId: string): boolean {
    const ban = this.#bans.get(peerId)
    if (ban === undefined) return false
    if (ban.until > Date.now()) return true
    this.#bans.delete(peerId)
    return false
  }

  list (): Ban[] {
    return [...this.#bans.values()].filter(b => this.banned(b.peerId))
  }
}
