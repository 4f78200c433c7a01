/** Settings of the job engine. Every field has a default; `@dopt/node` passes what the user configured. */
export interface EngineInit {
  /** Jobs transferring at once; a higher-priority job pre-empts a lower one when all slots are taken. @default 4 */
  maxConcurrentJobs?: number
  /** Notification callbacks running at once across the node (BITS: four per user). @default 4 */
  maxConcurrentCallbacks?: number
  /** Seconds before a throwing `jobTransferred` / `fileTransferred` callback is called again. @default 5 */
  callbackRetryDelay?: number
  /** Milliseconds between two `jobModification` callbacks or `progress` events of one job. @default 250 */
  modificationInterval?: number
  /** Default minimum retry delay of new jobs, in seconds (BITS: 600). @default 600 */
  minimumRetryDelay?: number
  /** Default no-progress timeout of new jobs, in seconds (BITS: 14 days). @default 1209600 */
  noProgressTimeout?: number
  /** Piece size of new files, in bytes. @default 1 MiB */
  pieceSize?: number
  /** Pieces in memory per transfer, being hashed or written. @default 8 */
  piecesInFlight?: number
  /**
   * Write pieces with direct I/O (O_DIRECT) where the file system supports it, bypassing the page cache; buffered
   * writes otherwise. @default true
   */
  directWrites?: boolean
  /** Piece bitmaps are saved after this many new pieces, or `flushInterval` ms, whichever comes first. @default 32 */
  flushPieces?: number
  /** @default 500 */
  flushInterval?: number
  /** Times a file restarts in a row because the origin's copy changed, before the job ends in `error` (CONTENT_CHANGED). @default 3 */
  maxContentRestarts?: number
  /** Piece requests in flight per peer: enough to hide a round trip and the seeder's disk read. @default 8 */
  peerRequestsInFlight?: number
  /**
   * Seconds to look for peers before the origin takes pieces that no peer holds [DODelayForegroundDownloadFromHttp].
   * The origin starts sooner when discovery ends with no peers. @default 2
   */
  originDelay?: number
  /** Seconds a peer search runs. @default 2 */
  discoveryTimeout?: number
  /** Seconds before a piece request to a peer fails and the peer is dropped. @default 15 */
  peerTimeout?: number
  /** Bad pieces from a peer before it is banned for that content. @default 3 */
  maxPeerStrikes?: number
  /** Most pieces in one ranged origin request while peers share the work. @default 16 */
  maxOriginRun?: number
  /** Download limit for foreground jobs, bytes per second, origin and peers together; 0 for none. @default 0 */
  foregroundDownloadRate?: number
  /** Download limit for all other jobs together, bytes per second; 0 for none. @default 0 */
  backgroundDownloadRate?: number
}

export type EngineSettings = Required<EngineInit>

export function engineSettings (init: EngineInit = {}): EngineSettings {
  return {
    maxConcurrentJobs: init.maxConcurrentJobs ?? 4,
    maxConcurrentCallbacks: init.maxConcurrentCallbacks ?? 4,
    callbackRetryDelay: init.callbackRetryDelay ?? 5,
    modificationInterval: init.modificationInterval ?? 250,
    minimumRetryDelay: init.minimumRetryDelay ?? 600,
    noProgressTimeout: init.noProgressTimeout ?? 1_209_600,
    pieceSize: init.pieceSize ?? (1 << 20),
    piecesInFlight: init.piecesInFlight ?? 8,
    directWrites: init.directWrites ?? true,
    flushPieces: init.flushPieces ?? 32,
    flushInterval: init.flushInterval ?? 500,
    maxContentRestarts: init.maxContentRestarts ?? 3,
    peerRequestsInFlight: init.peerRequestsInFlight ?? 8,
    originDelay: init.originDelay ?? 2,
    discoveryTimeout: init.discoveryTimeout ?? 2,
    peerTimeout: init.peerTimeout ?? 15,
    maxPeerStrikes: init.maxPeerStrikes ?? 3,
    maxOriginRun: init.maxOriginRun ?? 16,
    foregroundDownloadRate: init.foregroundDownloadRate ?? 0,
    backgroundDownloadRate: init.backgroundDownloadRate ?? 0
  }
}
