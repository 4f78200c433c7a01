import type { AbortOptions, ContentEntry, ContentProvider } from '@dopt/interface'

/** A subscription to a peer's live state of some content (piece protocol 1.1.0). */
export interface PeerContent {
  pieceSize: number
  pieceCount: number
  /** The peer holds every piece. */
  complete: boolean
  /** Bitfield of the pieces it serves now. */
  have: Uint8Array
  cancel(): void
}

export interface SubscribeHandlers extends AbortOptions {
  timeout?: number
  onUpdate(entries: ContentEntry[]): void
  onEnd(reason: Error): void
}

/**
 * What the engine uses of the peer network (`@dopt/node` adapts `@dopt/p2p` to it). Kept to these calls so that the
 * engine does not depend on libp2p, and so the scheduler can be read without it.
 */
export interface PeerNetwork {
  /** Providers of `key`: DHT providers and, unless `askConnected` is false, connected peers that say they hold it. */
  findProviders(key: string, options?: AbortOptions & { timeout?: number, askConnected?: boolean }): AsyncIterable<string>
  fetchManifest(peerId: string, key: string, options?: AbortOptions & { timeout?: number }): Promise<Uint8Array | null>
  fetchHave(peerId: string, key: string, options?: AbortOptions & { timeout?: number }): Promise<Uint8Array | null>
  /** `into`: a buffer to receive the piece into, the request's until it settles (the result is then a view of it). */
  fetchPiece(peerId: string, key: string, index: number, options?: AbortOptions & { timeout?: number, into?: Uint8Array }): Promise<Uint8Array>
  provide(key: string, options?: AbortOptions): Promise<void>
  /** The peer's live state of `key`: null when it does not hold it, 'unsupported' when it speaks only 1.0.0. */
  subscribe(peerId: string, key: string, handlers: SubscribeHandlers): Promise<PeerContent | null | 'unsupported'>
  /** Peers connected now, and the static ones given (asking one dials it). */
  connectedPeers(): string[]
  /** Calls `listener` with each peer that connects; returns what removes it. */
  onPeer(listener: (peerId: string) => void): () => void
  /** Calls `listener` with each peer that subscribes to `key` here (it is downloading it too); returns what removes it. */
  onSubscriber(key: string, listener: (peerId: string) => void): () => void
}

/** What the network asks of the engine: the seeding cache and running downloads answer (see ContentProvider). */
export type ContentServer = ContentProvider
