import type { ErrorInfo } from './errors.js'

/** The states of a job, as BITS' `BG_JOB_STATE_*`. */
export type JobState =
  | 'queued'
  | 'connecting'
  | 'transferring'
  | 'suspended'
  | 'error'
  | 'transient-error'
  | 'transferred'
  | 'acknowledged'
  | 'cancelled'

/** Every job state, in BITS' order. */
export const JOB_STATES: readonly JobState[] = [
  'queued', 'connecting', 'transferring', 'suspended', 'error', 'transient-error', 'transferred', 'acknowledged',
  'cancelled'
]

/** Only downloads are supported (BITS' `BG_JOB_TYPE_DOWNLOAD`). */
export type JobType = 'download'

/** Job priority, as BITS' `BG_JOB_PRIORITY_*`: foreground first, low last. */
export type JobPriority = 'foreground' | 'high' | 'normal' | 'low'

export const JOB_PRIORITIES: readonly JobPriority[] = ['foreground', 'high', 'normal', 'low']

/** Which notifications a job sends, with BITS' values. Combine with `|`. */
export const NotifyFlags = {
  /** All files of the job have been transferred. */
  JobTransferred: 0x1,
  /** The job entered the error state. */
  JobError: 0x2,
  /** No notifications at all (overrides the others). */
  Disable: 0x4,
  /** The job changed: bytes transferred, files added, properties or state. */
  JobModification: 0x8,
  /** A file of the job has been transferred. */
  FileTransferred: 0x10,
  /** Ranges of a file were transferred (accepted, never sent, as in DO). */
  FileRangesTransferred: 0x20
} as const

export type NotifyFlags = number

/** The default flags of a new job (BITS: JobTransferred | JobError). */
export const DEFAULT_NOTIFY_FLAGS = NotifyFlags.JobTransferred | NotifyFlags.JobError

/** Progress of a whole job. */
export interface JobProgress {
  /** Bytes to transfer in all files; -1 while a file's size is not known yet. */
  bytesTotal: number
  /** Verified bytes written so far. */
  bytesTransferred: number
  filesTotal: number
  filesTransferred: number
  /**
   * Piece bytes received from peers, every one: pieces later dropped (a duplicate in the endgame, one that failed
   * its check, content re-fetched after a rejection) included.
   */
  bytesFromPeers: number
  /**
   * Body bytes the origin sent for the job, every one: manifests, duplicates and re-fetches included. With
   * `bytesFromPeers` it can exceed `bytesTransferred`; the excess is what the download cost beyond one copy.
   */
  bytesFromOrigin: number
  /** Piece bytes of the job's files served to peers while it ran. */
  bytesUploaded: number
}

/** Progress of one file. */
export interface FileProgress {
  /** Size of the file; -1 while it is not known. */
  bytesTotal: number
  bytesTransferred: number
  /** True once every byte is transferred and verified. */
  completed: boolean
  /** As JobProgress's, for this file. */
  bytesFromPeers: number
  bytesFromOrigin: number
  bytesUploaded: number
}

/** Times of a job (BITS' `BG_JOB_TIMES`). */
export interface JobTimes {
  creationTime: Date
  modificationTime: Date
  /** When the job entered `transferred`; null before. */
  transferCompletionTime: Date | null
}

/** The application's verdict on a transferred file. */
export type ValidationState = 'unset' | 'valid' | 'invalid'

export interface AbortOptions {
  signal?: AbortSignal
}

export interface AddFileOptions extends AbortOptions {
  /** Expected SHA-256 of the whole file, hex. A mismatch is a validation failure. */
  sha256?: string
  /**
   * CID of the manifest to use for this file (trusted: pinned by the caller, e.g. made by `dopt manifest`). Its
   * bytes come from the node's store, from peers, from `manifestFrom`, or from the origin's sidecar
   * (`<URL>.dopt-manifest`); whoever sends them, they must hash to this CID.
   */
  manifest?: string
  /** Where the pinned manifest's bytes are, if not beside the file: an http(s) URL or an absolute path. */
  manifestFrom?: string
}

