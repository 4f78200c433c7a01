import { Agent, request } from 'node:http'
import type { IncomingMessage } from 'node:http'
import {
  AbortedError, DaemonUnavailableError, DoptError, InvalidArgumentError, InvalidStateError, errorFromInfo
} from '@dopt/interface'
import type {
  AbortOptions, AddFileOptions, CreateJobOptions, ErrorInfo, FileInfo, FileProgress, Job, JobEvent, JobEventMap, JobFile,
  JobInfo, JobManager, JobNotifyInterface, JobPriority, JobProgress, JobState, JobTimes, JobType, ValidationState
} from '@dopt/interface'
import { writeProof } from './auth.js'
import { socketPath } from './paths.js'
import { parseEventStream } from './sse.js'
import { API } from './wire.js'

export interface ConnectOptions {
  /** The data folder whose daemon to use. */
  dataDir: string
  /** The socket, if not `<dataDir>/control.sock`. */
  socketPath?: string
}

/** What the daemon says of itself. */
export interface DaemonInfo {
  api: number
  pid: number
  dataDir: string
  mode: string
  peerId: string | null
  listen: string[]
}

/** A connection to the daemon of a data folder: the same `JobManager` as an embedded node's `jobs`. */
export interface DaemonClient {
  readonly jobs: DaemonJobManager
  readonly dataDir: string
  readonly mode: string
  readonly peerId: string | null
  /** The daemon's process id. */
  readonly pid: number
  /** Who the daemon knows this client as. */
  readonly uid: number
  readonly admin: boolean
  getMultiaddrs(): string[]
  peers(): Promise<{ peers: unknown[], banned: unknown[] }>
  cache(): Promise<{ items: unknown[], bytes: number }>
  stats(): Promise<Record<string, unknown>>
  /** Asks the daemon to re-read its configuration file (administrators). */
  reload(): Promise<Record<string, unknown>>
  /**
   * Every event of the caller's jobs (all users' with `allUsers`, for administrators), jobs created later included;
   * or of one job (`jobId`), ending with it. Each carries the job as it is after the event. With `snapshots`, each job
   * comes first as it is when followed (`type: 'snapshot'`), so that nothing falls between a look and the events.
   */
  events(options?: EventsOptions): AsyncIterableIterator<DaemonEvent>
  /** Closes every stream and connection; the daemon and its jobs run on. */
  close(): Promise<void>
  /** The same as `close()`: a client stops like an embedded node, but the daemon goes on. */
  stop(): Promise<void>
}

export interface EventsOptions extends AbortOptions {
  allUsers?: boolean
  jobId?: string
  snapshots?: boolean
}

/** A job event as the daemon sends it, with the job after it; or a job's snapshot. */
export type DaemonEvent = (JobEvent | { type: 'snapshot', jobId: string }) & { job: JobInfo }

export interface DaemonJobManager extends JobManager {
  /** Every job of every user (administrators only). */
  enumJobs(options?: { allUsers?: boolean }): Promise<Job[]>
}

/** Connects to the daemon of `dataDir` and signs in; fails with `DAEMON_UNAVAILABLE` if none answers. */
export async function connectDaemon (options: ConnectOptions): Promise<DaemonClient> {
  const transport = new Transport(options.socketPath ?? socketPath(options.dataDir))
  try {
    const info = await transport.call('GET', '') as DaemonInfo
    const { challenge, dir } = await transport.call('POST', '/session', {}) as { challenge: string, dir: string }
    await writeProof(dir, challenge).catch((err: Error) => {
      throw new DaemonUnavailableError(`cannot sign in to the daemon of ${options.dataDir}: cannot write to ${dir}: ${err.message}`, { cause: err, path: dir })
    })
    const session = await transport.call('POST', '/session/proof', { challenge }) as { token: string, uid: number, admin: boolean }
    transport.token = session.token
    return new Client(transport, info, session)
  } catch (err) {
    transport.close()
    throw err
  }
}

