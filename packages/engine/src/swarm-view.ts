import { Bitfield, toHex } from '@dopt/content'

/** What one download knows of one peer of its content, kept up to date by the peer's updates. */
export interface PeerState {
  id: string
  /** The key to ask it with: the download's, or the manifest CID of a 1.0.0 seed found by content key. */
  key: string
  /** Pieces it serves now. */
  have: Bitfield
  /** Pieces it fetches from the origin now (claimed), served as their bytes arrive. */
  claims: Set<number>
  /** When its claims last changed (ms): a member that claims nothing for long is not working through its share. */
  claimsChanged: number
  /** It downloads the content too (a 1.1.0 subscription, not complete): it takes a share of the origin's pieces. */
  member: boolean
  strikes: number
  /** Pieces requested from it now. */
  fetching: Set<number>
  /** Of those, pieces it is still fetching from the origin (at most one at a time). */
  streaming: number
  /** Workers asking it for pieces now. */
  workers: number
  gone: boolean
  cancel?: () => void
}

/**
 * One download's live view of its swarm: which peer holds or fetches which piece, how many hold each, and (for
 * content without a trusted manifest) which hashes peers vouched for. Every change comes through here, so the
 * counts stay right.
 */
export class SwarmView {
  readonly size: number
  readonly self: string
  readonly #peers = new Map<string, PeerState>()
  /** Live peers holding each piece. */
  readonly holders: Uint16Array
  /** Live peers fetching each piece from the origin. */
  readonly claimers: Uint16Array
  /** Per piece: hash (hex) -> the peers that vouched for it. */
  readonly #vouches = new Map<number, Map<string, Set<string>>>()
  #members: string[] | null = null

  constructor (size: number, self: string) {
    this.size = size
    this.self = self
    this.holders = new Uint16Array(size)
    this.claimers = new Uint16Array(size)
  }

  get (id: string): PeerState | undefined {
    const peer = this.#peers.get(id)
    return peer?.gone === false ? peer : undefined
  }

  has (id: string): boolean {
    return this.#peers.get(id)?.gone === false
  }

  live (): PeerState[] {
    return [...this.#peers.values()].filter(p => !p.gone)
  }

  add (peer: Omit<PeerState, 'claims' | 'claimsChanged' | 'strikes' | 'fetching' | 'streaming' | 'workers' | 'gone'>): PeerState {
    this.remove(peer.id)
    const state: PeerState = { ...peer, claims: new Set(), claimsChanged: Date.now(), strikes: 0, fetching: new Set(), streaming: 0, workers: 0, gone: false }
    this.#peers.set(peer.id, state)
    for (const i of state.have.setBits()) this.holders[i]!++
    if (state.have.full) state.member = false
    this.#members = null
    return state
  }

  /** The peer left (or was dropped): its pieces and claims no longer count. Its vouches stay: it said them. */
  remove (id: string): void {
    const peer = this.#peers.get(id)
    if (peer === undefined || peer.gone) return
    peer.gone = true
    for (const i of peer.have.setBits()) this.holders[i]!--
    for (const i of peer.claims) this.claimers[i]!--
    peer.claims.clear()
    peer.cancel?.()
    this.#members = null
  }

  /** Forgets what a peer vouched for (it was caught lying). */
  disown (id: string): void {
    for (const byHash of this.#vouches.values()) {
      for (const [hash, who] of byHash) {
        who.delete(id)
        if (who.size === 0) byHash.delete(hash)
      }
    }
  }

  setHave (id: string, index: number, held: boolean): void {
    const peer = this.get(id)
    if (peer === undefined || peer.have.get(index) === held) return
    peer.have.set(index, held)
    this.holders[index]! += held ? 1 : -1
    if (held) this.setClaim(id, index, false)
    if (peer.member === peer.have.full) {
      // A peer that now holds everything seeds; it takes no more origin pieces.
      peer.member = !peer.have.full
      this.#members = null
    }
  }

  setClaim (id: string, index: number, claimed: boolean): void {
    const peer = this.get(id)
    if (peer === undefined || peer.claims.has(index) === claimed) return
    if (claimed) peer.claims.add(index)
    else peer.claims.delete(index)
    peer.claimsChanged = Date.now()
    this.claimers[index]! += claimed ? 1 : -1
  }

  vouch (id: string, index: number, hash: Uint8Array): void {
    let byHash = this.#vouches.get(index)
    if (byHash === undefined) this.#vouches.set(index, byHash = new Map())
    const hex = toHex(hash)
    let who = byHash.get(hex)
    if (who === undefined) byHash.set(hex, who = new Set())
    who.add(id)
  }

  /** The peers that vouched for `hash` as piece `index`. */
  vouchers (index: number, hash: Uint8Array): string[] {
    return [...this.#vouches.get(index)?.get(toHex(hash)) ?? []]
  }

  /** Some peer vouched for some hash of this piece. */
  vouched (index: number): boolean {
    return (this.#vouches.get(index)?.size ?? 0) > 0
  }

  /** Peers that vouched for a different hash of `index` than `hash`. */
  contradicting (index: number, hash: Uint8Array): string[] {
    const hex = toHex(hash)
    const out: string[] = []
    for (const [h, who] of this.#vouches.get(index) ?? []) if (h !== hex) out.push(...who)
    return out
  }

  /**
   * Who shares the origin's pieces: this node and the live peers that download the content too, sorted, so that
   * every member computes the same shares (a member's view differs from another's only while peers come and go).
   */
  members (): string[] {
    this.#members ??= [this.self, ...this.live().filter(p => p.member).map(p => p.id)].sort()
    return this.#members
  }
}
