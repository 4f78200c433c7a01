import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions as HttpsAgentOptions } from 'node:https'
import { AbortedError, OriginProtocolError } from '@dopt/interface'
import { startDeadlines, transportUnavailable, type IdleTimer } from './idle-timer.js'
import { MAX_HEAD_SIZE } from './response-head.js'
import type { BodySink, Exchange, ExchangeRequest, Transport, TransportSettings } from './transport.js'

/** A response closed early with at most this much body left is read to its end, so that its connection is kept. */
const DRAIN_LIMIT = 64 * 1024
const DRAIN_MS = 1000

/** Idle connections kept per origin, as the raw socket path does. */
const MAX_FREE_SOCKETS = 8

/**
 * `http:` and `https:` through node:http/node:https: the alternative to the raw socket transport, which replaced it
 * as the default for `https:` once it carried TLS (it measured ~1.2x the throughput on 1 GiB; docs/benchmarks.md,
 * "origin-https"). Kept alive between requests, which saves a handshake per range. Its parser (llhttp, strict) refuses
 * what the raw path refuses: CR, LF or NUL in a header, a repeated Content-Length, Content-Length with
 * Transfer-Encoding, heads over MAX_HEAD_SIZE.
 */
export class NodeHttpTransport implements Transport {
  readonly #settings: TransportSettings
  readonly #httpAgent: HttpAgent
  readonly #httpsAgent: HttpsAgent
  /** Responses being read to their end after close() (at most DRAIN_MS each). */
  readonly #draining = new Set<Promise<void>>()

  /** `tls` adds options of `https.Agent` (a test's own CA). */
  constructor (settings: TransportSettings, tls: HttpsAgentOptions = {}) {
    this.#settings = settings
    const keepAlive = settings.keepAliveTimeout > 0
    // `timeout` is the idle time of a free socket (the agent destroys it then); sockets in use have our own timers.
    const agent = { keepAlive, maxFreeSockets: MAX_FREE_SOCKETS, ...(keepAlive ? { timeout: settings.keepAliveTimeout } : {}) }
    this.#httpAgent = new HttpAgent(agent)
    this.#httpsAgent = new HttpsAgent({ ...tls, ...agent })
  }

  close (): void {
    this.#httpAgent.destroy()
    this.#httpsAgent.destroy()
  }

