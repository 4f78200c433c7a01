/**
 * What a node serves to peers, as the engine offers it and the piece protocol carries it (docs/protocol.md). Defined
 * here because both sides use it: `@dopt/engine` implements it over its cache and its running downloads, `@dopt/p2p`
 * serves it.
 */

/** What a piece update says about one piece (protocol 1.1.0's UPDATE entries; the values are the wire's). */
export const EntryKind = {
  /** Served now (its hash is one the receiver must already know: a manifest's, or vouched for by another peer). */
  HAVE: 1,
  /** Served now, and vouched for with this hash: the sender fetched it from the origin itself (or checked the file). */
  VOUCH: 2,
  /** Claimed by the sender, which fetches it from the origin now: served as its bytes arrive (ask it, not the origin). */
  INTENT: 3,
  /** The sender gave up fetching it. */
  UNINTENT: 4,
  /** No longer served. */
  LOST: 5
} as const
export type EntryKind = typeof EntryKind[keyof typeof EntryKind]

export interface ContentEntry {
  kind: EntryKind
  index: number
  /** For VOUCH: the piece's SHA-256. */
  hash?: Uint8Array
}

/**
 * A piece whose bytes are still arriving (a running download fetching it from the origin): served to peers as its
 * bytes come in, so a piece the origin sends once reaches the whole swarm while it is being sent.
 */
export interface StreamingPiece {
  readonly length: number
  /**
   * The piece's bytes from `offset` on, as soon as there are at least `min` of them (or the rest of the piece, if
   * fewer; default 1): a view that stays valid, never empty. Rejects when the piece will not complete (its download
   * failed or was given up).
   */
  read(offset: number, signal: AbortSignal, min?: number): Promise<Uint8Array>
}

/** A piece to serve: its bytes, or bytes still arriving. */
export type PieceData = Uint8Array | StreamingPiece

/** The live state of content a peer subscribed to, and how to let go of it. */
export interface ContentSubscription {
  pieceSize: number
  pieceCount: number
  /** The node holds every piece (a seed). */
  complete: boolean
  /** Bitfield of the pieces served now, MSB first. */
  have: Uint8Array
  /** What goes with the state: vouched hashes, pieces being fetched from the origin. */
  entries: ContentEntry[]
  close(): void
}

/**
 * What a node serves to other peers, under its trust rules (docs/architecture.md). Every method answers null for
 * content it does not hold. `peerId` is the asking peer.
 */
export interface ContentProvider {
  /** The encoded manifest for a manifest CID or a content key (both CID strings). */
  getManifest(key: string, peerId?: string): Promise<Uint8Array | null>
  /** Which pieces of the content named by `key` this node serves: bitfield bytes (MSB first). */
  getHave(key: string, peerId?: string): Promise<Uint8Array | null>
  /** One piece of the content named by `key` (a manifest CID, or a content key on 1.1.0). */
  readPiece(key: string, index: number, peerId?: string): Promise<PieceData | null>
  /**
   * Protocol 1.1.0: the live state of the content named by `key`, then its changes through `onEntries` until
   * `close()`, or `onEnd()` when the node stops serving it. Null when it does not hold it.
   */
  subscribe?(key: string, peerId: string, onEntries: (entries: ContentEntry[]) => void, onEnd: () => void): Promise<ContentSubscription | null>
  /** Told after a piece went out whole to a peer (for per-content upload counts). */
  served?(key: string, index: number, bytes: number, peerId: string): void
}
