/**
 * Errors of dopt. Every error has a stable `code` that callers match on, a `context` (where it happened, as
 * BITS' BG_ERROR_CONTEXT), optional details, and the `cause` it wraps. Errors cross process boundaries as
 * `{ code, context, message, ... }` (see `toErrorInfo`) and come back as the same class (`errorFromInfo`).
 */

/** Where an error happened, after BITS' `BG_ERROR_CONTEXT`. */
export type ErrorContext =
  | 'none'
  | 'unknown'
  | 'general-queue-manager'
  | 'queue-manager-notification'
  | 'local-file'
  | 'remote-file'
  | 'general-transport'
  | 'remote-application'

/** The plain, serializable form of an error, as a job reports it and as it crosses the daemon boundary. */
export interface ErrorInfo {
  /** Stable machine-readable code, e.g. `VALIDATION_FAILED`. */
  code: string
  /** Where the error happened. */
  context: ErrorContext
  /** Human-readable description. */
  message: string
  /** HTTP status from the origin, when the error came from one. */
  httpStatus?: number
  /** URL involved, when there is one. */
  url?: string
  /** Local path involved, when there is one. */
  path?: string
  /** Job involved, when there is one. */
  jobId?: string
}

export interface DoptErrorOptions {
  cause?: unknown
  context?: ErrorContext
  httpStatus?: number
  url?: string
  path?: string
  jobId?: string
}

/** Base class of every error dopt throws on purpose. */
export class DoptError extends Error {
  static readonly code: string = 'DOPT_ERROR'
  readonly code: string
  readonly context: ErrorContext
  readonly httpStatus?: number
  readonly url?: string
  readonly path?: string
  readonly jobId?: string

  constructor (message: string, options: DoptErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = (new.target as unknown as { code: string }).code
    this.context = options.context ?? 'none'
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus
    if (options.url !== undefined) this.url = options.url
    if (options.path !== undefined) this.path = options.path
    if (options.jobId !== undefined) this.jobId = options.jobId
  }

  toJSON (): ErrorInfo {
    return toErrorInfo(this)
  }
}

/** Thrown when an argument is missing, malformed or out of range. */
export class InvalidArgumentError extends DoptError {
  static override readonly code = 'INVALID_ARGUMENT'
}

/** Thrown when a URL is not an absolute http(s) URL. */
export class InvalidUrlError extends DoptError {
  static override readonly code = 'INVALID_URL'
}

/** Thrown when a local path is relative, a directory, or in a folder that does not exist or cannot be written. */
export class InvalidPathError extends DoptError {
  static override readonly code = 'INVALID_PATH'
}

/** Thrown when a method is called in a job state that forbids it (DO_E_INVALID_STATE). */
export class InvalidStateError extends DoptError {
  static override readonly code = 'INVALID_STATE'
}

/** Thrown when no job has the given id. */
export class JobNotFoundError extends DoptError {
  static override readonly code = 'JOB_NOT_FOUND'
}

/** Thrown when a job with no files is resumed (BG_E_EMPTY). */
export class JobEmptyError extends DoptError {
  static override readonly code = 'JOB_EMPTY'
}

/** Thrown when a file's validation state is set before the file is transferred. */
export class ValidationPendingError extends DoptError {
  static override readonly code = 'PENDING'
}

/** Reported when the application rejects content that came wholly from the origin, or a given SHA-256 does not match. */
export class ValidationFailedError extends DoptError {
  static override readonly code = 'VALIDATION_FAILED'
}

/** Reported when the origin answers with an HTTP status that will not change on retry (404, 410, 401, 403, ...). */
export class HttpStatusError extends DoptError {
  static override readonly code = 'HTTP_STATUS'
}

/** Reported when the origin cannot be reached, drops the connection, or answers 5xx: worth retrying later. */
export class OriginUnavailableError extends DoptError {
  static override readonly code = 'ORIGIN_UNAVAILABLE'
}

/** Reported when the origin's response breaks HTTP or the request's promises (bad length, bad range). */
export class OriginProtocolError extends DoptError {
  static override readonly code = 'ORIGIN_PROTOCOL'
}

export interface SizeMismatchErrorOptions extends DoptErrorOptions {
  /** The size the download was using (the HEAD's). */
  expectedSize?: number
  /** The size the response gave (a 206's `Content-Range` total, a 200's `Content-Length`). */
  actualSize?: number
}

/**
 * Reported when the origin's answers disagree on the file's size: a ranged GET's `Content-Range` total (or a 200's
 * `Content-Length`) is not the size the HEAD gave. The engine restarts the file once with the GET's size, and
 * reports this error when the sizes keep moving.
 */