/** One file of a job (BITS' `IBackgroundCopyFile3`). */
export interface JobFile {
  /** Index of the file within its job. */
  readonly index: number
  /** The URL the file is downloaded from. */
  readonly remoteName: string
  /** The absolute path the file gets when the job is completed. */
  readonly localName: string
  /** The absolute path of the temporary file, in the same folder as `localName`. */
  readonly temporaryName: string
  /** The expected SHA-256 (lowercase hex) given to `addFile`, or null. */
  readonly sha256: string | null
  /** The manifest CID pinned at `addFile`, or null. */
  readonly pinnedManifest: string | null
  /** True if any byte of the file came from a peer. */
  readonly isDownloadedFromPeer: boolean
  /** The application's verdict, `unset` until `setValidationState` is called. */
  readonly validationState: ValidationState
  getProgress(): FileProgress
  /**
   * The application's verdict on the transferred content. Invalid content that came wholly from the origin puts
   * the job in `error` with `VALIDATION_FAILED`; content with any byte from peers is downloaded again from the
   * origin. Fails with `PENDING` before the file is transferred.
   */
  setValidationState(valid: boolean): Promise<void>
  getValidationState(): ValidationState
  /**
   * Gives a file that has no expected SHA-256 one, before it is transferred (a rerun that adds `--sha256`): the
   * whole-file check then covers the pieces already fetched too, which are kept. `INVALID_STATE` once the file is
   * transferred or when it has another digest.
   */
  setSha256(sha256: string): Promise<void>
}

/**
 * The BITS-style callback interface. Each member is optional. `jobTransferred` and `fileTransferred` are called
 * again after the node's callback retry delay while they throw; the others are called once.
 */
export interface JobNotifyInterface {
  jobTransferred?(job: Job): void | Promise<void>
  jobError?(job: Job, error: ErrorInfo): void | Promise<void>
  jobModification?(job: Job): void | Promise<void>
  fileTransferred?(job: Job, file: JobFile): void | Promise<void>
}

/** Typed events of a job, beside the callback interface. Events are sent whatever the notify flags say. */
export interface JobEventMap {
  /** The job's state changed. */
  state: { state: JobState, previous: JobState }
  /** Bytes were transferred (throttled). */
  progress: JobProgress
  /** A file was transferred and awaits validation. */
  'file-transferred': { file: JobFile }
  /** Every file was transferred. */
  transferred: JobProgress
  /** The job entered `error` or `transient-error`. */
  error: { error: ErrorInfo, transient: boolean }
  /**
   * Something the application should know that is not an error, said once per file: e.g. `ORIGIN_ONLY` (no
   * end-to-end check, so nothing was taken from peers, and what to pass to share safely), with the file it is about;
   * `NOTIFY_COMMAND_FAILED` (the job's notify command line could not be started), without one.
   */
  notice: { code: string, message: string, file?: JobFile }
}

export type JobEvent = { [K in keyof JobEventMap]: { type: K, jobId: string } & JobEventMap[K] }[keyof JobEventMap]

