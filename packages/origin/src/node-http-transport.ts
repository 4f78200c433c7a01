import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { AbortedError } from '@dopt/interface'
import { startDeadlines, transportUnavailable, type IdleTimer } from './idle-timer.js'
import type { BodySink, Exchange, ExchangeRequest, Transport, TransportSettings } from './transport.js'

/**
 * `https:` (and, where asked, `http:`) through node:http. Slower than the raw socket path, but it brings TLS and
 * keeps connections alive between requests, which saves a handshake per range.
 */
export class NodeHttpTransport implements Transport {
  readonly #settings: TransportSettings
  readonly #httpAgent = new HttpAgent({ keepAlive: true })
  readonly #httpsAgent = new HttpsAgent({ keepAlive: true })

  constructor (settings: TransportSettings) {
    this.#settings = settings
  }

  async open (request: ExchangeRequest): Promise<Exchange> {
    if (request.signal?.aborted === true) throw new AbortedError('request aborted', { url: request.url.href })
    const https = request.url.protocol === 'https:'
    const req = (https ? httpsRequest : httpRequest)(request.url, {
      method: request.method,
      agent: https ? this.#httpsAgent : this.#httpAgent,
      headers: { 'user-agent': this.#settings.userAgent, accept: '*/*', 'accept-encoding': 'identity', ...request.headers }
    })
    return await new NodeHttpExchange(req, request, this.#settings).opened
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

  constructor (req: ClientRequest, request: ExchangeRequest, settings: TransportSettings) {
    this.#req = req
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
    req.on('error', (err: Error) => { this.#fail(transportUnavailable(this.#url, `connection failed: ${err.message}`, err)) })
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
    res.on('error', (err: Error) => { this.#fail(transportUnavailable(this.#url, `connection failed: ${err.message}`, err)) })
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
    const complete = this.#res?.complete === true
    this.#phase = 'done'
    this.#cleanUp(!complete)
    this.#reading?.resolve()
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
