import type { OriginClient } from '@dopt/origin'
import type { Store } from '@dopt/store'
import type { Notifier } from './notifier.js'
import type { PieceSource } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import type { JobImpl } from './job.js'

/** What a job uses of the engine around it. */
export interface EngineContext {
  readonly store: Store
  readonly client: OriginClient
  readonly origin: PieceSource
  readonly settings: EngineSettings
  readonly notifier: Notifier
  /** Something changed that may start or pre-empt transfers. */
  reschedule(): void
  /** The job ended (acknowledged or cancelled): drop it from the manager. */
  forget(job: JobImpl): void
}
