export {
  DoptError, InvalidArgumentError, InvalidUrlError, InvalidPathError, InvalidStateError, JobNotFoundError,
  JobEmptyError, ValidationPendingError, ValidationFailedError, HttpStatusError, OriginUnavailableError,
  OriginProtocolError, SizeMismatchError, ContentChangedError, LocalFileError, SchemaMismatchError, NodeStoppedError,
  AbortedError, PeerRefusedError, PeerUnavailableError, ListenFailedError, ManifestUnavailableError, AccessDeniedError,
  DaemonUnavailableError, DaemonRunningError, toErrorInfo, errorFromInfo
} from './errors.js'
export type { ErrorContext, ErrorInfo, DoptErrorOptions, SizeMismatchErrorOptions } from './errors.js'
export { JOB_STATES, JOB_PRIORITIES, NotifyFlags, DEFAULT_NOTIFY_FLAGS } from './job.js'
export type {
  JobState, JobType, JobPriority, JobProgress, FileProgress, JobTimes, ValidationState, AbortOptions,
  AddFileOptions, JobFile, JobNotifyInterface, JobEventMap, JobEvent, Job, FileInfo, JobInfo, JobManager,
  CreateJobOptions
} from './job.js'
export { makeDirectory } from './make-directory.js'
export { formatBytes, parseRate, parseSize } from './units.js'
export { EntryKind } from './peer-content.js'
export type { ContentEntry, ContentProvider, ContentSubscription, PieceData, StreamingPiece } from './peer-content.js'
