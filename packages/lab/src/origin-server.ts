import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { isAbsolute } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { InvalidArgumentError } from '@dopt/interface'
import { pump } from './body-pump.js'
import { EgressLimiter } from './egress.js'
import { ifRangeMatches, parseRange } from './range.js'
import type { ByteRange } from './range.js'
import type { Origin, OriginFault, OriginFile, OriginInit, OriginRequestLog } from './types.js'
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** The default Last-Modified of version 1; later versions add a second each, so a changed file has a new date. */
const BASE_DATE = Date.UTC(2024, 0, 1)
/** Disk reads of 1 MiB keep the per-chunk cost negligible when a benchmark pulls a GiB. */
const READ_CHUNK = 1024 * 1024
/** After a cut, the client normally closes at once; this only reaps sockets of clients that don't. */
const CUT_REAP_MS = 1000

interface FileRoute {
  kind: 'file'
  file: OriginFile
  version: number
}

interface RedirectRoute {
  kind: 'redirect'
  location: string
  status: number
}

type Route = FileRoute | RedirectRoute

/** A fault and its counters; the counters restart whenever `setFault` is called. */
interface FaultState {
  fault: OriginFault
  failed: number
  truncated: number
  sent: number
  changed: boolean
}

/** What one request sees of a file: its validators, size and where its bytes are. */
interface Representation {
  etag: string | null
  lastModified: string | null
  size: number
  body: Uint8Array | { path: string }
}

class OriginServer implements Origin {
  readonly baseUrl: string
  readonly #server: Server
  readonly #routes = new Map<string, Route>()
  readonly #versions = new Map<string, number>()
  readonly #faults = new Map<string, FaultState>()
  readonly #requests: OriginRequestLog[] = []
  readonly #sockets = new Set<Socket>()
  readonly #aborts = new Set<AbortController>()
  readonly #egress: EgressLimiter | null
  #bytesSent = 0
  #closing: Promise<void> | undefined

  constructor (server: Server, baseUrl: string, egress: EgressLimiter | null) {
    this.#server = server
    this.baseUrl = baseUrl
    this.#egress = egress
    server.on('connection', socket => {
      this.#sockets.add(socket)
      socket.on('close', () => this.#sockets.delete(socket))
    })
    server.on('request', (req: IncomingMessage, res: ServerResponse) => { void this.#handle(req, res) })
  }

  get requests (): OriginRequestLog[] {
    return this.#requests
  }

  get bytesSent (): number {
    return this.#bytesSent
  }

  get egressRate (): number | null {
    return this.#egress?.rate ?? null
  }

  url (path: string): string {
    return this.baseUrl + normalizePath(path)
  }

  setFile (path: string, file: OriginFile): void {
    if ((file.data === undefined) === (file.file === undefined)) {
      throw new InvalidArgumentError('An origin file needs exactly one of `data` or `file`')
    }
    if (file.file !== undefined && !isAbsolute(file.file)) {
      throw new InvalidArgumentError(`An origin file path must be absolute: ${file.file}`, { path: file.file })
    }
    const key = normalizePath(path)
    this.#routes.set(key, { kind: 'file', file: { ...file }, version: this.#nextVersion(key) })
  }

  setFault (path: string, fault: OriginFault | null): void {
    const key = normalizePath(path)
    if (fault === null) {
      this.#faults.delete(key)
      return
    }
    if (fault.rate !== undefined && !(fault.rate > 0)) throw new InvalidArgumentError('A fault rate must be > 0')
    if ((fault.changeAfter === undefined) !== (fault.changeTo === undefined)) {
      throw new InvalidArgumentError('`changeAfter` and `changeTo` go together')
    }
    this.#faults.set(key, { fault: { ...fault }, failed: 0, truncated: 0, sent: 0, changed: false })
  }

  redirect (from: string, to: string, status = 301): void {
    if (status < 300 || status > 399) throw new InvalidArgumentError(`Not a redirect status: ${status}`)
    this.#routes.set(normalizePath(from), { kind: 'redirect', location: to, status })
  }

  async close (): Promise<void> {
    this.#closing ??= new Promise<void>(resolve => {
      this.#egress?.close()
      for (const controller of this.#aborts) controller.abort()
      this.#server.close(() => { resolve() })
      this.#server.closeAllConnections()
      for (const socket of this.#sockets) socket.destroy()
    })
    await this.#closing
  }

  #nextVersion (path: string): number {
    const version = (this.#versions.get(path) ?? 0) + 1
    this.#versions.set(path, version)
    return version
  }

  async #handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log: OriginRequestLog = {
      method: req.method ?? 'GET',
      path: normalizePath(new URL(req.url ?? '/', 'http://origin').pathname),
      range: headerOf(req, 'range'),
      ifRange: headerOf(req, 'if-range'),
      time: Date.now(),
      status: 0,
      bytesSent: 0
    }
    this.#requests.push(log)
    // Aborted when the connection goes (client left, cut, or close()), so delays and throttles stop at once.
    const controller = new AbortController()
    this.#aborts.add(controller)
    res.on('close', () => {
      controller.abort()
      this.#aborts.delete(controller)
    })

    try {
      await this.#respond(res, log, controller.signal)
    } catch {
      // A disk error or the like: answer 500 if we still can, else cut the body short so the client notices.
      if (res.headersSent) {
        res.destroy()
      } else if (!res.destroyed) {
        log.status = 500
        res.writeHead(500, { 'content-length': 0 }).end()
      }
    }
  }

  async #respond (res: ServerResponse, log: OriginRequestLog, signal: AbortSignal): Promise<void> {
    const faultState = this.#faults.get(log.path)
    const fault = faultState?.fault ?? {}
    if (fault.delay !== undefined && fault.delay > 0) {
      try {
        await sleep(fault.delay, undefined, { signal })
      } catch {
        return
      }
    }

    const isGet = log.method === 'GET'
    const retryAfter = fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter }
    if (fault.status !== undefined) {
      emptyResponse(res, log, fault.status, retryAfter)
      return
    }
    if (isGet && faultState !== undefined && faultState.failed < (fault.failTimes ?? 0)) {
      faultState.failed++
      emptyResponse(res, log, fault.failStatus ?? 500, retryAfter)
      return
    }

