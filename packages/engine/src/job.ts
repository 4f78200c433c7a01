import { basename, dirname, isAbsolute, join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { rename, rm, stat } from 'node:fs/promises'
import {
  AbortedError, DEFAULT_NOTIFY_FLAGS, DoptError, InvalidArgumentError, InvalidStateError, JobEmptyError, LocalFileError,
  ManifestUnavailableError, NodeStoppedError, OriginUnavailableError, ValidationFailedError, ValidationPendingError, toErrorInfo
} from '@dopt/interface'
import type {
  AbortOptions, AddFileOptions, ErrorInfo, Job, JobEvent, JobEventMap, JobFile, JobInfo, JobNotifyInterface,
  JobPriority, JobProgress, JobState, JobTimes, JobType
} from '@dopt/interface'
import { parseCid, parseSha256Hex } from '@dopt/content'
import type { FileRecord, JobRecord } from '@dopt/store'
import type { RemoteInfo } from '@dopt/origin'
import { syncDirectory } from './file-writer.js'
import { MAX_TIMER_SECONDS } from './settings.js'
import { JobEvents } from './job-events.js'
import { JobNotifications } from './job-notifications.js'
import { JobFileImpl } from './job-file.js'
import type { FileOwner } from './job-file.js'
import { repairFromOrigin, resetFile, transferFile } from './transfer.js'
import { NAME_MAX, checkDescription, checkDisplayName, checkLocalPath, checkNotAborted, checkPriority, checkSeconds, checkUrl, truncateUtf8 } from './validate.js'
import type { EngineContext } from './context.js'
import { checkCanRunAs, checkNotifyCmdLine, processUid } from './notify-command.js'

const FINAL: readonly JobState[] = ['acknowledged', 'cancelled']

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}
const SETTLED: readonly JobState[] = ['transferred', 'error', 'acknowledged', 'cancelled']

/** Resolves when `signal` aborts (never rejects): to stop waiting on something that does not take a signal. */
async function aborted (signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
}

/** A download job: its record, its files, the BITS state machine, and its notifications. */
export class JobImpl implements Job, FileOwner {
  readonly record: JobRecord
  readonly files: JobFileImpl[] = []
  readonly #ctx: EngineContext
  readonly #events: JobEvents
  readonly #notifications: JobNotifications
  #run: { controller: AbortController, done: Promise<void> } | null = null
  #retryTimer: NodeJS.Timeout | null = null
  #saving: Promise<void> = Promise.resolve()
  #completing = false
  /** Notices already given, by file and code: each is said once. */
  readonly #noticed = new Set<string>()

  constructor (ctx: EngineContext, record: JobRecord) {
    this.#ctx = ctx
    this.record = record
    this.#events = new JobEvents(record.id, () => this.record.state, FINAL)
    this.#notifications = new JobNotifications(this, ctx, this.#events, FINAL, async () => { await this.#save() })
  }

  static create (ctx: EngineContext, displayName: string, type: JobType, seq: number, owner: number = processUid()): JobImpl {
    const now = Date.now()
    return new JobImpl(ctx, {
      id: randomUUID(), displayName, description: '', type, priority: 'normal', state: 'suspended',
      notifyFlags: DEFAULT_NOTIFY_FLAGS, minimumRetryDelay: ctx.settings.minimumRetryDelay,
      noProgressTimeout: ctx.settings.noProgressTimeout, errorCount: 0, error: null, creationTime: now,
      modificationTime: now, transferCompletionTime: null, lastProgressTime: now, transferredNotified: false, seq,
      owner, notifyCmdLine: null
    })
  }