/** Requests over the socket: JSON in, JSON or errors out, streams for events. */
class Transport {
  readonly path: string
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 8 })
  readonly #streams = new Set<IncomingMessage>()
  token: string | null = null
  #closed = false

  constructor (path: string) {
    this.path = path
  }

  #headers (body?: string): Record<string, string> {
    return {
      ...(this.token != null ? { authorization: `Bearer ${this.token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {})
    }
  }

  async call (method: string, route: string, body?: object): Promise<unknown> {
    if (this.#closed) throw new DaemonUnavailableError('the connection to the daemon is closed')
    const text = body === undefined ? undefined : JSON.stringify(body)
    const res = await this.#send(method, route, text, this.#agent)
    const chunks: Buffer[] = []
    for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk)
    const raw = Buffer.concat(chunks).toString('utf8')
    let value: unknown = {}
    if (raw !== '') {
      try {
        value = JSON.parse(raw)
      } catch (err) {
        throw new DaemonUnavailableError(`the daemon answered ${method} ${route} with something not JSON`, { cause: err })
      }
    }
    if ((res.statusCode ?? 500) >= 400) {
      const info = (value as { error?: ErrorInfo }).error
      throw info != null && typeof info.code === 'string' ? errorFromInfo(info) : new DaemonUnavailableError(`the daemon answered ${method} ${route} with HTTP ${res.statusCode ?? '?'}`)
    }
    return value
  }

  /** Opens an event stream; its messages come parsed. Errors before the stream starts are thrown. */
  async stream (route: string, signal?: AbortSignal): Promise<AsyncGenerator<{ event: string, data: unknown }>> {
    const res = await this.#send('GET', route, undefined, false, signal)
    if ((res.statusCode ?? 500) >= 400) {
      const chunks: Buffer[] = []
      for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk)
      let info: ErrorInfo | undefined
      try {
        info = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: ErrorInfo }).error
      } catch {
        info = undefined // not JSON: said below as the stream refused
      }
      throw info != null ? errorFromInfo(info) : new DaemonUnavailableError(`the daemon refused the stream ${route}`)
    }
    this.#streams.add(res)
    const streams = this.#streams
    return (async function * () {
      try {
        for await (const m of parseEventStream(res)) yield { event: m.event, data: JSON.parse(m.data) as unknown }
      } catch (err) {
        if (signal?.aborted === true) return
        throw new DaemonUnavailableError('the daemon closed the event stream', { cause: err })
      } finally {
        streams.delete(res)
        res.destroy()
      }
    })()
  }

  async #send (method: string, route: string, body: string | undefined, agent: Agent | false, signal?: AbortSignal): Promise<IncomingMessage> {
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ socketPath: this.path, path: `${API}${route}`, method, headers: this.#headers(body), agent, ...(signal != null ? { signal } : {}) }, resolve)
      req.once('error', (err: NodeJS.ErrnoException) => {
        if (signal?.aborted === true) reject(new AbortedError('aborted', { cause: err }))
        else reject(new DaemonUnavailableError(`no daemon answers on ${this.path}: ${err.code ?? err.message}`, { cause: err, path: this.path }))
      })
      req.end(body)
    })
  }

  close (): void {
    this.#closed = true
    for (const s of this.#streams) s.destroy()
    this.#streams.clear()
    this.#agent.destroy()
  }
}

class Client implements DaemonClient {
  readonly jobs: DaemonJobManager
  readonly dataDir: string
  readonly mode: string
  readonly peerId: string | null
  readonly pid: number
  readonly uid: number
  readonly admin: boolean
  readonly #transport: Transport
  readonly #listen: string[]

  constructor (transport: Transport, info: DaemonInfo, session: { uid: number, admin: boolean }) {
    this.#transport = transport
    this.dataDir = info.dataDir
    this.mode = info.mode
    this.peerId = info.peerId
    this.pid = info.pid
    this.#listen = info.listen
    this.uid = session.uid
    this.admin = session.admin
    this.jobs = new RemoteJobManager(transport)
  }

  getMultiaddrs (): string[] { return [...this.#listen] }
  async peers (): Promise<{ peers: unknown[], banned: unknown[] }> { return await this.#transport.call('GET', '/peers') as { peers: unknown[], banned: unknown[] } }
  async cache (): Promise<{ items: unknown[], bytes: number }> { return await this.#transport.call('GET', '/cache') as { items: unknown[], bytes: number } }
  async stats (): Promise<Record<string, unknown>> { return await this.#transport.call('GET', '/stats') as Record<string, unknown> }
  async reload (): Promise<Record<string, unknown>> { return await this.#transport.call('POST', '/reload', {}) as Record<string, unknown> }

  async * events (options: EventsOptions = {}): AsyncIterableIterator<DaemonEvent> {
    const route = options.jobId !== undefined
      ? `/jobs/${encodeURIComponent(options.jobId)}/events`
      : `/events${options.allUsers === true ? '?allUsers=true' : ''}`
    const stream = await this.#transport.stream(route, options.signal)
    try {
      for await (const m of stream) {
        if (m.event !== 'snapshot' || options.snapshots === true) yield m.data as DaemonEvent
      }
    } catch (err) {
      if (options.signal?.aborted !== true) throw err
    }
  }

  async close (): Promise<void> {
    this.#transport.close()
  }

  async stop (): Promise<void> {
    await this.close()
  }
}

class RemoteJobManager implements DaemonJobManager {
  readonly #transport: Transport

  constructor (transport: Transport) {
    this.#transport = transport
  }

  async createJob (displayName: string, type: JobType = 'download', options: CreateJobOptions = {}): Promise<Job> {
    if (options.signal?.aborted === true) throw new AbortedError('createJob was aborted')
    if (options.owner !== undefined) throw new InvalidArgumentError('the daemon sets a job\'s owner to the caller; leave owner out')
    const info = await this.#transport.call('POST', '/jobs', { displayName, type }) as JobInfo
    return new RemoteJob(this.#transport, info)
  }

  async getJob (id: string): Promise<Job> {
    return new RemoteJob(this.#transport, await this.#transport.call('GET', `/jobs/${encodeURIComponent(id)}`) as JobInfo)
  }

  async enumJobs (options: { allUsers?: boolean } = {}): Promise<Job[]> {
    const { jobs } = await this.#transport.call('GET', `/jobs${options.allUsers === true ? '?allUsers=true' : ''}`) as { jobs: JobInfo[] }
    return jobs.map(info => new RemoteJob(this.#transport, info))
  }
}

const FINAL: readonly JobState[] = ['acknowledged', 'cancelled']
const SETTLED: readonly JobState[] = ['transferred', 'error', 'acknowledged', 'cancelled']

/**
 * A job of the daemon. Its getters answer from the job as last seen — after any call on it, and live while it is
 * followed (event listeners, `events()`, `waitFor()`, a notify interface); `refresh()` looks again.
 */
export class RemoteJob implements Job {
  readonly #transport: Transport
  #info: JobInfo
  #files: RemoteFile[] = []
  readonly #target = new EventTarget()
  #listeners = 0
  #follow: AbortController | null = null
  #callbacks: JobNotifyInterface | null = null
  #callbackChannel: AbortController | null = null
  /** Requests of the synchronous setters, in order; the next call waits for them and reports their failure. */
  #queue: Promise<void> = Promise.resolve()
  #queued: unknown = null

  constructor (transport: Transport, info: JobInfo) {
    this.#transport = transport
    this.#info = info
    this.#apply(info)
  }

  get id (): string { return this.#info.jobId }
  getId (): string { return this.#info.jobId }
  getType (): JobType { return this.#info.type }
  getDisplayName (): string { return this.#info.displayName }
  getDescription (): string { return this.#info.description }
  getPriority (): JobPriority { return this.#info.priority }
  getState (): JobState { return this.#info.state }
  getError (): ErrorInfo | null { return this.#info.error }
  getErrorCount (): number { return this.#info.errorCount }
  getNotifyFlags (): number { return this.#info.notifyFlags }
  getMinimumRetryDelay (): number { return this.#info.minimumRetryDelay }
  getNoProgressTimeout (): number { return this.#info.noProgressTimeout }
  getOwner (): number { return this.#info.owner }
  getNotifyCmdLine (): string[] | null { return this.#info.notifyCmdLine == null ? null : [...this.#info.notifyCmdLine] }
  getNotifyInterface (): JobNotifyInterface | null { return this.#callbacks }
  enumFiles (): JobFile[] { return [...this.#files] }
  toJSON (): JobInfo { return structuredClone(this.#info) }

  getTimes (): JobTimes {
    return {
      creationTime: new Date(this.#info.creationTime),
      modificationTime: new Date(this.#info.modificationTime),
      transferCompletionTime: this.#info.transferCompletionTime == null ? null : new Date(this.#info.transferCompletionTime)
    }
  }

  getProgress (): JobProgress {
    const { bytesTotal, bytesTransferred, filesTotal, filesTransferred, bytesFromPeers, bytesFromOrigin, bytesUploaded } = this.#info
    return { bytesTotal, bytesTransferred, filesTotal, filesTransferred, bytesFromPeers, bytesFromOrigin, bytesUploaded }
  }

  /** Looks at the job again. */
  async refresh (): Promise<void> {
    await this.#call('GET', '')
  }

  /** Takes a newer look at the job; files keep their objects. */
  #apply (info: JobInfo): void {
    this.#info = info
    info.files.forEach((f, i) => {
      const file = this.#files[i]
      if (file != null) file.info = f
      else this.#files[i] = new RemoteFile(this, f)
    })
  }

  async #call (method: string, route: string, body?: object): Promise<JobInfo> {
    await this.#queue
    const failed = this.#queued
    this.#queued = null
    if (failed != null) throw failed
    const value = await this.#transport.call(method, `/jobs/${this.id}${route}`, body) as JobInfo | { job: JobInfo }
    const info = 'job' in value ? value.job : value
    this.#apply(info)
    return info
  }

  #enqueue (body: object): void {
    this.#queue = this.#queue.then(async () => {
      this.#apply(await this.#transport.call('PATCH', `/jobs/${this.id}`, body) as JobInfo)
    }).catch((err: unknown) => { this.#queued = err })
  }

  async setDisplayName (name: string): Promise<void> { await this.#call('PATCH', '', { displayName: name }) }
  async setDescription (description: string): Promise<void> { await this.#call('PATCH', '', { description }) }
  async setPriority (priority: JobPriority): Promise<void> { await this.#call('PATCH', '', { priority }) }
  async setMinimumRetryDelay (seconds: number): Promise<void> { await this.#call('PATCH', '', { minimumRetryDelay: seconds }) }
  async setNoProgressTimeout (seconds: number): Promise<void> { await this.#call('PATCH', '', { noProgressTimeout: seconds }) }
  async setNotifyCmdLine (cmdLine: string[] | null): Promise<void> { await this.#call('PATCH', '', { notifyCmdLine: cmdLine }) }

  setNotifyFlags (flags: number): void {
    if (FINAL.includes(this.#info.state)) throw new InvalidStateError(`setNotifyFlags is not allowed on job ${this.id} in state ${this.#info.state}`, { jobId: this.id })
    if (!Number.isInteger(flags) || flags < 0 || flags > 0x3f) {
      throw new InvalidArgumentError(`notify flags must be a combination of NotifyFlags (0..0x3f), not ${String(flags)}`, { jobId: this.id })
    }
    this.#info.notifyFlags = flags
    this.#enqueue({ notifyFlags: flags })
  }

  async addFile (url: string, localPath: string, options: AddFileOptions = {}): Promise<JobFile> {
    if (options.signal?.aborted === true) throw new AbortedError(`addFile to job ${this.id} was aborted`, { jobId: this.id })
    const info = await this.#call('POST', '/files', {
      url, localPath,
      ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}),
      ...(options.manifest !== undefined ? { manifest: options.manifest } : {}),
      ...(options.manifestFrom !== undefined ? { manifestFrom: options.manifestFrom } : {})
    })
    return this.#files[info.files.length - 1]!
  }

  async resume (options: AbortOptions = {}): Promise<void> { await this.#lifecycle('resume', options) }
  async suspend (options: AbortOptions = {}): Promise<void> { await this.#lifecycle('suspend', options) }
  async cancel (options: AbortOptions = {}): Promise<void> { await this.#lifecycle('cancel', options) }
  async complete (options: AbortOptions = {}): Promise<void> { await this.#lifecycle('complete', options) }

  async #lifecycle (what: string, options: AbortOptions): Promise<void> {
    if (options.signal?.aborted === true) throw new AbortedError(`${what} of job ${this.id} was aborted`, { jobId: this.id })
    await this.#call('POST', `/${what}`, {})
    if (FINAL.includes(this.#info.state)) this.#stopFollowing()
  }

  async patchFile (index: number, body: { sha256: string }): Promise<void> {
    await this.#call('PATCH', `/files/${index}`, body)
  }

  async validateFile (index: number, valid: boolean): Promise<void> {
    await this.#call('POST', `/files/${index}/validation`, { valid })
  }

  // ---- notify interface -------------------------------------------------------------------------------------

  setNotifyInterface (callbacks: JobNotifyInterface | null): void {
    if (FINAL.includes(this.#info.state)) throw new InvalidStateError(`setNotifyInterface is not allowed on job ${this.id} in state ${this.#info.state}`, { jobId: this.id })
    if (callbacks != null && (typeof callbacks !== 'object' || Object.entries(callbacks).some(([, v]) => v !== undefined && typeof v !== 'function'))) {
      throw new InvalidArgumentError('a notify interface is an object of functions', { jobId: this.id })
    }
    this.#callbackChannel?.abort()
    this.#callbackChannel = null
    this.#callbacks = callbacks
    if (callbacks == null) return
    const methods = (['jobTransferred', 'jobError', 'jobModification', 'fileTransferred'] as const).filter(m => typeof callbacks[m] === 'function')
    const controller = new AbortController()
    this.#callbackChannel = controller
    // Registered once the daemon has the stream; until then the daemon has none (as before the call).
    this.#queue = this.#queue.then(async () => {
      const stream = await this.#transport.stream(`/jobs/${this.id}/callbacks?methods=${methods.join(',')}`, controller.signal)
      void this.#serveCallbacks(stream, callbacks, controller.signal)
    }).catch((err: unknown) => { if (!controller.signal.aborted) this.#queued = err })
  }

  async #serveCallbacks (stream: AsyncGenerator<{ event: string, data: unknown }>, callbacks: JobNotifyInterface, signal: AbortSignal): Promise<void> {
    try {
      for await (const m of stream) {
        if (m.event !== 'call') continue
        const call = m.data as { callId: string | null, method: keyof JobNotifyInterface, job: JobInfo, fileIndex?: number, error?: ErrorInfo }
        this.#apply(call.job)
        void this.#runCallback(call, callbacks)
      }
    } catch {
      // The daemon went away: the callbacks are unregistered there, and the calls it awaited are retried by it.
    } finally {
      if (!signal.aborted && this.#callbacks === callbacks) this.#callbackChannel = null
    }
  }

  async #runCallback (call: { callId: string | null, method: keyof JobNotifyInterface, fileIndex?: number, error?: ErrorInfo }, cb: JobNotifyInterface): Promise<void> {
    let error: string | null = null
    try {
      switch (call.method) {
        case 'jobTransferred': await cb.jobTransferred?.(this); break
        case 'jobModification': await cb.jobModification?.(this); break
        case 'jobError': await cb.jobError?.(this, call.error ?? this.#info.error!); break
        case 'fileTransferred': await cb.fileTransferred?.(this, this.#files[call.fileIndex ?? -1]!); break
      }
    } catch (err) {
      error = err instanceof Error ? err.message || err.name : String(err)
    }
    if (call.callId == null) return
    await this.#transport.call('POST', `/jobs/${this.id}/callbacks/${call.callId}`, { error }).catch(() => {})
  }

  // ---- events -----------------------------------------------------------------------------------------------

  addEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void {
    this.#target.addEventListener(type, listener as EventListener)
    this.#listeners++
    if (this.#follow == null) this.#startFollowing()
  }

  removeEventListener<K extends keyof JobEventMap>(type: K, listener: (event: CustomEvent<JobEventMap[K]>) => void): void {
    this.#target.removeEventListener(type, listener as EventListener)
    this.#listeners = Math.max(0, this.#listeners - 1)
    if (this.#listeners === 0) this.#stopFollowing()
  }

  #startFollowing (): void {
    const controller = new AbortController()
    this.#follow = controller
    void (async () => {
      for await (const event of this.events({ signal: controller.signal })) {
        const { type, jobId: _jobId, ...detail } = event as JobEvent & { job?: JobInfo }
        delete (detail as { job?: JobInfo }).job
        this.#target.dispatchEvent(new CustomEvent(type, { detail }))
      }
    })().catch(() => {}).finally(() => { if (this.#follow === controller) this.#follow = null })
  }

  #stopFollowing (): void {
    this.#follow?.abort()
    this.#follow = null
  }

  /** The job's events; ends when the job is acknowledged or cancelled, `signal` aborts, or the daemon goes away. */
  async * events (options: AbortOptions = {}): AsyncIterableIterator<JobEvent> {
    if (FINAL.includes(this.#info.state)) return
    const controller = new AbortController()
    const onAbort = (): void => { controller.abort() }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const stream = await this.#transport.stream(`/jobs/${this.id}/events`, controller.signal)
      for await (const m of stream) {
        const data = m.data as JobEvent & { job: JobInfo }
        this.#apply(data.job)
        if (m.event === 'snapshot') continue
        yield this.#hydrate(data)
        if (FINAL.includes(this.#info.state)) return
      }
    } catch (err) {
      if (controller.signal.aborted) return
      // A job that ended (and was forgotten) between the last look and the stream's start.
      if (err instanceof DoptError && err.code === 'JOB_NOT_FOUND') return
      throw err
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      controller.abort()
    }
  }

  /** Files in events become this job's file objects. */
  #hydrate (event: JobEvent & { job?: JobInfo }): JobEvent {
    const withFile = event as JobEvent & { file?: FileInfo | JobFile }
    if (withFile.file != null) return { ...event, file: this.#files[withFile.file.index] } as JobEvent
    return event
  }

  async waitFor (states: readonly JobState[] = SETTLED, options: AbortOptions = {}): Promise<JobState> {
    if (states.includes(this.#info.state)) return this.#info.state
    for await (const _event of this.events(options)) {
      if (states.includes(this.#info.state)) return this.#info.state
    }
    if (options.signal?.aborted === true) throw new AbortedError(`waiting for job ${this.id} was aborted`, { jobId: this.id })
    if (states.includes(this.#info.state)) return this.#info.state
    throw new InvalidStateError(`job ${this.id} ended in ${this.#info.state} before reaching ${states.join(' or ')}`, { jobId: this.id })
  }
}

/** A file of a daemon's job, as last seen. */
class RemoteFile implements JobFile {
  readonly #job: RemoteJob
  info: FileInfo

  constructor (job: RemoteJob, info: FileInfo) {
    this.#job = job
    this.info = info
  }

  get index (): number { return this.info.index }
  get remoteName (): string { return this.info.remoteName }
  get localName (): string { return this.info.localName }
  get temporaryName (): string { return this.info.temporaryName }
  get sha256 (): string | null { return this.info.sha256 }
  get pinnedManifest (): string | null { return this.info.pinnedManifest }
  get isDownloadedFromPeer (): boolean { return this.info.isDownloadedFromPeer }
  get validationState (): ValidationState { return this.info.validationState }
  getValidationState (): ValidationState { return this.info.validationState }

  getProgress (): FileProgress {
    const { bytesTotal, bytesTransferred, completed, bytesFromPeers, bytesFromOrigin, bytesUploaded } = this.info
    return { bytesTotal, bytesTransferred, completed, bytesFromPeers, bytesFromOrigin, bytesUploaded }
  }

  async setValidationState (valid: boolean): Promise<void> {
    await this.#job.validateFile(this.index, valid)
  }

  async setSha256 (sha256: string): Promise<void> {
    await this.#job.patchFile(this.index, { sha256 })
  }

  toJSON (): FileInfo {
    return { ...this.info }
  }
}