    const route = this.#routes.get(log.path)
    if (route === undefined) {
      emptyResponse(res, log, 404)
      return
    }
    if (route.kind === 'redirect') {
      emptyResponse(res, log, route.status, { location: route.location })
      return
    }
    const allow = route.file.head === false ? 'GET' : 'GET, HEAD'
    if (!isGet && !(log.method === 'HEAD' && route.file.head !== false)) {
      emptyResponse(res, log, 405, { allow })
      return
    }
    if (log.method === 'HEAD' && route.file.headStatus !== undefined) {
      emptyResponse(res, log, route.file.headStatus)
      return
    }

    const rep = await represent(route)
    const ranges = route.file.ranges !== false
    let range: ByteRange | null = null
    if (ranges && log.range !== null &&
      (log.ifRange === null || ifRangeMatches(log.ifRange, rep.etag, rep.lastModified))) {
      const parsed = parseRange(log.range, rep.size)
      if (parsed === 'unsatisfiable') {
        emptyResponse(res, log, 416, { 'content-range': `bytes */${rep.size}`, ...validators(rep) })
        return
      }
      range = parsed
    }

    const start = range?.start ?? 0
    const length = range === null ? rep.size : range.end - range.start + 1
    const chunked = route.file.chunked === true
    const headers: OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', ...validators(rep) }
    if (ranges) headers['accept-ranges'] = 'bytes'
    if (range !== null) headers['content-range'] = `bytes ${range.start}-${range.end}/${rep.size}`
    if (chunked) headers['transfer-encoding'] = 'chunked'
    else headers['content-length'] = length
    log.status = range === null ? 200 : 206
    res.writeHead(log.status, headers)