  async open (request: ExchangeRequest): Promise<Exchange> {
    if (request.signal?.aborted === true) throw new AbortedError('request aborted', { url: request.url.href })
    // A response closed just before is still being read to its end; once it is, its connection is free for this.
    if (this.#draining.size > 0) await Promise.all(this.#draining)
    const https = request.url.protocol === 'https:'
    const req = (https ? httpsRequest : httpRequest)(request.url, {
      method: request.method,
      agent: https ? this.#httpsAgent : this.#httpAgent,
      maxHeaderSize: MAX_HEAD_SIZE,
      headers: { 'user-agent': this.#settings.userAgent, accept: '*/*', 'accept-encoding': 'identity', ...request.headers }
    })
    return await new NodeHttpExchange(req, request, this.#settings, drained => {
      this.#draining.add(drained)
      void drained.then(() => this.#draining.delete(drained))
    }).opened
  }
}

type Phase = 'head' | 'held' | 'body' | 'done'

class NodeHttpExchange implements Exchange {
  status = 0
  headers = new Map<string, string>()
  readonly opened: Promise<Exchange>
  readonly #req: ClientRequest
  readonly #url: string
  readonly #signal: AbortSignal | undefined
  readonly #idle: IdleTimer
  readonly #connectTimer: ReturnType<typeof setTimeout>
  #opening!: { resolve: (exchange: Exchange) => void, reject: (err: unknown) => void }
  #reading: { resolve: () => void, reject: (err: unknown) => void } | null = null
  #res: IncomingMessage | null = null
  #phase: Phase = 'head'
  #error: unknown = null
  #sinkBusy = false
  /** Body bytes received so far. */
  #received = 0
  readonly #method: string

  readonly #onDrain: (drained: Promise<void>) => void

  constructor (req: ClientRequest, request: ExchangeRequest, settings: TransportSettings, onDrain: (drained: Promise<void>) => void) {
    this.#req = req
    this.#onDrain = onDrain
    this.#method = request.method
    this.#url = request.url.href
    this.#signal = request.signal
    this.opened = new Promise((resolve, reject) => { this.#opening = { resolve, reject } })
    ;({ idle: this.#idle, connectTimer: this.#connectTimer } = startDeadlines(this.#url, settings, err => { this.#fail(err) }))
    req.on('socket', socket => {
      socket.setNoDelay(true)
      // A socket reused from the pool is connected already.
      if (!socket.connecting) this.#onConnect()
      else socket.once(request.url.protocol === 'https:' ? 'secureConnect' : 'connect', this.#onConnect)
      socket.on('data', this.#touch)
    })
    req.on('response', this.#onResponse)
    req.on('error', (err: Error) => { this.#fail(requestError(this.#url, err)) })
    this.#signal?.addEventListener('abort', this.#onAbort)
    req.end()
  }

  read (sink: BodySink): Promise<void> {
    const res = this.#res
    if (this.#phase === 'done' || res === null) {
      return this.#error === null ? Promise.resolve() : Promise.reject(this.#error)
    }
    if (this.#phase !== 'held') return Promise.reject(new Error('the body is read once'))
    this.#phase = 'body'
    const reading = new Promise<void>((resolve, reject) => { this.#reading = { resolve, reject } })
    res.on('data', (chunk: Buffer) => {
      if (this.#phase !== 'body') return
      let result: void | Promise<void>
      try {
        this.#received += chunk.length
        result = sink(chunk)
      } catch (err) {
        this.#fail(err)
        return
      }
      if (result === undefined || this.#phase !== 'body') return
      res.pause()
      this.#idle.stop()
      this.#sinkBusy = true
      result.then(() => {
        this.#sinkBusy = false
        if (this.#phase !== 'body') return
        if (res.readableEnded) {
          this.#end(res)
          return
        }
        this.#idle.start()
        res.resume()
      }, (err: unknown) => { this.#fail(err) })
    })
    // 'end' can come while the sink still works on the last chunk: the body is only read once that settles.
    res.on('end', () => { if (!this.#sinkBusy) this.#end(res) })
    res.on('error', (err: Error) => { this.#fail(requestError(this.#url, err)) })
    res.on('close', () => { if (!res.complete) this.#end(res) })
    this.#idle.start()
    res.resume()
    return reading
  }

  #end (res: IncomingMessage): void {
    if (res.complete) this.close()
    else this.#fail(transportUnavailable(this.#url, 'connection closed before the end of the body'))
  }

  close (): void {
    if (this.#phase === 'done') return
    const res = this.#res
    this.#phase = 'done'
    this.#cleanUp(false)
    if (res !== null && !res.readableEnded) this.#drain(res)
    this.#reading?.resolve()
  }

  /**
   * Lets the agent keep the connection after a close() before the response was read to its end, when all that is
   * left is little: nothing after a HEAD, the last bytes of a Content-Length, the end of a chunked body. It is read
   * and dropped, for at most DRAIN_MS (the connection is free once the response ends); a longer rest costs more than
   * a new connection, which it gets instead.
   */
  #drain (res: IncomingMessage): void {
    const length = res.headers['content-length']
    const left = res.complete || this.#method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304
      ? 0
      : length !== undefined ? Number(length) - this.#received : res.headers['transfer-encoding'] !== undefined ? 0 : Infinity
    if (!(left <= DRAIN_LIMIT)) {
      this.#req.destroy()
      return
    }
    this.#onDrain(new Promise<void>(resolve => {
      const timer = setTimeout(() => { this.#req.destroy(); resolve() }, DRAIN_MS)
      timer.unref()
      const done = (): void => { clearTimeout(timer); setImmediate(resolve) }
      res.once('end', done)
      res.once('close', done)
      res.on('error', () => {})
      res.resume()
    }))
  }

  readonly #onResponse = (res: IncomingMessage): void => {
    if (this.#phase !== 'head') return
    res.pause()
    this.#res = res
    this.status = res.statusCode ?? 0
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) this.headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    }
    this.#phase = 'held'
    this.#idle.stop()
    this.#opening.resolve(this)
  }

  readonly #onConnect = (): void => {
    clearTimeout(this.#connectTimer)
    if (this.#phase === 'head') this.#idle.start()
  }

  readonly #touch = (): void => { this.#idle.touch() }

  readonly #onAbort = (): void => {
    this.#fail(new AbortedError('request aborted', { url: this.#url }))
  }

  #fail (err: unknown): void {
    if (this.#phase === 'done') return
    const opened = this.#phase !== 'head'
    this.#phase = 'done'
    this.#error = err
    this.#cleanUp(true)
    if (!opened) this.#opening.reject(err)
    else this.#reading?.reject(err)
  }

  /** Destroys the connection unless the response ended cleanly, so that only clean sockets go back to the pool. */
  #cleanUp (destroy: boolean): void {
    clearTimeout(this.#connectTimer)
    this.#idle.stop()
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#req.socket?.off('data', this.#touch)
    if (destroy) this.#req.destroy()
  }

}

/** llhttp's parse errors (`HPE_*`) are the origin breaking HTTP, not a connection worth retrying. */
function requestError (url: string, err: Error): Error {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return new OriginProtocolError(`malformed response: ${err.message}`, { context: 'remote-file', url, cause: err })
  }
  return transportUnavailable(url, `connection failed: ${err.message}`, err)
}
