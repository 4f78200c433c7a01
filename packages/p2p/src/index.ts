// The polyfill must run before any libp2p module is evaluated: keep this import first.
import './polyfill.js'

export { createP2P } from './p2p.js'
export type { P2PComponents } from './p2p.js'
export { PeerProtocolError } from './errors.js'
export { PROTOCOL_VERSIONS, PieceUnavailableError, pieceProtocol } from './piece-protocol.js'
export { dhtProtocol, toSwarmKey } from './node.js'
export { PEER_KEY_FILE, peerIdOfDataDir } from './identity.js'
export { EntryKind, MAX_PAYLOAD, MessageType, RefuseReason } from './codec.js'
export type { Entry, ProtocolVersion } from './codec.js'
export type {
  PeerSourceKind, PeerInfo, ContentProvider, UploadStats, StreamingPiece, PieceData, ContentEntry, ContentSubscription,
  PeerSubscription, SubscribeOptions, P2PInit, KeepAliveOptions, FetchOptions, FetchPieceOptions, FindProvidersOptions, P2PEvents,
  P2P
} from './types.js'
