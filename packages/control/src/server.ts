import { randomBytes } from 'node:crypto'
import { chmod, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import { AccessDeniedError, DaemonRunningError, InvalidArgumentError, JOB_STATES, JobNotFoundError } from '@dopt/interface'
import type { Job, JobEvent, JobInfo, JobManager, JobNotifyInterface, JobPriority } from '@dopt/interface'
import { checkMayRead, checkMayWrite } from './access.js'
import { Authenticator } from './auth.js'
import type { Caller } from './auth.js'
import { authDir, socketPath } from './paths.js'
import { EventStream } from './sse.js'
import { API, RequestError, checkFields, readBody, sendError, sendJson } from './wire.js'

/** What the control API needs of a node: its jobs, and what it can say about peers, the cache and itself. */
export interface ControlledNode {
  readonly jobs: JobManager
  readonly dataDir: string
  readonly mode: string
  readonly peerId: string | null
  getMultiaddrs(): string[]
  getPeers(): unknown[]
  getStats(): object
  getCacheItems(): Promise<Array<{ size: number }>>
  getBannedPeers(): unknown[]
}

export interface ControlServerInit {
  /** Where to listen. @default `<dataDir>/control.sock` */
  socketPath?: string
  /** Mode of the socket: who may connect (every request is then authenticated). @default 0o666 */
  socketMode?: number
  /** A group (name or gid) whose members are administrators: they see and manage every user's jobs. */
  adminGroup?: string | number
  /** Asks the daemon to run something on behalf of the API (e.g. SIGHUP-style reload); answered as `{ ... }`. */
  onReload?: () => Promise<object>
}

export interface ControlServer {
  /** The socket's path. */
  readonly path: string
  close(): Promise<void>
}

/** Event streams at once, in all and per user: each holds a socket and a listener on every job it follows. */
const MAX_STREAMS = 256
const MAX_STREAMS_PER_USER = 32

const JOB_FIELDS = { displayName: 'string', type: 'string', description: 'string', priority: 'string' } as const
const PATCH_FIELDS = {
  displayName: 'string', description: 'string', priority: 'string', minimumRetryDelay: 'number',
  noProgressTimeout: 'number', notifyFlags: 'number', notifyCmdLine: 'string[]|null'
} as const
const FILE_FIELDS = { url: 'string', localPath: 'string', sha256: 'string', manifest: 'string', manifestFrom: 'string' } as const
const CALLBACK_METHODS = ['jobTransferred', 'jobError', 'jobModification', 'fileTransferred'] as const
type CallbackMethod = typeof CALLBACK_METHODS[number]

/** A job event as it crosses the socket: files as their plain form, and the job's snapshot after it. */
function wireEvent (event: JobEvent, job: Job): object {
  const { file, ...rest } = event as JobEvent & { file?: { toJSON?: () => unknown } }
  return { ...rest, ...(file != null ? { file: typeof file.toJSON === 'function' ? file.toJSON() : file } : {}), job: job.toJSON() }
}

/**
 * The control API of a daemon: HTTP and JSON on a Unix socket in the data folder, server-sent events for job
 * events and for the callbacks of a job's notify interface. Every request but `GET /v1` comes from a signed-in
 * caller (auth.ts); a caller sees and changes only its own jobs unless it is an administrator. docs/daemon.md
 * lists the routes.
 */
export async function serveControl (node: ControlledNode, init: ControlServerInit = {}): Promise<ControlServer> {
  const path = init.socketPath ?? socketPath(node.dataDir)
  const auth = new Authenticator({ dir: authDir(node.dataDir), ...(init.adminGroup !== undefined ? { adminGroup: init.adminGroup } : {}) })
  await auth.start()
  await removeStaleSocket(path)
  const control = new Control(node, auth, init)
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 60_000 }, (req, res) => {
    void control.handle(req, res)
  })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"BAD_REQUEST","context":"general-queue-manager","message":"malformed HTTP request"}}')
    else socket.destroy()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, init.socketMode ?? 0o666)
  return {
    path,
    async close () {
      control.close()
      await closeServer(server)
      await rm(path, { force: true })
    }
  }
}

/** A socket file left by a daemon that died is removed; one a live daemon answers on is not. */
async function removeStaleSocket (path: string): Promise<void> {
  const live = await new Promise<boolean>(resolve => {
    const socket = connect(path)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })
  if (live) throw new DaemonRunningError(`a daemon already listens on ${path}`, { path, context: 'local-file' })
  await rm(path, { force: true })
}

