import type { AbortOptions, ContentEntry } from '@dopt/interface'
import type { ProtocolVersion } from './codec.js'
import type { ComponentLogger } from '@libp2p/interface'

/** How a peer was found: by mDNS, through the DHT, given in `peers`, or it dialed this node first (`inbound`). */
export type PeerSourceKind = 'mdns' | 'dht' | 'static' | 'inbound'

export interface PeerInfo {
  peerId: string
  addrs: string[]
  source: PeerSourceKind
  /**
   * The connection encryption of each connection to the peer: `/tls/1.0.0` (node:tls on the socket, the fast
   * path) or `/noise` (peers without TLS, and every peer when a pre-shared key is set or the TLS fast path is off).
   */
  encryption: string[]
}

export type { ContentEntry, ContentProvider, ContentSubscription, PieceData, StreamingPiece } from '@dopt/interface'

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
  /**
   * IPv4 address of the one interface mDNS uses: `127.0.0.1` keeps it on the machine (tests, benchmarks, the lab).
   * @default every interface
   */
  mdnsInterface?: string
  /** Run the Kademlia DHT (LAN/private configuration, group-specific protocol). @default true */
  dht?: boolean
  /** Folder where the node keeps its identity key, so its peer id survives restarts. In memory when absent. */
  dataDir?: string
  /** Pieces served at once to all peers. @default 16 */
  maxConcurrentUploads?: number
  /** Pieces served at once to one peer: no peer can take every upload slot. @default 4 */
  maxUploadsPerPeer?: number
  /**
   * Milliseconds a peer's stream may refuse to take bytes (its window stays full) before it is reset: a peer that
   * never reads cannot hold upload slots. @default 10000
   */
  writeTimeout?: number
  /**
   * Versions of the piece protocol to speak, newest first. For interoperability tests: `['1.0.0']` makes a node
   * that talks as nodes before 1.1.0 did. @default ['1.1.0', '1.0.0']
   */
  protocolVersions?: ProtocolVersion[]
  /** Upload limit in bytes per second; 0 for none. @default 0 */
  uploadRate?: number
  /**
   * libp2p's keep-alive: every connection is pinged every `interval` ms, and closed when a ping gets no answer
   * within `timeout` ms (at most `interval`: one ping per peer at a time). Long on purpose: a ping waits behind the
   * bulk data queued on its connection and behind a busy event loop, and libp2p's own 5 s cut the connections of
   * busy swarms mid-download (the lab at N = 16 on 2 cores: nodes dropped their peers at once and fetched their
   * pieces from the origin a second time).
   * @default { interval: 30000, timeout: 30000 }
   */
  keepAlive?: KeepAliveOptions
  /**
   * libp2p's component logger, which the node logs to; among its lines, once at start, any fast path it left out
   * because the libp2p internals it relies on moved (`dopt:p2p:internals`). @default libp2p's debug logger
   */
  logger?: ComponentLogger
}

export interface KeepAliveOptions {
  /** Milliseconds between two pings of a connection. @default 30000 */
  interval?: number
  /** Milliseconds a ping may take before its connection is closed; at most `interval`. @default interval */
  timeout?: number
}

export interface FetchOptions extends AbortOptions {
  /** Milliseconds before the request fails. @default 30000 */
  timeout?: number
}

export interface FindProvidersOptions extends FetchOptions {
  /** Also ask every connected (and static) peer whether it holds the key. @default true */
  askConnected?: boolean
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
  /** A peer subscribed to content this node serves (1.1.0): it is downloading it too. */
  'subscribe': { peerId: string, key: string }
}

/** The start of a subscription to a peer's content, and the way to end it. */
export interface PeerSubscription {
  pieceSize: number
  pieceCount: number
  complete: boolean
  have: Uint8Array
  cancel(): void
}

export interface SubscribeOptions extends FetchOptions {
  /** Changes the peer sends: pieces it now serves, vouches for, fetches from the origin, gave up or lost. */
  onUpdate(entries: ContentEntry[]): void
  /** The subscription ended from the peer's side (it stopped serving the content, or it went away). */
  onEnd(reason: Error): void
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
  /** Changes the upload limit to peers, bytes per second (0: none), while the node runs. */
  setUploadRate(bytesPerSecond: number): void
  readonly peerId: string
  /** Addresses others can dial, with /p2p/<peerId>. */
  getMultiaddrs(): string[]
  /** Connected peers, with how each was found. */
  getPeers(): PeerInfo[]
  /** Announces that this node holds `key` (a content key or a manifest CID), on the DHT when it runs. */
  provide(key: string, options?: AbortOptions): Promise<void>
  /** Peers that may hold `key`: DHT providers, then connected peers that answer they hold it. Ends by itself. */
  findProviders(key: string, options?: FindProvidersOptions): AsyncIterable<string>
  /** The encoded manifest a peer holds for `key`, or null when it refuses. */
  fetchManifest(peerId: string, key: string, options?: FetchOptions): Promise<Uint8Array | null>
  /** The bitfield of pieces a peer serves for a manifest CID, or null when it holds none. */
  fetchHave(peerId: string, manifestCid: string, options?: FetchOptions): Promise<Uint8Array | null>
  /** One piece from a peer; rejects with PEER_REFUSED when it refuses, PEER_UNAVAILABLE when the peer is gone. */
  fetchPiece(peerId: string, manifestCid: string, index: number, options?: FetchPieceOptions): Promise<Uint8Array>
  /**
   * Subscribes to a peer's live state of some content (protocol 1.1.0): null when it does not hold it,
   * 'unsupported' when the peer speaks only 1.0.0. Updates go to `options.onUpdate` until `cancel()` or `onEnd`.
   */
  subscribe(peerId: string, key: string, options: SubscribeOptions): Promise<PeerSubscription | null | 'unsupported'>
  /** Peers connected now. */
  connectedPeers(): string[]
  /** Peers connected now, and the static peers given (connected or not yet: asking one dials it). */
  knownPeers(): string[]
  addEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void
  removeEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void
  stop(): Promise<void>
}
