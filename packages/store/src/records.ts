import type { ErrorInfo, JobPriority, JobState, JobType, ValidationState } from '@dopt/interface'

/** A job as persisted. Times are milliseconds since the epoch. */
export interface JobRecord {
  id: string
  displayName: string
  description: string
  type: JobType
  priority: JobPriority
  state: JobState
  notifyFlags: number
  /** Seconds. */
  minimumRetryDelay: number
  /** Seconds. */
  noProgressTimeout: number
  errorCount: number
  error: ErrorInfo | null
  creationTime: number
  modificationTime: number
  transferCompletionTime: number | null
  /** When bytes last arrived, or the job was last resumed: the no-progress timeout counts from here. */
  lastProgressTime: number
  /** True once `jobTransferred` returned for this transfer (so a restart does not call it again). */
  transferredNotified: boolean
  /** Sequence number, to enumerate jobs in creation order. */
  seq: number
  /** User id of the owner; absent in records made before owners were kept (then: the node's own user). */
  owner?: number
  /** `[program, ...args]` run on transfer or error (BITS' SetNotifyCmdLine); absent or null: none. */
  notifyCmdLine?: string[] | null
  /** True once the notify command ran for the job's current error (so a restart does not run it again). */
  errorNotified?: boolean
}

/** A file of a job as persisted. */
export interface FileRecord {
  jobId: string
  index: number
  remoteName: string
  localName: string
  temporaryName: string
  /** Expected whole-file SHA-256 (hex), given by the caller. */
  sha256: string | null
  /** Manifest pinned by the caller (CID), else the one in use once known. */
  manifestCid: string | null
  /** True when the manifest was pinned by the caller (trusted). */
  manifestPinned: boolean
  /** Size from the origin; null until known. */
  size: number | null
  etag: string | null
  lastModified: string | null
  /** The URL after redirects, as last seen. */
  finalUrl: string | null
  acceptRanges: boolean
  pieceSize: number
  completed: boolean
  validationState: ValidationState
  /** True after the application rejected peer content: every byte must now come from the origin. */
  originOnly: boolean
  /** True once `fileTransferred` returned for this transfer of the file. */
  transferredNotified: boolean
  /**
   * Body bytes the origin sent for this file, every one (spot checks, manifests, duplicates and re-fetches
   * included), over the job's life. Absent in records from before it was counted.
   */
  bytesFromOrigin?: number
  /** Piece bytes received from peers, every one (pieces later discarded included). */
  bytesFromPeers?: number
  /** Piece bytes of this file served to peers while the job ran. */
  bytesUploaded?: number
  /** Where the caller said the pinned manifest's bytes are: an http(s) URL or an absolute path. */
  manifestFrom?: string | null
}

/** Which pieces of a file are verified on disk, which came from peers, and the hashes seen so far. */
export interface PieceRecord {
  done: Uint8Array
  fromPeer: Uint8Array
}

/** A file in the seeding cache: complete, verified, validated content this node serves to peers. */
export interface CacheRecord {
  /** Manifest CID: the content's name. */
  cid: string
  /** Discovery key over URL, ETag and size. */
  contentKey: string
  /** The cache's own copy (a hard link when the file system allows it). */
  path: string
  size: number
  pieceSize: number
  url: string
  /** Milliseconds since the epoch. */
  addedTime: number
  lastUsedTime: number
  /** Bytes served to peers so far. */
  bytesServed: number
  /**
   * The file's identity (`inode:size:change time in ns`) when every piece was last known to match the manifest: at
   * add (the file was just assembled from checked pieces), or once serving had checked them all. While the file
   * keeps it, pieces are served without being hashed again, across restarts too. Absent in records from before.
   */
  verifiedStamp?: string
}