async function closeServer (server: Server): Promise<void> {
  await new Promise<void>(resolve => {
    server.close(() => { resolve() })
    server.closeAllConnections()
  })
}

interface Route {
  method: string
  pattern: RegExp
  handler: (call: Call) => Promise<unknown>
}

interface Call {
  req: IncomingMessage
  res: ServerResponse
  caller: Caller
  params: string[]
  query: URLSearchParams
}

/** Marks a handler that answered by itself (a stream). */
const STREAMING = Symbol('streaming')

class Control {
  readonly #node: ControlledNode
  readonly #auth: Authenticator
  readonly #init: ControlServerInit
  readonly #routes: Route[]
  readonly #streams = new Set<EventStream>()
  readonly #streamsByUser = new Map<number, number>()
  /** Streams that follow every job of a caller: told of jobs created after they opened. */
  readonly #followers = new Set<{ caller: Caller, follow: (job: Job) => void }>()
  /** Callbacks awaiting the client's answer, by call id. */
  readonly #calls = new Map<string, { jobId: string, uid: number, settle: (error: string | null) => void }>()

  constructor (node: ControlledNode, auth: Authenticator, init: ControlServerInit) {
    this.#node = node
    this.#auth = auth
    this.#init = init
    const id = '([0-9a-f-]{1,64})'
    this.#routes = [
      { method: 'GET', pattern: /^\/jobs$/, handler: async c => await this.#list(c) },
      { method: 'POST', pattern: /^\/jobs$/, handler: async c => await this.#create(c) },
      { method: 'GET', pattern: new RegExp(`^/jobs/${id}$`), handler: async c => (await this.#job(c)).toJSON() },
      { method: 'PATCH', pattern: new RegExp(`^/jobs/${id}$`), handler: async c => await this.#patch(c) },
      { method: 'POST', pattern: new RegExp(`^/jobs/${id}/files$`), handler: async c => await this.#addFile(c) },
      { method: 'POST', pattern: new RegExp(`^/jobs/${id}/(resume|suspend|cancel|complete)$`), handler: async c => await this.#lifecycle(c) },
      { method: 'POST', pattern: new RegExp(`^/jobs/${id}/files/(\\d{1,6})/validation$`), handler: async c => await this.#validate(c) },
      { method: 'PATCH', pattern: new RegExp(`^/jobs/${id}/files/(\\d{1,6})$`), handler: async c => await this.#patchFile(c) },
      { method: 'GET', pattern: new RegExp(`^/jobs/${id}/events$`), handler: async c => await this.#jobEvents(c) },
      { method: 'GET', pattern: new RegExp(`^/jobs/${id}/callbacks$`), handler: async c => await this.#callbacks(c) },
      { method: 'POST', pattern: new RegExp(`^/jobs/${id}/callbacks/([0-9a-f]{32})$`), handler: async c => await this.#answer(c) },
      { method: 'GET', pattern: /^\/events$/, handler: async c => await this.#allEvents(c) },
      { method: 'GET', pattern: /^\/peers$/, handler: async () => ({ peers: this.#node.getPeers(), banned: this.#node.getBannedPeers() }) },
      { method: 'GET', pattern: /^\/cache$/, handler: async () => await this.#cache() },
      { method: 'GET', pattern: /^\/stats$/, handler: async c => await this.#stats(c) },
      { method: 'POST', pattern: /^\/reload$/, handler: async c => await this.#reload(c) }
    ]
  }

  close (): void {
    for (const call of this.#calls.values()) call.settle('the daemon stopped')
    this.#calls.clear()
    for (const stream of this.#streams) stream.close()
  }

  async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://daemon')
      const method = req.method ?? 'GET'
      if (!url.pathname.startsWith(API) || (url.pathname.length > API.length && url.pathname[API.length] !== '/')) {
        throw new RequestError(404, 'NO_SUCH_ROUTE', `no route ${url.pathname}: the API is under ${API}`)
      }
      const route = url.pathname.slice(API.length) || '/'
      if (route === '/' || route === '/session' || route === '/session/proof') {
        sendJson(res, 200, await this.#open(method, route, req))
        return
      }
      const caller = this.#auth.caller(req.headers.authorization)
      const matches = this.#routes.filter(r => r.pattern.test(route))
      if (matches.length === 0) throw new RequestError(404, 'NO_SUCH_ROUTE', `no route ${method} ${url.pathname}`)
      const found = matches.find(r => r.method === method)
      if (found == null) {
        res.setHeader('allow', matches.map(r => r.method).join(', '))
        throw new RequestError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`)
      }
      const params = found.pattern.exec(route)!.slice(1)
      const result = await found.handler({ req, res, caller, params, query: url.searchParams })
      if (result === STREAMING) return
      sendJson(res, result === undefined ? 204 : 200, result ?? {})
    } catch (err) {
      // Drain what the client sent, so that the connection can carry its next request.
      req.resume()
      sendError(res, err)
    }
  }

  /** The routes open to anyone: what this daemon is, and signing in. */
  async #open (method: string, route: string, req: IncomingMessage): Promise<object> {
    if (route === '/') {
      if (method !== 'GET') throw new RequestError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${API}`)
      return { api: 1, pid: process.pid, dataDir: this.#node.dataDir, mode: this.#node.mode, peerId: this.#node.peerId, listen: this.#node.getMultiaddrs() }
    }
    if (method !== 'POST') throw new RequestError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${API}${route}`)
    const body = await readBody(req)
    if (route === '/session') {
      checkFields(body, {})
      return { challenge: this.#auth.challenge(), dir: this.#auth.dir }
    }
    checkFields(body, { challenge: 'string' }, ['challenge'])
    const { token, caller } = await this.#auth.prove(body.challenge as string)
    return { token, uid: caller.uid, admin: caller.admin }
  }

  /** A job the caller may see: its own, or any for an administrator. Others' are not found, as if absent. */
  async #job (c: Call): Promise<Job> {
    const id = c.params[0]!
    const job = await this.#node.jobs.getJob(id)
    if (!c.caller.admin && job.getOwner() !== c.caller.uid) throw new JobNotFoundError(`no job has the id "${id}"`, { jobId: id })
    return job
  }

  async #visibleJobs (c: Call): Promise<Job[]> {
    const all = c.query.get('allUsers')
    if (all != null && all !== 'true' && all !== 'false') throw new RequestError(400, 'BAD_REQUEST', 'allUsers must be true or false')
    if (all === 'true' && !c.caller.admin) throw new AccessDeniedError('only an administrator may see every user\'s jobs')
    const jobs = await this.#node.jobs.enumJobs()
    return all === 'true' ? jobs : jobs.filter(j => j.getOwner() === c.caller.uid)
  }

  async #list (c: Call): Promise<object> {
    return { jobs: (await this.#visibleJobs(c)).map(j => j.toJSON()) }
  }

  async #create (c: Call): Promise<JobInfo> {
    const body = await readBody(c.req)
    checkFields(body, JOB_FIELDS, ['displayName'])
    if (body.type !== undefined && body.type !== 'download') throw new InvalidArgumentError(`job type must be "download", not "${String(body.type)}"`)
    const job = await this.#node.jobs.createJob(body.displayName as string, 'download', { owner: c.caller.uid })
    try {
      if (body.description !== undefined) await job.setDescription(body.description as string)
      if (body.priority !== undefined) await job.setPriority(body.priority as JobPriority)
    } catch (err) {
      await job.cancel()
      throw err
    }
    for (const f of this.#followers) if (f.caller.admin || f.caller.uid === c.caller.uid) f.follow(job)
    c.res.statusCode = 201
    return job.toJSON()
  }

  async #patch (c: Call): Promise<JobInfo> {
    const body = await readBody(c.req)
    checkFields(body, PATCH_FIELDS)
    const job = await this.#job(c)
    if (body.displayName !== undefined) await job.setDisplayName(body.displayName as string)
    if (body.description !== undefined) await job.setDescription(body.description as string)
    if (body.priority !== undefined) await job.setPriority(body.priority as JobPriority)
    if (body.minimumRetryDelay !== undefined) await job.setMinimumRetryDelay(body.minimumRetryDelay as number)
    if (body.noProgressTimeout !== undefined) await job.setNoProgressTimeout(body.noProgressTimeout as number)
    if (body.notifyFlags !== undefined) job.setNotifyFlags(body.notifyFlags as number)
    if (body.notifyCmdLine !== undefined) {
      // It runs as the job's owner: only the owner (or root) may say what, or an administrator could run
      // programs as any user.
      if (c.caller.uid !== job.getOwner() && c.caller.uid !== 0) throw new AccessDeniedError('only the job\'s owner may set its notify command line', { jobId: job.id })
      await job.setNotifyCmdLine(body.notifyCmdLine as string[] | null)
    }
    return job.toJSON()
  }

  async #addFile (c: Call): Promise<object> {
    const body = await readBody(c.req)
    checkFields(body, FILE_FIELDS, ['url', 'localPath'])
    const job = await this.#job(c)
    const localPath = body.localPath as string
    // The daemon writes the file: the caller must be allowed to (it might be root, and the caller not).
    if (localPath.startsWith('/')) await checkMayWrite(job.getOwner(), localPath)
    const from = body.manifestFrom as string | undefined
    if (from?.startsWith('/') === true) await checkMayRead(job.getOwner(), from)
    const file = await job.addFile(body.url as string, localPath, {
      ...(body.sha256 !== undefined ? { sha256: body.sha256 as string } : {}),
      ...(body.manifest !== undefined ? { manifest: body.manifest as string } : {}),
      ...(from !== undefined ? { manifestFrom: from } : {})
    })
    c.res.statusCode = 201
    return { file: job.toJSON().files[file.index], job: job.toJSON() }
  }

  async #lifecycle (c: Call): Promise<JobInfo> {
    checkFields(await readBody(c.req), {})
    const job = await this.#job(c)
    switch (c.params[1]) {
      case 'resume': await job.resume(); break
      case 'suspend': await job.suspend(); break
      case 'cancel': await job.cancel(); break
      default: await job.complete()
    }
    return job.toJSON()
  }

  async #validate (c: Call): Promise<JobInfo> {
    const body = await readBody(c.req)
    checkFields(body, { valid: 'boolean' }, ['valid'])
    const job = await this.#job(c)
    const file = job.enumFiles()[Number(c.params[1])]
    if (file == null) throw new InvalidArgumentError(`job ${job.id} has no file ${c.params[1] ?? ''}`, { jobId: job.id })
    await file.setValidationState(body.valid as boolean)
    return job.toJSON()
  }

  async #patchFile (c: Call): Promise<JobInfo> {
    const body = await readBody(c.req)
    checkFields(body, { sha256: 'string' }, ['sha256'])
    const job = await this.#job(c)
    const file = job.enumFiles()[Number(c.params[1])]
    if (file == null) throw new InvalidArgumentError(`job ${job.id} has no file ${c.params[1] ?? ''}`, { jobId: job.id })
    await file.setSha256(body.sha256 as string)
    return job.toJSON()
  }

  async #cache (): Promise<object> {
    const items = await this.#node.getCacheItems()
    return { items, bytes: items.reduce((n, i) => n + i.size, 0) }
  }

  async #stats (c: Call): Promise<object> {
    const byState = Object.fromEntries(JOB_STATES.map(s => [s, 0]))
    for (const job of await this.#visibleJobs(c)) byState[job.getState()]!++
    return { ...this.#node.getStats(), jobs: byState, peers: this.#node.getPeers().length }
  }

  async #reload (c: Call): Promise<object> {
    if (!c.caller.admin) throw new AccessDeniedError('only an administrator may reload the daemon\'s settings')
    if (this.#init.onReload == null) throw new RequestError(404, 'NO_SUCH_ROUTE', 'this daemon cannot reload its settings')
    return await this.#init.onReload()
  }

  // ---- streams ----------------------------------------------------------------------------------------------

  #openStream (c: Call): EventStream {
    const uid = c.caller.uid
    const mine = this.#streamsByUser.get(uid) ?? 0
    if (this.#streams.size >= MAX_STREAMS || mine >= MAX_STREAMS_PER_USER) {
      throw new RequestError(429, 'TOO_MANY_STREAMS', `at most ${MAX_STREAMS_PER_USER} event streams per user (${MAX_STREAMS} in all) may be open`)
    }
    const stream = new EventStream(c.res)
    this.#streams.add(stream)
    this.#streamsByUser.set(uid, mine + 1)
    stream.onClose(() => {
      this.#streams.delete(stream)
      this.#streamsByUser.set(uid, (this.#streamsByUser.get(uid) ?? 1) - 1)
    })
    return stream
  }

  /** Sends a job's events to a stream until either ends; `closeAtEnd`: the stream ends with the job. */
  #follow (stream: EventStream, job: Job, closeAtEnd = false): void {
    const iterator = job.events()
    stream.onClose(() => { void iterator.return?.() })
    void (async () => {
      for await (const event of iterator) stream.send(event.type, wireEvent(event, job))
    })().catch(() => {}).finally(() => { if (closeAtEnd) stream.close() })
  }

  async #jobEvents (c: Call): Promise<typeof STREAMING> {
    const job = await this.#job(c)
    const stream = this.#openStream(c)
    // First the job as it is, so that a client that subscribed misses nothing between its last look and now.
    stream.send('snapshot', { type: 'snapshot', jobId: job.id, job: job.toJSON() })
    this.#follow(stream, job, true)
    return STREAMING
  }

  async #allEvents (c: Call): Promise<typeof STREAMING> {
    const jobs = await this.#visibleJobs(c)
    const stream = this.#openStream(c)
    const all = c.query.get('allUsers') === 'true'
    const follower = {
      caller: all ? c.caller : { uid: c.caller.uid, admin: false },
      follow: (job: Job) => {
        stream.send('snapshot', { type: 'snapshot', jobId: job.id, job: job.toJSON() })
        this.#follow(stream, job)
      }
    }
    for (const job of jobs) follower.follow(job)
    this.#followers.add(follower)
    stream.onClose(() => { this.#followers.delete(follower) })
    return STREAMING
  }

  /**
   * The job's notify interface, held by a client: each callback the node makes is sent as a `call` event and
   * returns (or throws) when the client answers it (POST .../callbacks/ID). The stream closing unregisters it, and
   * fails the calls it had not answered, which the node retries as it does a callback that threw.
   */
  async #callbacks (c: Call): Promise<typeof STREAMING> {
    const job = await this.#job(c)
    const methods = (c.query.get('methods') ?? '').split(',').filter(m => m !== '')
    const unknown = methods.filter(m => !(CALLBACK_METHODS as readonly string[]).includes(m))
    if (unknown.length > 0) throw new RequestError(400, 'BAD_REQUEST', `unknown callback methods: ${unknown.join(', ')} (known: ${CALLBACK_METHODS.join(', ')})`)
    const stream = this.#openStream(c)
    const pending = new Set<string>()
    const call = async (method: CallbackMethod, extra: object = {}): Promise<void> => {
      if (stream.closed) throw new Error('the client that registered the callbacks is gone')
      const callId = randomBytes(16).toString('hex')
      const answered = new Promise<string | null>(resolve => {
        pending.add(callId)
        this.#calls.set(callId, { jobId: job.id, uid: c.caller.uid, settle: resolve })
      })
      stream.send('call', { callId, method, jobId: job.id, job: job.toJSON(), ...extra })
      const error = await answered
      pending.delete(callId)
      this.#calls.delete(callId)
      if (error != null) throw new Error(error)
    }
    const proxy: JobNotifyInterface = {}
    for (const method of methods as CallbackMethod[]) {
      if (method === 'jobModification') {
        // Not awaited by the node beyond delivery: sent, not answered.
        proxy.jobModification = () => { stream.send('call', { callId: null, method, jobId: job.id, job: job.toJSON() }) }
      } else if (method === 'fileTransferred') {
        proxy.fileTransferred = async (_j, file) => { await call(method, { fileIndex: file.index }) }
      } else if (method === 'jobError') {
        proxy.jobError = async (_j, error) => { await call(method, { error }) }
      } else {
        proxy.jobTransferred = async () => { await call(method) }
      }
    }
    stream.onClose(() => {
      for (const id of pending) this.#calls.get(id)?.settle('the client that registered the callbacks is gone')
      try {
        if (job.getNotifyInterface() === proxy) job.setNotifyInterface(null)
      } catch {
        // The job ended: nothing to unregister.
      }
    })
    stream.send('registered', { jobId: job.id, methods })
    job.setNotifyInterface(proxy)
    return STREAMING
  }

  async #answer (c: Call): Promise<undefined> {
    const body = await readBody(c.req)
    checkFields(body, { error: 'string|null' })
    const callId = c.params[1]!
    const call = this.#calls.get(callId)
    if (call == null || call.jobId !== c.params[0] || call.uid !== c.caller.uid) throw new RequestError(404, 'NO_SUCH_CALL', `no callback ${callId} awaits an answer from you`)
    call.settle((body.error as string | null | undefined) ?? null)
    return undefined
  }
}
