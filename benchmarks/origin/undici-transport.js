// An @dopt/origin Transport on undici (a devDependency, for the origin benchmark only): the same Exchange contract
// as net-transport.ts - the head first, then the body to a sink that may return a promise (backpressure) - over
// undici's Agent (keep-alive pool) and its dispatch API (the lowest-overhead way to use it: no Readable streams).
import { Agent } from 'undici'
import { AbortedError, OriginProtocolError, OriginUnavailableError } from '../../packages/interface/dist/index.js'

/** A response closed early with at most this much body left is read to its end, so that its connection is kept. */
const DRAIN_LIMIT = 64 * 1024

export class UndiciTransport {
  #settings
  #agent

  constructor (settings) {
    this.#settings = settings
    this.#agent = new Agent({
      keepAliveTimeout: Math.max(1, settings.keepAliveTimeout),
      pipelining: settings.keepAliveTimeout > 0 ? 1 : 0,
      connect: { timeout: settings.connectTimeout },
      headersTimeout: settings.idleTimeout,
      bodyTimeout: settings.idleTimeout,
      maxHeaderSize: 64 * 1024
    })
  }

  async open (request) {
    if (request.signal?.aborted === true) throw new AbortedError('request aborted', { url: request.url.href })
    return await new UndiciExchange(request, this.#settings, this.#agent).opened
  }

  close () {
    void this.#agent.close().catch(() => {})
  }
}

class UndiciExchange {
  status = 0
  headers = new Map()
  opened
  #url
  #signal
  #controller = null
  #opening
  #reading = null
  #sink = null
  #phase = 'head'
  #error = null
  #ended = false
  #left = Infinity
  #method

  constructor (request, settings, agent) {
    const { url } = request
    this.#url = url.href
    this.#method = request.method
    this.#signal = request.signal
    this.opened = new Promise((resolve, reject) => { this.#opening = { resolve, reject } })
    this.#signal?.addEventListener('abort', this.#onAbort)
    agent.dispatch({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers: { 'user-agent': settings.userAgent, accept: '*/*', 'accept-encoding': 'identity', ...request.headers }
    }, this)
  }

  onRequestStart (controller) {
    this.#controller = controller
  }

  onResponseStart (controller, statusCode, headers) {
    if (statusCode < 200 || this.#phase !== 'head') return
    this.status = statusCode
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) this.headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value))
    }
    const length = this.headers.get('content-length')
    this.#left = this.#method === 'HEAD' ? 0 : length !== undefined ? Number(length) : Infinity
    controller.pause()
    this.#phase = 'held'
    this.#opening.resolve(this)
  }

  onResponseData (controller, chunk) {
    this.#left -= chunk.length
    if (this.#phase !== 'body') return
    let result
    try {
      result = this.#sink(chunk)
    } catch (err) {
      this.#fail(err)
      return
    }
    if (result === undefined || this.#phase !== 'body') return
    controller.pause()
    result.then(() => { if (this.#phase === 'body') controller.resume() }, err => { this.#fail(err) })
  }

  onResponseEnd () {
    this.#ended = true
    if (this.#phase === 'done') return
    this.close()
  }

  onResponseError (_controller, err) {
    this.#ended = true
    const code = err?.code ?? ''
    const failure = code === 'UND_ERR_INFO' || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_HEADERS_OVERFLOW'
      ? new OriginProtocolError(`malformed response: ${err.message}`, { context: 'remote-file', url: this.#url, cause: err })
      : new OriginUnavailableError(`connection failed: ${err.message}`, { context: 'general-transport', url: this.#url, cause: err })
    this.#fail(failure)
  }

  read (sink) {
    if (this.#phase === 'done') return this.#error === null ? Promise.resolve() : Promise.reject(this.#error)
    if (this.#phase !== 'held') return Promise.reject(new Error('the body is read once'))
    this.#phase = 'body'
    this.#sink = sink
    const reading = new Promise((resolve, reject) => { this.#reading = { resolve, reject } })
    this.#controller.resume()
    return reading
  }

  close () {
    if (this.#phase === 'done') return
    const wasHead = this.#phase === 'head'
    this.#phase = 'done'
    this.#signal?.removeEventListener('abort', this.#onAbort)
    if (!this.#ended) {
      // A short rest is read and dropped so that undici keeps the connection; else the connection goes.
      if (!wasHead && this.#left <= DRAIN_LIMIT) this.#controller?.resume()
      else this.#controller?.abort(new Error('closed'))
    }
    this.#reading?.resolve()
  }

  #onAbort = () => {
    this.#fail(new AbortedError('request aborted', { url: this.#url }))
  }

  #fail (err) {
    if (this.#phase === 'done') return
    const opened = this.#phase !== 'head'
    this.#phase = 'done'
    this.#error = err
    this.#signal?.removeEventListener('abort', this.#onAbort)
    if (!this.#ended) this.#controller?.abort(err)
    if (!opened) this.#opening.reject(err)
    else this.#reading?.reject(err)
  }
}
