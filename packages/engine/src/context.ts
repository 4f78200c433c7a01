import type { JobPriority } from '@dopt/interface'
import type { OriginClient } from '@dopt/origin'
import type { RateLimiter } from './rate-limiter.js'
import type { Store } from '@dopt/store'
import type { Notifier } from './notifier.js'
import type { PieceHasher } from './piece-hasher.js'
import type { PieceSource } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import type { JobImpl } from './job.js'
import type { SeedCache } from './cache.js'
import type { PeerContext } from './transfer.js'

/** What a job uses of the engine around it. */
export interface EngineContext {
  readonly store: Store
  readonly client: OriginClient
  readonly origin: PieceSource
  /** Hashes pieces off the receiving thread (shared by every transfer). */
  readonly hasher: PieceHasher
  readonly settings: EngineSettings
  readonly notifier: Notifier
  /** Peers, and what sharing with them takes; absent in download mode `http`. */
  readonly peers?: PeerContext
  /** The seeding cache; absent in download mode `http`. */
  readonly cache?: SeedCache
  /** The shared download limit of a priority class. */
  limiterFor(priority: JobPriority): RateLimiter
  /** Something changed that may start or pre-empt transfers. */
  reschedule(): void
  /** True when a live job other than `except` has a file with this manifest. */
  manifestInUse(cid: string, except: JobImpl): boolean
  /** The job ended (acknowledged or cancelled): drop it from the manager. */
  forget(job: JobImpl): void
  /** True once the node was stopped: jobs can be read but not changed. */
  readonly stopped: boolean
}