    if (!isGet || length === 0) {
      res.end()
      return
    }
    await this.#sendBody(res, log, rep, start, length, chunked, signal)
  }

  async #sendBody (
    res: ServerResponse, log: OriginRequestLog, rep: Representation, start: number, length: number,
    chunked: boolean, signal: AbortSignal
  ): Promise<void> {
    const faultState = this.#faults.get(log.path)
    const fault = faultState?.fault ?? {}
    let limit = Infinity
    if (faultState !== undefined && fault.truncateAfter !== undefined &&
      faultState.truncated < (fault.truncateTimes ?? Infinity)) {
      faultState.truncated++
      limit = fault.truncateAfter
    }
    const changePending = (): boolean =>
      faultState !== undefined && !faultState.changed && fault.changeAfter !== undefined
    const onSent = (bytes: number): void => {
      log.bytesSent += bytes
      this.#bytesSent += bytes
      if (faultState === undefined) return
      faultState.sent += bytes
      if (changePending() && faultState.sent >= (fault.changeAfter ?? 0)) this.#change(log.path, faultState)
    }

    // In memory, no egress cap and nothing to inject: hand the whole slice to the socket in one go.
    if (rep.body instanceof Uint8Array && limit === Infinity && fault.rate === undefined && !changePending() &&
      !chunked && this.#egress === null) {
      res.end(rep.body.subarray(start, start + length))
      onSent(length)
      return
    }

    const source = rep.body instanceof Uint8Array
      ? [rep.body.subarray(start, start + length)]
      : createReadStream(rep.body.path, { start, end: start + length - 1, highWaterMark: READ_CHUNK })
    const egress = this.#egress
    const result = await pump(res, source, {
      limit,
      ...(fault.rate === undefined ? {} : { rate: fault.rate }),
      ...(egress === null ? {} : { grant: async (want, signal) => await egress.take(want, signal) }),
      untilMark: () => changePending() ? Math.max(1, (fault.changeAfter ?? 0) - (faultState?.sent ?? 0)) : Infinity,
      onSent,
      signal
    })
    if (result === 'done') {
      res.end()
    } else if (result === 'cut') {
      cut(res)
    } else {
      res.destroy()
    }
  }

  /** Swaps in `changeTo` as a new version, so it gets a new default ETag and Last-Modified. */
  #change (path: string, faultState: FaultState): void {
    faultState.changed = true
    const route = this.#routes.get(path)
    const data = faultState.fault.changeTo
    if (route?.kind !== 'file' || data === undefined) return
    const { etag, lastModified, ...rest } = route.file
    const file: OriginFile = { ...rest, data }
    delete file.file
    // Keep "send none" choices; drop fixed values, which would make the new content look unchanged.
    if (etag === null) file.etag = null
    if (lastModified === null) file.lastModified = null
    this.#routes.set(path, { kind: 'file', file, version: this.#nextVersion(path) })
  }
}

/** Starts a local HTTP origin for tests and benchmarks; close it with `close()`. */
export async function startOrigin (init: OriginInit = {}): Promise<Origin> {
  const host = init.host ?? '127.0.0.1'
  // Checked before the server listens, so a bad rate leaves nothing open.
  const egress = init.egressRate === undefined || init.egressRate === 0 ? null : new EgressLimiter(init.egressRate, init.egressSlice)
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const listening = (): void => {
      server.off('error', reject)
      resolve()
    }
    if (init.handle !== undefined) server.listen(init.handle, listening)
    else server.listen(init.port ?? 0, host, listening)
  })
  const { port } = server.address() as AddressInfo
  const hostPart = host.includes(':') ? `[${host}]` : host
  return new OriginServer(server, `http://${hostPart}:${port}`, egress)
}

async function represent (route: FileRoute): Promise<Representation> {
  const { file, version } = route
  const body = file.data ?? { path: file.file ?? '' }
  const size = body instanceof Uint8Array ? body.byteLength : (await stat(body.path)).size
  return {
    etag: file.etag === undefined ? `"${size}-v${version}"` : file.etag,
    lastModified: file.lastModified === undefined
      ? new Date(BASE_DATE + (version - 1) * 1000).toUTCString()
      : file.lastModified,
    size,
    body
  }
}

function validators (rep: Representation): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  if (rep.etag !== null) headers.etag = rep.etag
  if (rep.lastModified !== null) headers['last-modified'] = rep.lastModified
  return headers
}

/** Error, redirect and 416 answers carry no body, so `bytesSent` counts content bytes only. */
function emptyResponse (res: ServerResponse, log: OriginRequestLog, status: number, headers: OutgoingHttpHeaders = {}): void {
  log.status = status
  res.writeHead(status, { ...headers, 'content-length': 0 }).end()
}

/**
 * Ends the connection after what was written, short of the promised length. `end()` rather than `destroy()`: a
 * destroy could reset the connection and lose bytes the client has not read yet.
 */
function cut (res: ServerResponse): void {
  const socket = res.socket
  if (socket === null) {
    res.destroy()
    return
  }
  // Headers may still sit in the response (a cut at 0 bytes writes none of the body): send them first.
  res.flushHeaders()
  socket.end()
  setTimeout(() => socket.destroy(), CUT_REAP_MS).unref()
}

function headerOf (req: IncomingMessage, name: string): string | null {
  const value = req.headers[name]
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}

function normalizePath (path: string): string {
  return path.startsWith('/') ? path : `/${path}`
}
