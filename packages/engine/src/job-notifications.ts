import { NotifyFlags } from '@dopt/interface'
import type { Job, JobNotifyInterface, JobProgress, JobState } from '@dopt/interface'
import type { JobRecord } from '@dopt/store'
import type { EngineContext } from './context.js'
import type { JobEvents } from './job-events.js'
import type { JobFileImpl } from './job-file.js'
import { runNotifyCommand } from './notify-command.js'
import type { NotifyEvent } from './notify-command.js'

/** What the notifications need of their job. */
export interface NotifiedJob extends Job {
  readonly record: JobRecord
  getProgress(): JobProgress
}

/**
 * The BITS notification rules of one job: callbacks only with their flag (and never with Disable); `jobModification`
 * throttled; `fileTransferred` one at a time and all before `jobTransferred`; both retried while they throw, until
 * they return or stop being due. The node-wide limit of four callbacks at once is the context's notifier.
 */
export class JobNotifications {
  readonly #job: NotifiedJob
  readonly #ctx: EngineContext
  readonly #events: JobEvents
  readonly #final: readonly JobState[]
  /** Saves the job's record (chained with its other saves). */
  readonly #save: () => Promise<void>
  #callbacks: JobNotifyInterface | null = null
  #modTimer: NodeJS.Timeout | null = null
  #lastModification = 0
  /** fileTransferred callbacks, one after another, all before jobTransferred. */
  #files: Promise<void> = Promise.resolve()

  constructor (job: NotifiedJob, ctx: EngineContext, events: JobEvents, final: readonly JobState[], save: () => Promise<void>) {
    this.#job = job
    this.#ctx = ctx
    this.#events = events
    this.#final = final
    this.#save = save
  }

  get callbacks (): JobNotifyInterface | null {
    return this.#callbacks
  }

  set callbacks (callbacks: JobNotifyInterface | null) {
    this.#callbacks = callbacks
  }

  /** Resolves once every queued fileTransferred callback has returned or been given up. */
  async filesNotified (): Promise<void> {
    await this.#files
  }

  /** The application checks each file as it arrives: a `fileTransferred` callback it will be called with. */
  get validates (): boolean {
    return this.#wants(NotifyFlags.FileTransferred) && typeof this.#callbacks?.fileTransferred === 'function'
  }

  stop (): void {
    if (this.#modTimer != null) clearTimeout(this.#modTimer)
    this.#modTimer = null
  }

  #wants (flag: number): boolean {
    return this.#callbacks != null && this.#flagged(flag)
  }

  #flagged (flag: number): boolean {
    const flags = this.#job.record.notifyFlags
    return (flags & NotifyFlags.Disable) === 0 && (flags & flag) !== 0
  }

  /**
   * Runs the job's notify command line, if it has one (BITS: when no callback is registered, or after the callback
   * failed). Resolves true if one was set, whether or not it could start; one that could not is said as a notice.
   */
  async #command (event: NotifyEvent): Promise<boolean> {
    const cmdLine = this.#job.record.notifyCmdLine
    if (cmdLine == null) return false
    try {
      await runNotifyCommand(cmdLine, { id: this.#job.id, owner: this.#job.getOwner() }, event)
    } catch (err) {
      this.#events.emit('notice', { code: 'NOTIFY_COMMAND_FAILED', message: `the notify command ${cmdLine[0] ?? ''} of job ${this.#job.id} could not start: ${(err as Error).message}` })
    }
    return true
  }

  #notify (flag: number, call: (cb: JobNotifyInterface) => Promise<void>): void {
    const cb = this.#callbacks
    if (cb == null || !this.#wants(flag)) return
    void this.#ctx.notifier.run(async () => { await call(cb) })
  }

  jobError (): void {
    const record = this.#job.record
    const error = record.error
    if (error == null || !this.#flagged(NotifyFlags.JobError) || record.errorNotified === true) return
    const cb = this.#callbacks
    void (async () => {
      const failed = cb?.jobError == null || (await this.#ctx.notifier.run(async () => { await cb.jobError?.(this.#job, error) })) !== undefined
      // The command line only where no callback took the news (BITS), once per error, a restart included.
      if (failed && record.state === 'error' && record.error === error && await this.#command('error')) {
        record.errorNotified = true
        await this.#save()
      }
    })().catch(() => {})
  }

  /** Progress and modifications, throttled to one per `modificationInterval`, the last one always delivered. */
  modified (): void {
    if (this.#modTimer != null || this.#final.includes(this.#job.record.state)) return
    const wait = Math.max(0, this.#lastModification + this.#ctx.settings.modificationInterval - Date.now())
    this.#modTimer = setTimeout(() => {
      this.#modTimer = null
      this.#lastModification = Date.now()
      if (this.#final.includes(this.#job.record.state)) return
      this.#events.emit('progress', this.#job.getProgress())
      this.#notify(NotifyFlags.JobModification, async cb => { await cb.jobModification?.(this.#job) })
    }, wait)
  }

  fileTransferred (file: JobFileImpl): void {
    this.#events.emit('file-transferred', { file })
    this.#files = this.#files.then(async () => {
      if (!this.#wants(NotifyFlags.FileTransferred) || !file.record.completed || file.record.transferredNotified) return
      const cb = this.#callbacks!
      const ok = await this.#ctx.notifier.runUntilDone(async () => { await cb.fileTransferred?.(this.#job, file) },
        this.#ctx.settings.callbackRetryDelay * 1000,
        // Not while suspended (BITS calls no one for a suspended job); a resume notifies again.
        () => file.record.completed && !this.#final.includes(this.#job.record.state) && this.#job.record.state !== 'suspended' && this.#callbacks === cb)
      if (ok && file.record.completed) {
        file.record.transferredNotified = true
        await this.#ctx.store.putFile(file.record)
      }
    }).catch(() => {}) // only a store closed by stop() fails here; the flag is saved again on the next run
  }

  jobTransferred (): void {
    if (!this.#flagged(NotifyFlags.JobTransferred)) return
    const cb = this.#callbacks
    const record = this.#job.record
    if (cb?.jobTransferred == null) {
      if (record.notifyCmdLine == null || record.transferredNotified) return
      void this.#files.then(async () => {
        if (record.state === 'transferred' && !record.transferredNotified && await this.#command('transferred')) {
          record.transferredNotified = true
          await this.#save()
        }
      }).catch(() => {})
      return
    }
    void this.#files.then(async () => {
      // Retried while it throws; with a command line, the first failure runs the command instead (BITS).
      let commanded = false
      const ok = await this.#ctx.notifier.runUntilDone(async () => { await cb.jobTransferred?.(this.#job) },
        this.#ctx.settings.callbackRetryDelay * 1000,
        () => !commanded && record.state === 'transferred' && !record.transferredNotified,
        () => { if (record.notifyCmdLine != null) commanded = true })
      if (commanded && record.state === 'transferred' && !record.transferredNotified) {
        await this.#command('transferred')
        record.transferredNotified = true
        await this.#save()
      } else if (ok && record.state === 'transferred') {
        record.transferredNotified = true
        await this.#save()
      }
    }).catch(() => {})
  }
}
