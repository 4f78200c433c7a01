import { MAX_PIECE_SIZE, MIN_PIECE_SIZE } from '@dopt/content'
import { InvalidArgumentError } from '@dopt/interface'

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

/** The longest delay a Node timer takes (2^31 - 1 ms); longer ones fire at once, so settings used as one stop here. */
export const MAX_TIMER_SECONDS = Math.floor(0x7fffffff / 1000)
/** BITS' limit for a job's retry delay and no-progress timeout (a ULONG of seconds); timed in steps (job.ts). */
export const MAX_JOB_SECONDS = 0xffffffff

type Rule = [kind: 'integer' | 'number', min: number, max: number, unit: string]
const RULES: Record<Exclude<keyof EngineInit, 'directWrites'>, Rule> = {
  maxConcurrentJobs: ['integer', 1, 1024, ''],
  maxConcurrentCallbacks: ['integer', 1, 1024, ''],
  callbackRetryDelay: ['number', 0, MAX_TIMER_SECONDS, ' seconds'],
  modificationInterval: ['number', 0, 0x7fffffff, ' ms'],
  minimumRetryDelay: ['number', 0, MAX_JOB_SECONDS, ' seconds'],
  noProgressTimeout: ['number', 0, MAX_JOB_SECONDS, ' seconds'],
  // What a manifest may have (content/src/pieces.ts).
  pieceSize: ['integer', MIN_PIECE_SIZE, MAX_PIECE_SIZE, ' bytes'],
  piecesInFlight: ['integer', 1, 1024, ''],
  flushPieces: ['integer', 1, 1_000_000, ''],
  flushInterval: ['number', 0, 0x7fffffff, ' ms'],
  maxContentRestarts: ['integer', 0, 1_000_000, ''],
  peerRequestsInFlight: ['integer', 1, 1024, ''],
  originDelay: ['number', 0, MAX_TIMER_SECONDS, ' seconds'],
  discoveryTimeout: ['number', 0, MAX_TIMER_SECONDS, ' seconds'],
  peerTimeout: ['number', 0.001, MAX_TIMER_SECONDS, ' seconds'],
  maxPeerStrikes: ['integer', 1, 1_000_000, ''],
  maxOriginRun: ['integer', 1, 1_000_000, ''],
  foregroundDownloadRate: ['number', 0, Number.MAX_SAFE_INTEGER, ' bytes/s'],
  backgroundDownloadRate: ['number', 0, Number.MAX_SAFE_INTEGER, ' bytes/s']
}

/**
 * The settings with their defaults; INVALID_ARGUMENT naming the setting for a value out of its range (a zero
 * `piecesInFlight` or `maxConcurrentJobs` would wait forever, a zero `pieceSize` fail mid-download, a delay past
 * Node's timer limit fire at once).
 */
export function engineSettings (init: EngineInit = {}): EngineSettings {
  for (const [key, [kind, min, max, unit]] of Object.entries(RULES)) {
    const value = (init as Record<string, unknown>)[key]
    if (value === undefined) continue
    const ok = typeof value === 'number' && Number.isFinite(value) && (kind === 'number' || Number.isInteger(value))
    if (!ok || value < min || value > max) {
      throw new InvalidArgumentError(`${key} must be ${kind === 'integer' ? 'a whole number' : 'a number'} from ${min} to ${max}${unit}, not ${String(value)}`)
    }
  }
  if (init.directWrites !== undefined && typeof init.directWrites !== 'boolean') {
    throw new InvalidArgumentError(`directWrites must be true or false, not ${String(init.directWrites)}`)
  }
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