/** A download job (BITS' `IBackgroundCopyJob`). Methods forbidden in the job's state fail with `INVALID_STATE`. */
export interface Job {
  readonly id: string
  getId(): string
  getType(): JobType
  getDisplayName(): string
  setDisplayName(name: string): Promise<void>
  getDescription(): string
  setDescription(description: string): Promise<void>
  getPriority(): JobPriority
  setPriority(priority: JobPriority): Promise<void>
  /** Adds a file; allowed while the job is not transferred, acknowledged or cancelled. */
  addFile(url: string, localPath: string, options?: AddFileOptions): Promise<JobFile>
  enumFiles(): JobFile[]
  /** Queues the job; fails with `JOB_EMPTY` when it has no files. */
  resume(options?: AbortOptions): Promise<void>
  suspend(options?: AbortOptions): Promise<void>
  /** Cancels the job and deletes its temporary files. */
  cancel(options?: AbortOptions): Promise<void>
  /** Renames every finished temporary file to its local name and ends the job (`acknowledged`). */
  complete(options?: AbortOptions): Promise<void>
  getState(): JobState
  getProgress(): JobProgress
  getTimes(): JobTimes
  /** The error of a job in `error` or `transient-error`, else null. */
  getError(): ErrorInfo | null
  getNotifyFlags(): number
  setNotifyFlags(flags: number): void
  getNotifyInterface(): JobNotifyInterface | null
  setNotifyInterface(callbacks: JobNotifyInterface | null): void
  /**
   * The program run when the job is transferred or enters `error` (with those notify flags), as BITS'
   * `SetNotifyCmdLine`: instead of a callback when none is registered, or after one threw. `[program, ...args]`,
   * the program an absolute path (no shell, no PATH lookup); `{jobId}` and `{event}` in the arguments are replaced.
   * It runs as the job's owner, with `DOPT_JOB_ID` and `DOPT_JOB_EVENT` in its environment. `null` removes it.
   */
  getNotifyCmdLine(): string[] | null
  setNotifyCmdLine(cmdLine: string[] | null): Promise<void>
  /** User id of the job's owner: the user who created it (BITS' `GetOwner`). */
  getOwner(): number
  /** Seconds to wait before retrying after a transient error. @default 600 */
  getMinimumRetryDelay(): number
  setMinimumRetryDelay(seconds: number): Promise<void>
  /** Seconds without progress after which a transient error becomes an error. @default 1209600 (14 days) */
  getNoProgressTimeout(): number
  setNoProgressTimeout(seconds: number): Promise<void>
  /** Number of transient errors so far. */
  getErrorCount(): number
  addEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void
  removeEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void
  /** Events as an async iterator; ends when the job is acknowledged or cancelled, or `signal` aborts. */
  events(options?: AbortOptions): AsyncIterableIterator<JobEvent>
  /** Resolves once the job reaches one of `states` (by default: transferred, error, acknowledged, cancelled). */
  waitFor(states?: readonly JobState[], options?: AbortOptions): Promise<JobState>
  /** A plain snapshot of the job, as the command line prints it. */
  toJSON(): JobInfo
}

export interface FileInfo {
  index: number
  remoteName: string
  localName: string
  temporaryName: string
  bytesTotal: number
  bytesTransferred: number
  completed: boolean
  bytesFromPeers: number
  bytesFromOrigin: number
  bytesUploaded: number
  isDownloadedFromPeer: boolean
  validationState: ValidationState
  /** CID of the file's manifest (pinned, from peers, or built from its pieces); null until known. */
  manifestCid: string | null
  /** The expected SHA-256 given to `addFile`, or null. */
  sha256: string | null
  /** The manifest CID pinned at `addFile`, or null. */
  pinnedManifest: string | null
}

export interface JobInfo extends JobProgress {
  jobId: string
  /** User id of the job's owner (see `Job.getOwner`). */
  owner: number
  /** The program run on transfer or error (see `Job.setNotifyCmdLine`), or null. */
  notifyCmdLine: string[] | null
  displayName: string
  description: string
  type: JobType
  priority: JobPriority
  state: JobState
  notifyFlags: number
  errorCount: number
  minimumRetryDelay: number
  noProgressTimeout: number
  creationTime: string
  modificationTime: string
  transferCompletionTime: string | null
  files: FileInfo[]
  error: ErrorInfo | null
}

export interface CreateJobOptions extends AbortOptions {
  /**
   * User id that owns the job. A daemon sets it to the caller's; an embedded node leaves it out: the process's
   * user. @default process.getuid()
   */
  owner?: number
}

/** The job manager (BITS' `IBackgroundCopyManager`). */
export interface JobManager {
  /** Creates a job in state `suspended`. The name is required, at most 256 characters. */
  createJob(displayName: string, type?: JobType, options?: CreateJobOptions): Promise<Job>
  /** Fails with `JOB_NOT_FOUND`. */
  getJob(id: string): Promise<Job>
  /** Every job that is not acknowledged or cancelled. */
  enumJobs(): Promise<Job[]>
}
