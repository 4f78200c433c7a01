export { createNode, nodeIdentity } from './node.js'
export { openNode } from './open.js'
export type { JobService, OpenOptions } from './open.js'
export { connectDaemon, serveControl, socketPath, RemoteJob, RequestError } from '@dopt/control'
export type { DaemonClient, DaemonEvent, DaemonInfo, DaemonJobManager, EventsOptions, ConnectOptions, ControlServer, ControlServerInit, ControlledNode } from '@dopt/control'
export { RUNTIME_SETTINGS } from './node.js'
export type { DoptNode, NodeStats, Reconfigured } from './node.js'
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
  AccessDeniedError, DaemonUnavailableError, DaemonRunningError, SizeMismatchError,
  toErrorInfo, errorFromInfo
} from '@dopt/interface'
export type {
  Job, JobFile, JobManager, JobState, JobType, JobPriority, JobProgress, FileProgress, JobTimes, JobInfo, FileInfo,
  JobNotifyInterface, JobEvent, JobEventMap, ErrorInfo, ErrorContext, AddFileOptions, ValidationState, AbortOptions,
  CreateJobOptions
} from '@dopt/interface'
