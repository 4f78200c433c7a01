import { DoptError } from '@dopt/interface'

/**
 * Thrown inside the piece protocol when a peer breaks it: a frame over its size limit, an unknown message type, a
 * malformed body. The stream is aborted; callers waiting on that peer see `PeerUnavailableError` with this as cause.
 */
export class PeerProtocolError extends DoptError {
  static override readonly code = 'PEER_PROTOCOL'
}