  get id (): string { return this.record.id }
  getId (): string { return this.record.id }
  getType (): JobType { return this.record.type }
  getDisplayName (): string { return this.record.displayName }
  getDescription (): string { return this.record.description }
  getPriority (): JobPriority { return this.record.priority }
  getState (): JobState { return this.record.state }
  /** Only in `error` and `transient-error` (BITS: GetError fails elsewhere): a retried failure that then succeeded is history. */
  getError (): ErrorInfo | null {
    const s = this.record.state
    return s === 'error' || s === 'transient-error' ? this.record.error : null
  }
  getErrorCount (): number { return this.record.errorCount }
  getNotifyFlags (): number { return this.record.notifyFlags }
  getNotifyInterface (): JobNotifyInterface | null { return this.#notifications.callbacks }
  getMinimumRetryDelay (): number { return this.record.minimumRetryDelay }
  getNoProgressTimeout (): number { return this.record.noProgressTimeout }
  getOwner (): number { return this.record.owner ?? processUid() }
  getNotifyCmdLine (): string[] | null { return this.record.notifyCmdLine == null ? null : [...this.record.notifyCmdLine] }
  enumFiles (): JobFile[] { return [...this.files] }

  getTimes (): JobTimes {
    const r = this.record
    return {
      creationTime: new Date(r.creationTime),
      modificationTime: new Date(r.modificationTime),
      transferCompletionTime: r.transferCompletionTime == null ? null : new Date(r.transferCompletionTime)
    }
  }

  getProgress (): JobProgress {
    const p: JobProgress = { bytesTotal: 0, bytesTransferred: 0, filesTotal: this.files.length, filesTransferred: 0, bytesFromPeers: 0, bytesFromOrigin: 0, bytesUploaded: 0 }
    for (const f of this.files) {
      const fp = f.getProgress()
      p.bytesTotal = p.bytesTotal < 0 || fp.bytesTotal < 0 ? -1 : p.bytesTotal + fp.bytesTotal
      p.bytesTransferred += fp.bytesTransferred
      p.bytesFromPeers += fp.bytesFromPeers
      p.bytesFromOrigin += fp.bytesFromOrigin
      p.bytesUploaded += fp.bytesUploaded
      if (fp.completed) p.filesTransferred++
    }
    return p
  }

  toJSON (): JobInfo {
    const r = this.record
    return {
      jobId: r.id, owner: this.getOwner(), notifyCmdLine: this.getNotifyCmdLine(), displayName: r.displayName, description: r.description, type: r.type, priority: r.priority,
      state: r.state, notifyFlags: r.notifyFlags, errorCount: r.errorCount, minimumRetryDelay: r.minimumRetryDelay,
      noProgressTimeout: r.noProgressTimeout, creationTime: new Date(r.creationTime).toISOString(),
      modificationTime: new Date(r.modificationTime).toISOString(),
      transferCompletionTime: r.transferCompletionTime == null ? null : new Date(r.transferCompletionTime).toISOString(),
      ...this.getProgress(), files: this.files.map(f => f.toJSON()), error: this.getError()
    }
  }

  // ---- properties -------------------------------------------------------------------------------------------

  async setDisplayName (name: string): Promise<void> {
    this.#assertNot(FINAL, 'setDisplayName')
    this.record.displayName = checkDisplayName(name)
    await this.#changed()
  }

  async setDescription (description: string): Promise<void> {
    this.#assertNot(FINAL, 'setDescription')
    this.record.description = checkDescription(description)
    await this.#changed()
  }

  async setPriority (priority: JobPriority): Promise<void> {
    this.#assertNot(FINAL, 'setPriority')
    this.record.priority = checkPriority(priority)
    await this.#changed()
    this.#ctx.reschedule()
  }

  async setMinimumRetryDelay (seconds: number): Promise<void> {
    this.#assertNot(FINAL, 'setMinimumRetryDelay')
    this.record.minimumRetryDelay = checkSeconds(seconds, 'the minimum retry delay')
    await this.#changed()
  }

  async setNoProgressTimeout (seconds: number): Promise<void> {
    this.#assertNot(FINAL, 'setNoProgressTimeout')
    this.record.noProgressTimeout = checkSeconds(seconds, 'the no-progress timeout')
    await this.#changed()
  }

  setNotifyFlags (flags: number): void {
    this.#assertNot(FINAL, 'setNotifyFlags')
    if (!Number.isInteger(flags) || flags < 0 || flags > 0x3f) {
      throw new InvalidArgumentError(`notify flags must be a combination of NotifyFlags (0..0x3f), not ${String(flags)}`, { jobId: this.id })
    }
    this.record.notifyFlags = flags
    void this.#changed().catch(() => {})
  }

  async setNotifyCmdLine (cmdLine: string[] | null): Promise<void> {
    this.#assertNot(FINAL, 'setNotifyCmdLine')
    const checked = checkNotifyCmdLine(cmdLine, this.id)
    // A command this process could never run as the owner is refused now, not found out at the first event.
    if (checked != null) checkCanRunAs(this.getOwner(), this.id)
    this.record.notifyCmdLine = checked
    await this.#changed()
  }

  setNotifyInterface (callbacks: JobNotifyInterface | null): void {
    this.#assertNot(FINAL, 'setNotifyInterface')
    checkNotifyInterface(callbacks, this.id)
    this.#notifications.callbacks = callbacks
    // An application that registers after a restart still hears what it missed (BITS re-notifies).
    if (callbacks == null) return
    for (const f of this.files) if (f.record.completed && !f.record.transferredNotified) this.#notifications.fileTransferred(f)
    if (this.record.state === 'transferred' && !this.record.transferredNotified) this.#notifications.jobTransferred()
  }

  // ---- files ------------------------------------------------------------------------------------------------

  async addFile (url: string, localPath: string, options: AddFileOptions = {}): Promise<JobFile> {
    checkNotAborted(options, `addFile to job ${this.id}`, { jobId: this.id })
    this.#assertNot(['transferred', ...FINAL], 'addFile')
    const remoteName = checkUrl(url)
    const localName = await checkLocalPath(localPath)
    let sha256: string | null = null
    if (options.sha256 !== undefined) {
      if (parseSha256Hex(options.sha256) == null) throw new InvalidArgumentError(`sha256 must be 64 hex digits, not "${options.sha256}"`, { jobId: this.id })
      sha256 = options.sha256.toLowerCase()
    }
    const manifestCid = options.manifest === undefined ? null : parseCid(options.manifest).toString()
    const manifestFrom = checkManifestFrom(options.manifestFrom, manifestCid, this.id)
    if (this.files.some(f => f.localName === localName)) {
      throw new InvalidArgumentError(`the job already has a file for ${localName}`, { jobId: this.id, path: localName })
    }
    const index = this.files.length
    const record: FileRecord = {
      jobId: this.id, index, remoteName, localName,
      temporaryName: temporaryNameFor(localName, this.id, index),
      sha256, manifestCid, manifestPinned: manifestCid != null, size: null, etag: null, lastModified: null,
      finalUrl: null, acceptRanges: false, pieceSize: this.#ctx.settings.pieceSize, completed: false,
      validationState: 'unset', originOnly: false, transferredNotified: false, manifestFrom
    }
    const file = new JobFileImpl(record, this)
    this.files.push(file)
    await this.#ctx.store.putFile(record)
    await this.#changed()
    return file
  }

  async setFileSha256 (file: JobFileImpl, sha256: string): Promise<void> {
    this.#assertNot(['transferred', ...FINAL], 'setSha256')
    if (parseSha256Hex(sha256) == null) throw new InvalidArgumentError(`sha256 must be 64 hex digits, not "${sha256}"`, { jobId: this.id })
    const hex = sha256.toLowerCase()
    if (file.record.sha256 === hex) return
    if (file.record.sha256 != null || file.record.completed) {
      throw new InvalidStateError(`file ${file.index} of job ${this.id} ${file.record.completed ? 'is transferred' : 'has another SHA-256'}: its digest cannot change`, { jobId: this.id })
    }
    file.record.sha256 = hex
    await this.#ctx.store.putFile(file.record)
    await this.#changed()
  }

  /** The rules of `setValidationState` (see JobFile). */
  async validateFile (file: JobFileImpl, valid: boolean): Promise<void> {
    this.#assertNot(FINAL, 'setValidationState')
    if (!file.record.completed) {
      throw new ValidationPendingError(`${file.localName} is not transferred yet`, { jobId: this.id, path: file.localName })
    }
    if (valid) {
      file.record.validationState = 'valid'
      await this.#ctx.store.putFile(file.record)
      // Checked end to end by the application: the download may vouch for every piece now.
      file.live?.checked()
      return
    }
    await this.#rejectFile(file, new ValidationFailedError(`the application rejected ${file.remoteName}`, { context: 'remote-file', url: file.remoteName, jobId: this.id }))
  }

  /**
   * Invalid content: any byte from peers -> what came from peers is fetched again from the origin only (compared
   * piece by piece, so the peers that sent wrong bytes are banned), then the file is offered again; all from the
   * origin -> the job goes to `error`, and the file's progress is reset so a later resume downloads it again.
   */
  async #rejectFile (file: JobFileImpl, reason: ValidationFailedError, fromRun = false): Promise<void> {
    // Whatever we had of this content is suspect: never serve it, and don't trust its manifest again.
    if (file.record.manifestCid != null) await this.#ctx.cache?.remove(file.record.manifestCid)
    if (await repairFromOrigin({ file, store: this.#ctx.store, onReset: () => { this.#notifications.modified() } })) {
      // A running transfer picks the file up again by itself; an ended one (transferred, or the run that failed on
      // it) goes back to the queue.
      if (fromRun || this.record.state === 'transferred') {
        await this.#setState('queued')
        this.#ctx.reschedule()
      }
      return
    }
    // Its size is known still: the job's figures keep saying how much was fetched, and of what.
    const known = file.record.size == null ? null : { size: file.record.size, etag: file.record.etag, lastModified: file.record.lastModified }
    await resetFile({ file, store: this.#ctx.store, onReset: () => {} }, known as RemoteInfo | null)
    if (!fromRun) this.#abortRun()
    await this.#fail(reason)
  }

  // ---- life cycle -------------------------------------------------------------------------------------------

  async resume (options: AbortOptions = {}): Promise<void> {
    checkNotAborted(options, `resume of job ${this.id}`, { jobId: this.id })
    this.#assertNot(FINAL, 'resume')
    if (this.files.length === 0) throw new JobEmptyError(`job ${this.id} has no files`, { jobId: this.id })
    const s = this.record.state
    if (s !== 'suspended' && s !== 'error' && s !== 'transient-error') return
    this.#clearRetry()
    this.record.error = null
    this.record.lastProgressTime = Date.now()
    await this.#setState('queued')
    // Files suspended while the application judged them are offered to it again.
    for (const f of this.files) if (f.record.completed && !f.record.transferredNotified) this.#notifications.fileTransferred(f)
    this.#ctx.reschedule()
  }

  async suspend (options: AbortOptions = {}): Promise<void> {
    checkNotAborted(options, `suspend of job ${this.id}`, { jobId: this.id })
    this.#assertNot(['transferred', ...FINAL], 'suspend')
    if (this.record.state === 'suspended') return
    this.#clearRetry()
    await this.#stopRun()
    await this.#closeLive()
    await this.#setState('suspended')
  }

  /** Stops serving the job's downloads to peers (they are suspended or ended). */
  async #closeLive (how: 'cached' | 'gone' = 'gone'): Promise<void> {
    for (const f of this.files) {
      const live = f.live
      f.live = null
      await live?.close(how)
    }
  }

  async cancel (options: AbortOptions = {}): Promise<void> {
    checkNotAborted(options, `cancel of job ${this.id}`, { jobId: this.id })
    this.#assertNot(FINAL, 'cancel')
    this.#clearRetry()
    await this.#stopRun()
    await this.#closeLive()
    await Promise.all(this.files.map(async f => { await rm(f.temporaryName, { force: true }) }))
    await this.#end('cancelled')
  }

  async complete (options: AbortOptions = {}): Promise<void> {
    checkNotAborted(options, `complete of job ${this.id}`, { jobId: this.id })
    this.#assertNot(FINAL, 'complete')
    if (this.#completing) throw new InvalidStateError(`job ${this.id} is already being completed`, { jobId: this.id })
    this.#completing = true
    try {
      await this.#complete()
    } finally {
      this.#completing = false
    }
  }

  async #complete (): Promise<void> {
    this.#clearRetry()
    await this.#stopRun()
    const renamedInto = new Set<string>()
    for (const f of this.files) {
      if (f.record.completed && f.record.validationState !== 'invalid') {
        try {
          await rename(f.temporaryName, f.localName)
        } catch (err) {
          // Killed after this rename but before the job was deleted: the file is already where it belongs.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && await exists(f.localName)) continue
          throw new LocalFileError(`cannot rename ${f.temporaryName} to ${f.localName}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: f.localName, jobId: this.id })
        }
        // Delivered and not rejected (complete counts as valid): from now on peers may have it, from the cache.
        await this.#ctx.cache?.add(f.record).catch(() => null)
        const live = f.live
        f.live = null
        await live?.close(this.#ctx.cache?.has(f.record.manifestCid ?? '') === true ? 'cached' : 'gone')
        renamedInto.add(dirname(f.localName))
      } else {
        await f.live?.close('gone')
        f.live = null
        await rm(f.temporaryName, { force: true })
      }
    }
    // The files' bytes were flushed when each was transferred; this makes their new names durable too.
    for (const dir of renamedInto) await syncDirectory(dir)
    await this.#end('acknowledged')
  }

  async #end (state: 'acknowledged' | 'cancelled'): Promise<void> {
    // The store first, the state last: whoever waits for `acknowledged` or `cancelled` may stop the node at once.
    await this.#saving
    await this.#ctx.store.deleteJob(this.id)
    // Manifests go with the job, except those the seeding cache serves (or another live job uses).
    for (const cid of new Set(this.files.map(f => f.record.manifestCid))) {
      if (cid == null || this.#ctx.cache?.has(cid) === true || this.#ctx.manifestInUse(cid, this)) continue
      await this.#ctx.store.deleteManifest(cid)
    }
    this.#ctx.forget(this)
    await this.#setState(state)
    // Nothing is notified after the end; a pending modification timer would keep a finished process alive.
    this.#notifications.stop()
  }

  // ---- transfer (driven by the manager) ---------------------------------------------------------------------

  get running (): boolean {
    return this.#run != null
  }

  /** Starts transferring; the manager calls this when the job gets a slot. */
  start (): void {
    if (this.#run != null || this.record.state !== 'queued') return
    const controller = new AbortController()
    const done = this.#transfer(controller.signal).finally(() => {
      this.#run = null
      this.#ctx.reschedule()
    })
    this.#run = { controller, done }
  }

  /** Gives the slot back to the queue (pre-emption by a higher priority job). */
  async requeue (): Promise<void> {
    await this.#stopRun()
    if (this.record.state === 'connecting' || this.record.state === 'transferring') await this.#setState('queued')
  }

  /** Stops transferring without changing the saved state, so a restart picks the job up again. */
  async halt (): Promise<void> {
    this.#clearRetry()
    this.#notifications.stop()
    await this.#stopRun()
    await this.#closeLive()
    await this.#saving
  }

  /** After a restart: put the job back where it was. */
  async restore (): Promise<void> {
    const s = this.record.state
    if (s === 'connecting' || s === 'transferring') {
      await this.#setState('queued')
    } else if (s === 'transient-error') {
      this.#scheduleRetry()
    } else if (s === 'transferred' && !this.record.transferredNotified) {
      // Due before the restart: the notify command line runs now (a callback registered later is called then).
      this.#notifications.jobTransferred()
    } else if (s === 'error') {
      this.#notifications.jobError()
    }
  }

  async #transfer (signal: AbortSignal): Promise<void> {
    try {
      await this.#setState('connecting')
      while (!signal.aborted) {
        const file = this.files.find(f => !f.record.completed)
        if (file == null) {
          // Every file is here: wait for fileTransferred callbacks, which may reject a file and send us round again.
          // A suspend or a stop does not wait for them: a callback that keeps failing must not hold the job.
          await Promise.race([this.#notifications.filesNotified(), aborted(signal)])
          if (signal.aborted || this.files.some(f => !f.record.completed)) continue
          this.record.transferCompletionTime = Date.now()
          await this.#setState('transferred')
          return
        }
        const settings = this.#ctx.settings
        await transferFile({
          file, store: this.#ctx.store, client: this.#ctx.client, origin: this.#ctx.origin, hasher: this.#ctx.hasher, settings, signal,
          ...(this.#ctx.peers != null ? { peers: this.#ctx.peers } : {}),
          minPeerFileSize: this.#ctx.cache?.minFileSizeToCache ?? Infinity,
          limiter: this.#ctx.limiterFor(this.record.priority),
          originDelay: this.record.priority === 'foreground' ? settings.foregroundOriginDelay : settings.backgroundOriginDelay,
          validates: this.#notifications.validates,
          onConnected: () => { if (this.record.state === 'connecting') void this.#setState('transferring') },
          onPiece: () => { this.record.lastProgressTime = Date.now(); this.#notifications.modified() },
          onReset: () => { this.#notifications.modified() },
          onNotice: (code, message) => {
            const seen = `${file.index}:${code}`
            if (this.#noticed.has(seen)) return
            this.#noticed.add(seen)
            this.#events.emit('notice', { code, message, file })
          }
        })
        this.#notifications.fileTransferred(file)
      }
    } catch (err) {
      if (signal.aborted) return
      await this.#transferFailed(err)
    }
  }

  async #transferFailed (err: unknown): Promise<void> {
    if (err instanceof ValidationFailedError) {
      // The given SHA-256 did not match (or a pinned manifest): the same rules as an application's rejection.
      const file = this.files.find(f => !f.record.completed)
      if (file != null) await this.#rejectFile(file, err, true)
      else await this.#fail(err)
      return
    }
    if (err instanceof OriginUnavailableError || err instanceof ManifestUnavailableError) {
      await this.#transient(err)
      return
    }
    await this.#fail(err instanceof DoptError ? err : new DoptError(`transfer failed: ${(err as Error)?.message ?? String(err)}`, { cause: err, context: 'unknown', jobId: this.id }))
  }

  async #transient (err: DoptError): Promise<void> {
    this.record.errorCount++
    this.record.error = toErrorInfo(err)
    if (this.#noProgressExpired()) {
      await this.#fail(err)
      return
    }
    await this.#setState('transient-error', { error: this.record.error, transient: true })
    this.#scheduleRetry()
  }

  #noProgressExpired (): boolean {
    return Date.now() - this.record.lastProgressTime >= this.record.noProgressTimeout * 1000
  }

  #scheduleRetry (): void {
    this.#clearRetry()
    const elapsed = Date.now() - this.record.modificationTime
    const wait = Math.max(0, this.record.minimumRetryDelay * 1000 - elapsed)
    // Checked again when the timer fires: a timeout that ran out while we waited ends the job in error. A delay
    // past Node's timer limit (~24.8 days; BITS allows a ULONG of seconds) is waited for in steps.
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      if (this.record.state !== 'transient-error') return
      if (wait > MAX_TIMER_MS) {
        this.#scheduleRetry()
        return
      }
      const next = this.#noProgressExpired()
        ? this.#fail(new OriginUnavailableError(this.record.error?.message ?? 'no progress', { context: this.record.error?.context ?? 'general-transport', jobId: this.id }))
        : this.#setState('queued').then(() => { this.#ctx.reschedule() })
      next.catch(() => {})
    }, Math.min(wait, MAX_TIMER_MS))
  }

  #clearRetry (): void {
    if (this.#retryTimer != null) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
  }

  async #fail (err: DoptError): Promise<void> {
    const info = toErrorInfo(err)
    info.jobId ??= this.id
    this.record.error = info
    await this.#setState('error', { error: info, transient: false })
  }

  #abortRun (): void {
    this.#run?.controller.abort(new AbortedError('the transfer was stopped'))
  }

  async #stopRun (): Promise<void> {
    const run = this.#run
    if (run == null) return
    run.controller.abort(new AbortedError('the transfer was stopped'))
    await run.done
  }

  // ---- state and notifications ------------------------------------------------------------------------------

  #assertNot (states: readonly JobState[], operation: string): void {
    // Before the state: after stop() the store is closed, and what a job's state allows no longer matters.
    if (this.#ctx.stopped) throw new NodeStoppedError(`${operation} of job ${this.id}: the node is stopped`, { jobId: this.id })
    if (states.includes(this.record.state)) {
      throw new InvalidStateError(`${operation} is not allowed on job ${this.id} in state ${this.record.state}`, { jobId: this.id })
    }
  }

  async #setState (state: JobState, error?: JobEventMap['error']): Promise<void> {
    const previous = this.record.state
    if (previous === state) return
    this.record.state = state
    if (state !== 'transferred') this.record.transferredNotified = false
    if (state !== 'error') this.record.errorNotified = false
    await this.#save()
    this.#events.emit('state', { state, previous })
    if (error != null) this.#events.emit('error', error)
    if (state === 'error') {
      this.#notifications.jobError()
    } else if (state === 'transferred') {
      this.#events.emit('transferred', this.getProgress())
      this.#notifications.jobTransferred()
    } else {
      this.#notifications.modified()
    }
  }

  async #changed (): Promise<void> {
    await this.#save()
    this.#notifications.modified()
  }

  /** Saves the record; saves are chained so that they land in order. */
  async #save (): Promise<void> {
    this.record.modificationTime = Date.now()
    const snapshot = { ...this.record }
    if (FINAL.includes(snapshot.state)) return
    this.#saving = this.#saving.then(async () => { await this.#ctx.store.putJob(snapshot) }).catch(() => {})
    await this.#saving
  }

  // ---- events -----------------------------------------------------------------------------------------------

  addEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void, options?: AddEventListenerOptions): void {
    this.#events.add(type, listener, options)
  }

  removeEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void {
    this.#events.remove(type, listener)
  }

  async waitFor (states: readonly JobState[] = SETTLED, options: AbortOptions = {}): Promise<JobState> {
    return await this.#events.waitFor(states, options)
  }

  events (options: AbortOptions = {}): AsyncIterableIterator<JobEvent> {
    return this.#events.iterate(options)
  }
}

const MAX_TIMER_MS = MAX_TIMER_SECONDS * 1000

/** Where a pinned manifest's bytes are: an http(s) URL or an absolute path, and only with a pinned manifest. */
function checkManifestFrom (from: string | undefined, cid: string | null, jobId: string): string | null {
  if (from === undefined) return null
  if (cid == null) throw new InvalidArgumentError('manifestFrom says where a pinned manifest is: give its CID too (manifest)', { jobId })
  if (typeof from !== 'string' || !(/^https?:\/\//i.test(from) || isAbsolute(from))) {
    throw new InvalidArgumentError(`manifestFrom must be an http(s) URL or an absolute path, not ${JSON.stringify(from)}`, { jobId })
  }
  if (/^https?:/i.test(from)) checkUrl(from)
  return from
}
const CALLBACKS = ['jobTransferred', 'jobError', 'jobModification', 'fileTransferred'] as const

/** null, or an object whose callbacks (the four of BITS' IBackgroundCopyCallback) are functions where given. */
function checkNotifyInterface (callbacks: unknown, jobId: string): void {
  if (callbacks == null) return
  if (typeof callbacks !== 'object') {
    throw new InvalidArgumentError(`the notify interface must be an object with ${CALLBACKS.join(', ')} (or null), not ${typeof callbacks}`, { jobId })
  }
  for (const name of CALLBACKS) {
    const callback = (callbacks as Record<string, unknown>)[name]
    if (callback !== undefined && typeof callback !== 'function') {
      throw new InvalidArgumentError(`${name} of the notify interface must be a function, not ${typeof callback}`, { jobId })
    }
  }
}

/**
 * `.<name>.<job id, 8 chars>-<index>.dopt-tmp` beside the local file: hidden, unique per job and file, and known by
 * its suffix. A long name is cut so that the temporary one still fits in a file name (a local name may use all
 * NAME_MAX bytes).
 */
export function temporaryNameFor (localName: string, jobId: string, index: number): string {
  const suffix = `.${jobId.slice(0, 8)}-${index}.dopt-tmp`
  const name = truncateUtf8(basename(localName), NAME_MAX - 1 - Buffer.byteLength(suffix))
  return join(dirname(localName), `.${name}${suffix}`)
}
