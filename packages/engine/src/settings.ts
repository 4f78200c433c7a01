import { availableParallelism } from 'node:os'
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
  /**
   * Most piece requests in flight to one peer: enough to hide a round trip and the seeder's disk read. With many
   * peers each gets fewer (about 24 in all, at least 2 each), so that busy peers do not sit on pieces others could
   * send. @default 8
   */
  peerRequestsInFlight?: number
  /**
   * Seconds a foreground job's download waits for peers before it takes from the origin pieces no peer holds or is
   * fetching [DODelayForegroundDownloadFromHttp]. A download with no peer of its content in sight does not wait.
   * @default 0
   */
  foregroundOriginDelay?: number
  /** The same for every other priority [DODelayBackgroundDownloadFromHttp]. @default 0 */
  backgroundOriginDelay?: number
  /** Sets both origin delays (the name before there were two); the specific settings win. */
  originDelay?: number
  /**
   * Take piece hashes on a peer's word for files with no end-to-end check (no SHA-256, no pinned manifest, no
   * `fileTransferred` validation): trust every member of the group as you trust yourself. Off, such files come from
   * the origin only (their pieces are still served to peers that can check them). @default false
   */
  trustGroup?: boolean
  /** Bytes of recently received pieces kept in memory to serve to peers without reading the disk. @default 64 MiB */
  servingMemory?: number
  /**
   * Threads that hash pieces from the origin beside the receiving thread; 0 hashes them on it. One pays on the origin
   * path of a lone download; where many processes share few cores (a lab fleet) the thread only adds work.
   * @default min(2, cores - 1), at least 1
   */
  hashThreads?: number
  /** Seconds a peer search runs. @default 2 */
  discoveryTimeout?: number
  /** Seconds before a piece request to a peer fails and the peer is dropped. @default 15 */
  peerTimeout?: number
  /** Bad pieces from a peer before it is banned for that content. @default 3 */
  maxPeerStrikes?: number
  /**
   * Most pieces in one ranged origin request. Runs are also sized to what the origin gives: about two seconds'
   * worth, so a slow origin's pieces are not held back from the swarm for long. @default 256
   */
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
const RULES: Record<Exclude<keyof EngineInit, 'directWrites' | 'trustGroup'>, Rule> = {
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
  foregroundOriginDelay: ['number', 0, MAX_TIMER_SECONDS, ' seconds'],
  backgroundOriginDelay: ['number', 0, MAX_TIMER_SECONDS, ' seconds'],
  servingMemory: ['integer', 0, Number.MAX_SAFE_INTEGER, ' bytes'],
  hashThreads: ['integer', 0, 64, ''],
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
  for (const key of ['directWrites', 'trustGroup'] as const) {
    if (init[key] !== undefined && typeof init[key] !== 'boolean') throw new InvalidArgumentError(`${key} must be true or false, not ${String(init[key])}`)
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
    originDelay: init.originDelay ?? 0,
    foregroundOriginDelay: init.foregroundOriginDelay ?? init.originDelay ?? 0,
    backgroundOriginDelay: init.backgroundOriginDelay ?? init.originDelay ?? 0,
    trustGroup: init.trustGroup ?? false,
    servingMemory: init.servingMemory ?? 64 * 1024 * 1024,
    hashThreads: init.hashThreads ?? Math.min(2, Math.max(1, availableParallelism() - 1)),
    discoveryTimeout: init.discoveryTimeout ?? 2,
    peerTimeout: init.peerTimeout ?? 15,
    maxPeerStrikes: init.maxPeerStrikes ?? 3,
    maxOriginRun: init.maxOriginRun ?? 256,
    foregroundDownloadRate: init.foregroundDownloadRate ?? 0,
    backgroundDownloadRate: init.backgroundDownloadRate ?? 0
  }
}
