import type { AbortOptions } from '@dopt/interface'

/**
 * What the engine uses of the peer network (`@dopt/p2p` provides it). Kept to these five calls so that the engine
 * does not depend on libp2p, and so the scheduler can be read without it.
 */
export interface PeerNetwork {
  findProviders(key: string, options?: AbortOptions & { timeout?: number }): AsyncIterable<string>
  fetchManifest(peerId: string, key: string, options?: AbortOptions & { timeout?: number }): Promise<Uint8Array | null>
  fetchHave(peerId: string, manifestCid: string, options?: AbortOptions & { timeout?: number }): Promise<Uint8Array | null>
  /** `into`: a buffer to receive the piece into, the request's until it settles (the result is then a view of it). */
  fetchPiece(peerId: string, manifestCid: string, index: number, options?: AbortOptions & { timeout?: number, into?: Uint8Array }): Promise<Uint8Array>
  provide(key: string, options?: AbortOptions): Promise<void>
}

/** What the network asks of the engine: the seeding cache answers (same shape as `@dopt/p2p`'s ContentProvider). */
export interface ContentServer {
  getManifest(key: string): Promise<Uint8Array | null>
  getHave(manifestCid: string): Promise<Uint8Array | null>
  readPiece(manifestCid: string, index: number): Promise<Uint8Array | null>
}
