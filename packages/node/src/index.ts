export { createNode, nodeIdentity } from './node.js'
export type { DoptNode, NodeStats } from './node.js'
export { defaultDataDir, DOWNLOAD_MODES } from './config.js'
export { MAX_DISPLAY_NAME, SIDECAR_SUFFIX, sidecarUrl } from '@dopt/engine'
// A publisher's side: the manifest and CID of a file, made offline (`dopt manifest FILE`).
export { manifestOfFile } from '@dopt/content'
export type { ManifestOfFileOptions, PublishedManifest } from '@dopt/content'
export type { NodeConfig, DownloadMode } from './config.js'
export type { PeerInfo } from '@dopt/p2p'
export type { CacheRecord } from '@dopt/store'
export type { Ban } from '@dopt/engine'
export {
  NotifyFlags, DEFAULT_NOTIFY_FLAGS, JOB_STATES, JOB_PRIORITIES, DoptError, InvalidArgumentError, InvalidUrlError,
  InvalidPathError, InvalidStateError, JobNotFoundError, JobEmptyError, ValidationPendingError, ValidationFailedError,
  HttpStatusError, OriginUnavailableError, OriginProtocolError, ContentChangedError, LocalFileError,
  SchemaMismatchError, NodeStoppedError, AbortedError, PeerRefusedError, PeerUnavailableError, ListenFailedError, ManifestUnavailableError,
  toErrorInfo, errorFromInfo
} from '@dopt/interface'
export type {
  Job, JobFile, JobManager, JobState, JobType, JobPriority, JobProgress, FileProgress, JobTimes, JobInfo, FileInfo,
  JobNotifyInterface, JobEvent, JobEventMap, ErrorInfo, ErrorContext, AddFileOptions, ValidationState, AbortOptions
} from '@dopt/interface'