export class SizeMismatchError extends DoptError {
  static override readonly code = 'SIZE_MISMATCH'
  readonly expectedSize?: number
  readonly actualSize?: number

  constructor (message: string, options: SizeMismatchErrorOptions = {}) {
    super(message, options)
    if (options.expectedSize !== undefined) this.expectedSize = options.expectedSize
    if (options.actualSize !== undefined) this.actualSize = options.actualSize
  }
}

/** Thrown when the remote file changed (ETag or Last-Modified) while it was being downloaded. */
export class ContentChangedError extends DoptError {
  static override readonly code = 'CONTENT_CHANGED'
}

/** Reported when a local file cannot be created, written or renamed. */
export class LocalFileError extends DoptError {
  static override readonly code = 'LOCAL_FILE'
}

/** Thrown when the data folder was written by an incompatible version of dopt. */
export class SchemaMismatchError extends DoptError {
  static override readonly code = 'SCHEMA_MISMATCH'
}

/** Thrown when the node has been stopped. */
export class NodeStoppedError extends DoptError {
  static override readonly code = 'NODE_STOPPED'
}

/** Thrown when an operation is aborted through its signal. */
export class AbortedError extends DoptError {
  static override readonly code = 'ABORTED'
}

/** Thrown when a peer answers that it will not serve what was asked (it does not hold it, or is busy). */
export class PeerRefusedError extends DoptError {
  static override readonly code = 'PEER_REFUSED'
}

/** Thrown when a peer cannot be reached, disconnects, times out or breaks the protocol before it answers. */
export class PeerUnavailableError extends DoptError {
  static override readonly code = 'PEER_UNAVAILABLE'
}

/** Thrown when the node cannot listen on a configured address (not an address of this machine, or taken). */
export class ListenFailedError extends DoptError {
  static override readonly code = 'LISTEN_FAILED'
}

/**
 * Reported when a file's pinned manifest cannot be had: not in the store, not at the place the caller gave, not
 * beside the file on the origin (`<URL>.dopt-manifest`), and no peer sends it. A transient error: the publisher may
 * not have put it up yet, or its peers may come.
 */
export class ManifestUnavailableError extends DoptError {
  static override readonly code = 'MANIFEST_UNAVAILABLE'
}

/** The caller may not do this: a job of another user, an administrator's request, a command it cannot run as. */
export class AccessDeniedError extends DoptError {
  static override readonly code = 'ACCESS_DENIED'
}

/** No daemon answers for the data folder (none runs, or its socket is stale), or it closed the connection. */
export class DaemonUnavailableError extends DoptError {
  static override readonly code = 'DAEMON_UNAVAILABLE'
}

/** A daemon already runs for the data folder: a second one is refused. */
export class DaemonRunningError extends DoptError {
  static override readonly code = 'DAEMON_RUNNING'
}

const classes: Array<typeof DoptError> = [
  InvalidArgumentError, InvalidUrlError, InvalidPathError, InvalidStateError, JobNotFoundError, JobEmptyError,
  ValidationPendingError, ValidationFailedError, HttpStatusError, OriginUnavailableError, OriginProtocolError, SizeMismatchError,
  ContentChangedError, LocalFileError, SchemaMismatchError, NodeStoppedError, AbortedError, PeerRefusedError,
  PeerUnavailableError, ListenFailedError, ManifestUnavailableError, AccessDeniedError, DaemonUnavailableError, DaemonRunningError
]
const byCode = new Map<string, typeof DoptError>(classes.map(c => [c.code, c]))

/** The serializable form of any error; errors that are not a `DoptError` become code `UNKNOWN`. */
export function toErrorInfo (err: unknown): ErrorInfo {
  if (err instanceof DoptError) {
    const info: ErrorInfo = { code: err.code, context: err.context, message: err.message }
    if (err.httpStatus !== undefined) info.httpStatus = err.httpStatus
    if (err.url !== undefined) info.url = err.url
    if (err.path !== undefined) info.path = err.path
    if (err.jobId !== undefined) info.jobId = err.jobId
    return info
  }
  const message = err instanceof Error ? err.message : String(err)
  return { code: 'UNKNOWN', context: 'unknown', message }
}

/** Rebuilds the error class of a serialized error (a plain `DoptError` for unknown codes, keeping the code). */
export function errorFromInfo (info: ErrorInfo): DoptError {
  const Class = byCode.get(info.code) ?? DoptError
  const err = new Class(info.message, info)
  if (Class === DoptError) (err as { code: string }).code = info.code
  return err
}
