import type { AbortOptions } from '@dopt/interface'

/** How a peer was found: by mDNS, through the DHT, given in `peers`, or it dialed this node first (`inbound`). */
export type PeerSourceKind = 'mdns' | 'dht' | 'static' | 'inbound'

export interface PeerInfo {
  peerId: string
  addrs: string[]
  source: PeerSourceKind
}

/**
 * What this node serves to other peers. The engine implements it over its cache: only complete, verified and
 * validated content, never partial or unvalidated pieces. Every method answers null for content it does not hold.
 */
export interface ContentProvider {
  /** The encoded manifest for a manifest CID or a content key (both CID strings). */
  getManifest(key: string): Promise<Uint8Array | null>
  /** Which pieces of the content named by its manifest CID this node serves: bitfield bytes (MSB first). */
  getHave(manifestCid: string): Promise<Uint8Array | null>
  /** One piece of the content named by its manifest CID. */
  readPiece(manifestCid: string, index: number): Promise<Uint8Array | null>
}

export interface P2PInit {
  /** Listen addresses. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Peers to dial at start and keep (multiaddrs with /p2p/ peer id). @default [] */
  peers?: string[]
  /** Namespaces the DHT protocol and the piece protocol: nodes of different groups never talk. @default 'default' */
  groupId?: string
  /** Pre-shared key (libp2p private network, 32 bytes): strangers without it cannot connect at all. */
  psk?: Uint8Array
  /** Find LAN peers with mDNS (and dial them). @default true */
  mdns?: boolean
  /** Run the Kademlia DHT (LAN/private configuration, group-specific protocol). @default true */
  dht?: boolean
  /** Folder where the node keeps its identity key, so its peer id survives restarts. In memory when absent. */
  dataDir?: string
  /** Pieces served at once to all peers. @default 16 */
  maxConcurrentUploads?: number
  /** Upload limit in bytes per second; 0 for none. @default 0 */
  uploadRate?: number
}

export interface FetchOptions extends AbortOptions {
  /** Milliseconds before the request fails. @default 30000 */
  timeout?: number
}

export interface FetchPieceOptions extends FetchOptions {
  /**
   * A buffer to receive the piece into (at least the piece's length), so that a receiver can reuse its buffers
   * instead of allocating one per piece. The result is then a view of it. The buffer is the request's until the
   * promise settles: written to while the piece arrives, let go of when the request fails, times out or is aborted.
   * A piece larger than the buffer is received into a new one as without it.
   */
  into?: Uint8Array
}

export interface P2PEvents {
  /** A peer connected (found by mDNS, the DHT, or given). */
  'peer:connect': PeerInfo
  'peer:disconnect': { peerId: string }
}

/** What a node has sent to peers since it started. */
export interface UploadStats {
  /** Piece bytes sent to peers. */
  bytesUploaded: number
  piecesUploaded: number
}

/** A libp2p node with dopt's piece protocol. */
export interface P2P {
  /** Bytes and pieces served to peers since the node started. */
  getStats(): UploadStats
  readonly peerId: string
  /** Addresses others can dial, with /p2p/<peerId>. */
  getMultiaddrs(): string[]
  /** Connected peers, with how each was found. */
  getPeers(): PeerInfo[]
  /** Announces that this node holds `key` (a content key or a manifest CID), on the DHT when it runs. */
  provide(key: string, options?: AbortOptions): Promise<void>
  /** Peers that may hold `key`: DHT providers, then connected peers that answer they hold it. Ends by itself. */
  findProviders(key: string, options?: FetchOptions): AsyncIterable<string>
  /** The encoded manifest a peer holds for `key`, or null when it refuses. */
  fetchManifest(peerId: string, key: string, options?: FetchOptions): Promise<Uint8Array | null>
  /** The bitfield of pieces a peer serves for a manifest CID, or null when it holds none. */
  fetchHave(peerId: string, manifestCid: string, options?: FetchOptions): Promise<Uint8Array | null>
  /** One piece from a peer; rejects with PEER_REFUSED when it refuses, PEER_UNAVAILABLE when the peer is gone. */
  fetchPiece(peerId: string, manifestCid: string, index: number, options?: FetchPieceOptions): Promise<Uint8Array>
  addEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void
  removeEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void
  stop(): Promise<void>
}
