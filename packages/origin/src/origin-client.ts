import {
  AbortedError, ContentChangedError, HttpStatusError, InvalidArgumentError, InvalidUrlError, OriginProtocolError,
  OriginUnavailableError, SizeMismatchError
} from '@dopt/interface'
import type { AbortOptions, DoptError } from '@dopt/interface'
import { NetTransport } from './net-transport.js'
import { RangeDelivery, SinkFailure, type RangeProgress } from './range-delivery.js'
import { checkHeaderValue } from './request-head.js'
import {
  hasChanged, ifRangeValue, parseContentRange, remoteInfo, sizeOfFull, validatorOf
} from './remote-info.js'
import { Backoff, sleep } from './retry.js'
import type { Exchange, Transport, TransportSettings } from './transport.js'
import type { FetchRangeOptions, OriginClient, OriginClientInit, RemoteInfo } from './types.js'

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Which transport carries which scheme; the raw socket path for both unless a test says otherwise. */
export interface OriginTransports {
  http: Transport
  https: Transport
}

/** Creates an origin client: HEAD and ranged GETs, with redirects, If-Range and resuming retries. */
export function createOriginClient (init: OriginClientInit = {}): OriginClient {
  return new DefaultOriginClient(init)
}

export class DefaultOriginClient implements OriginClient {
  readonly #maxRedirects: number
  readonly #retries: number
  readonly #retryDelay: number
  readonly #maxRetryAfter: number
  readonly #transports: OriginTransports

  constructor (init: OriginClientInit = {}, transports?: (settings: TransportSettings) => OriginTransports) {
    const settings: TransportSettings = {
      userAgent: init.userAgent ?? 'dopt/0.1',
      connectTimeout: nonNegative('connectTimeout', init.connectTimeout ?? 10_000),
      idleTimeout: nonNegative('idleTimeout', init.idleTimeout ?? 30_000),
      keepAliveTimeout: nonNegative('keepAliveTimeout', init.keepAliveTimeout ?? 4_000)
    }
    checkHeaderValue('user-agent', settings.userAgent)
    this.#maxRedirects = nonNegative('maxRedirects', init.maxRedirects ?? 10)
    this.#retries = nonNegative('retries', init.retries ?? 3)
    this.#retryDelay = nonNegative('retryDelay', init.retryDelay ?? 250)
    this.#maxRetryAfter = nonNegative('maxRetryAfter', init.maxRetryAfter ?? 30_000)
    this.#transports = transports?.(settings) ?? defaultTransports(settings)
  }

  async head (url: string, options: AbortOptions = {}): Promise<RemoteInfo> {
    const target = parseUrl(url)
    return await this.#retrying(target, options.signal, () => false, async () => await this.#headOnce(target, options.signal))
  }

  close (): void {
    this.#transports.http.close?.()
    this.#transports.https.close?.()
  }

  async fetchRange (url: string, options: FetchRangeOptions): Promise<RemoteInfo> {
    const target = parseUrl(url)
    const { start, end, size, signal } = options
    if (!Number.isSafeInteger(start) || start < 0) throw new InvalidArgumentError('start must be an integer >= 0')
    if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
      throw new InvalidArgumentError('end must be an integer >= start')
    }
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      throw new InvalidArgumentError('size must be an integer >= 0')
    }
    if (end === start) return await this.head(url, { signal })
    const progress: RangeProgress = { next: start, validator: options.validator ?? null }
    let result: RemoteInfo | null = null
    let before = start
    while (result === null) {
      result = await this.#retrying(target, signal, () => progress.next > before, async () => {
        before = progress.next
        return await this.#fetchOnce(target, progress, options)
      })
    }
    return result
  }

  /** Runs `attempt` until it succeeds, retrying transient failures; progress in an attempt resets the count. */
  async #retrying<T>(url: URL, signal: AbortSignal | undefined, progressed: () => boolean,
    attempt: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(this.#retries, this.#retryDelay)
    for (;;) {
      if (isAborted(signal)) throw new AbortedError('request aborted', { url: url.href })
      try {
        return await attempt()
      } catch (err) {
        if (err instanceof SinkFailure) throw err.error
        if (isAborted(signal)) throw new AbortedError('request aborted', { url: url.href, cause: err })
        if (!(err instanceof OriginUnavailableError)) throw err
        if (progressed()) backoff.reset()
        const delay = backoff.fail()
        if (delay === null) throw err
        // The origin said when to come back (503/429 Retry-After): not sooner; and if that is far off, the job's
        // own retry delay is the better wait.
        const asked = retryAfters.get(err)
        if (asked !== undefined && asked > this.#maxRetryAfter) throw err
        await sleep(Math.max(delay, asked ?? 0), signal, url.href)
      }
    }
  }

  async #headOnce (url: URL, signal: AbortSignal | undefined): Promise<RemoteInfo> {
    const { exchange, url: final } = await this.#open(url, 'HEAD', {}, signal)
    exchange.close()
    const { status, headers } = exchange
    // 405/501: no HEAD here. 403: URLs signed for one method (S3 and CloudFront presigned GETs) refuse HEAD; the
    // probe's own answer decides (a 403 to the GET too is the real refusal).
    if (status === 405 || status === 501 || status === 403) return await this.#probe(url, signal)
    if (status < 200 || status > 299) throw statusError(status, final, headers)
    const info = remoteInfo(final, headers, sizeOfFull(headers), false)
    // A size of 0 is confirmed by a GET: origins answer HEAD with `Content-Length: 0` for files that are not empty,
    // and a 0 believed would deliver an empty file after no request at all.
    if (info.size !== null && info.size !== 0) return info
    try {
      return await this.#probe(url, signal)
    } catch (err) {
      // The probe only hoped to learn the size; a transient failure is retried, a refusal leaves it unknown.
      if (err instanceof OriginUnavailableError || err instanceof AbortedError) throw err
      return info
    }
  }

  /** A 1-byte ranged GET, for origins that refuse HEAD or leave the size out of it. */
  async #probe (url: URL, signal: AbortSignal | undefined): Promise<RemoteInfo> {
    const { exchange, url: final } = await this.#open(url, 'GET', { range: 'bytes=0-0' }, signal)
    exchange.close()
    const { status, headers } = exchange
    if (status === 200) return remoteInfo(final, headers, sizeOfFull(headers), false)
    if (status === 206 || status === 416) {
      // A 416 to bytes=0-0 means an empty file (Content-Range: bytes */0).
      return remoteInfo(final, headers, parseContentRange(headers.get('content-range'))?.size ?? null, true)
    }
    throw statusError(status, final, headers)
  }

  /**
   * One request for the undelivered rest of the range. Returns the file's info once the range is complete, or
   * null when the origin sent a shorter part than asked for (then the caller asks for the rest).
   */
  async #fetchOnce (url: URL, progress: RangeProgress, options: FetchRangeOptions): Promise<RemoteInfo | null> {
    const { end, signal } = options
    const next = progress.next
    const headers: Record<string, string> = {}
    const ranged = next > 0 || end !== undefined
    if (ranged) {
      headers.range = `bytes=${next}-${end === undefined ? '' : end - 1}`
      const ifRange = ifRangeValue(progress.validator)
      if (ifRange !== null) headers['if-range'] = ifRange
    }
    const { exchange, url: final } = await this.#open(url, 'GET', headers, signal)
    try {
      const { status } = exchange
      if (status === 200 || status === 206) {
        if (hasChanged(progress.validator, exchange.headers)) {
          throw new ContentChangedError('the remote file changed (ETag or Last-Modified)', {
            context: 'remote-file', url: final.href, httpStatus: status
          })
        }
        // After the validators: a file that changed is CONTENT_CHANGED, whatever its new size.
        checkSize(exchange, final, options.size)
        progress.validator ??= validatorOf(exchange.headers)
        return status === 206
          ? await this.#readPartial(exchange, final, progress, end, options)
          : await this.#readFull(exchange, final, progress, end, options)
      }
      if (status === 416) {
        const size = parseContentRange(exchange.headers.get('content-range'))?.size
        if (options.size !== undefined && size != null && size !== options.size) {
          throw sizeMismatch(`range ${headers.range ?? ''} is not satisfiable: the file has ${size} bytes, not ${options.size}`, final, status, options.size, size)
        }
        // Nothing is left past the end of the file (e.g. a resume that had everything already).
        if (end === undefined && size === next) return remoteInfo(final, exchange.headers, size, true)
        throw protocolError(`range ${headers.range ?? ''} is not satisfiable (size ${size ?? 'unknown'})`, final, status)
      }
      throw statusError(status, final, exchange.headers)
    } finally {
      exchange.close()
    }
  }

  async #readPartial (exchange: Exchange, url: URL, progress: RangeProgress, end: number | undefined,
    options: FetchRangeOptions): Promise<RemoteInfo | null> {
    const range = parseContentRange(exchange.headers.get('content-range'))
    if (range?.first == null || range.last == null) throw protocolError('206 without a valid Content-Range', url, 206)
    if (range.first !== progress.next) {
      throw protocolError(`asked for bytes from ${progress.next}, got ${range.first}`, url, 206)
    }
    if (end !== undefined && range.size !== null && end > range.size) {
      throw protocolError(`range end ${end} is beyond the size ${range.size}`, url, 206)
    }
    const length = exchange.headers.has('transfer-encoding') ? null : sizeOfFull(exchange.headers)
    if (length !== null && length !== range.last - range.first + 1) {
      throw protocolError(`Content-Length ${length} disagrees with Content-Range ${range.first}-${range.last}`, url, 206)
    }
    const limit = end ?? Infinity
    const delivery = new RangeDelivery(exchange, range.first, progress, limit, options.onData)
    await exchange.read(delivery.push)
    if (progress.next >= limit) return remoteInfo(url, exchange.headers, range.size, true)
    if (delivery.position !== range.last + 1) {
      throw protocolError(`the body ended at ${delivery.position}, Content-Range said ${range.last + 1}`, url, 206)
    }
    if (end === undefined && range.size !== null && progress.next >= range.size) {
      return remoteInfo(url, exchange.headers, range.size, true)
    }
    return null
  }

  async #readFull (exchange: Exchange, url: URL, progress: RangeProgress, end: number | undefined,
    options: FetchRangeOptions): Promise<RemoteInfo> {
    const size = sizeOfFull(exchange.headers)
    if (end !== undefined && size !== null && end > size) {
      throw protocolError(`range end ${end} is beyond the size ${size}`, url, 200)
    }
    // A 200 to a ranged request with the same validators: the origin ignores ranges; skip what was delivered.
    const limit = end ?? Infinity
    // A body of no stated length that should end with the file is read one byte further: it must end there.
    const expected = options.size
    const readTo = size === null && expected !== undefined && end === expected ? end + 1 : limit
    const delivery = new RangeDelivery(exchange, 0, progress, limit, options.onData, readTo)
    await exchange.read(delivery.push)
    if (expected !== undefined && delivery.position > expected) {
      throw sizeMismatch(`the body goes on past ${expected} bytes, the size in use`, url, 200, expected, undefined)
    }
    if (end !== undefined && progress.next < end) {
      if (expected !== undefined && size === null && delivery.position < expected) {
        throw sizeMismatch(`the file ended at ${delivery.position}, before the size in use ${expected}`, url, 200, expected, delivery.position)
      }
      throw protocolError(`the file ended at ${progress.next}, before the range end ${end}`, url, 200)
    }
    return remoteInfo(url, exchange.headers, size, false)
  }

  /** Sends a request and follows redirects; the caller closes the returned exchange. */
  async #open (url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, signal: AbortSignal | undefined):
  Promise<{ exchange: Exchange, url: URL }> {
    // Values written into the request, some of them the origin's own (an ETag as If-Range): never a CR or LF.
    for (const [name, value] of Object.entries(headers)) checkHeaderValue(name, value, url.href)
    let current = url
    for (let hops = 0; ; hops++) {
      const transport = current.protocol === 'https:' ? this.#transports.https : this.#transports.http
      const exchange = await transport.open({ method, url: current, headers, signal })
      if (!REDIRECTS.has(exchange.status)) return { exchange, url: current }
      exchange.close()
      const location = exchange.headers.get('location')
      if (location === undefined) throw protocolError('redirect without Location', current, exchange.status)
      if (hops >= this.#maxRedirects) {
        throw protocolError(`more than ${this.#maxRedirects} redirects`, current, exchange.status)
      }
      let target: URL
      try {
        target = new URL(location, current)
      } catch (err) {
        throw protocolError(`invalid redirect Location: ${location}`, current, exchange.status, err)
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') {
        throw protocolError(`redirect to a non-HTTP URL: ${target.protocol}`, current, exchange.status)
      }
      target.hash = ''
      current = target
    }
  }
}

/**
 * The raw socket transport for both schemes (TLS through `node:tls`): measured against node:https on 1 GiB, ~1.2x
 * the throughput at less CPU (docs/benchmarks.md, "origin-https"); node:http stays as the alternative.
 */
function defaultTransports (settings: TransportSettings): OriginTransports {
  const transport = new NetTransport(settings)
  return { http: transport, https: transport }
}

function parseUrl (url: string): URL {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new InvalidUrlError(`invalid URL: ${url}`, { url, cause: err })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidUrlError(`not an http(s) URL: ${url}`, { url })
  }
  parsed.hash = ''
  return parsed
}

/** Milliseconds a 503/429 asked us to wait (its Retry-After), by error. */
const retryAfters = new WeakMap<Error, number>()

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 10.2.3), in milliseconds from now; undefined if neither. */
export function parseRetryAfter (value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** The error for a status that is neither success nor redirect: 5xx, 408 and 429 pass; other 4xx will not. */
function statusError (status: number, url: URL, headers?: ReadonlyMap<string, string>): DoptError {
  const options = { context: 'remote-file' as const, httpStatus: status, url: url.href }
  if (status >= 500 || status === 408 || status === 429) {
    const err = new OriginUnavailableError(`the origin answered ${status}`, options)
    const after = status === 503 || status === 429 ? parseRetryAfter(headers?.get('retry-after')) : undefined
    if (after !== undefined) retryAfters.set(err, after)
    return err
  }
  if (status >= 400) return new HttpStatusError(`the origin answered ${status}`, options)
  return new OriginProtocolError(`unexpected status ${status}`, options)
}

/**
 * Fails a 200 or 206 whose size is not `size`, the one the caller uses: a 206's Content-Range total, a 200's
 * Content-Length (or a 206 of unknown total reaching past it). Checked before any byte is delivered.
 */
function checkSize (exchange: Exchange, url: URL, size: number | undefined): void {
  if (size === undefined) return
  const { status, headers } = exchange
  if (status === 206) {
    const range = parseContentRange(headers.get('content-range'))
    if (range?.size != null && range.size !== size) {
      throw sizeMismatch(`Content-Range ${headers.get('content-range') ?? ''} gives ${range.size} bytes, the size in use is ${size}`, url, status, size, range.size)
    }
    if (range != null && range.size === null && range.last != null && range.last >= size) {
      throw sizeMismatch(`Content-Range ${headers.get('content-range') ?? ''} reaches past the size in use ${size}`, url, status, size, undefined)
    }
    return
  }
  const full = sizeOfFull(headers)
  if (full !== null && full !== size) {
    throw sizeMismatch(`Content-Length ${full} of the whole file, the size in use is ${size}`, url, status, size, full)
  }
}

function sizeMismatch (message: string, url: URL, status: number, expectedSize: number, actualSize: number | undefined): SizeMismatchError {
  return new SizeMismatchError(message, { context: 'remote-file', url: url.href, httpStatus: status, expectedSize, actualSize })
}

function protocolError (message: string, url: URL, status: number, cause?: unknown): OriginProtocolError {
  return new OriginProtocolError(message, { context: 'remote-file', url: url.href, httpStatus: status, cause })
}

function isAborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function nonNegative (name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${name} must be a number >= 0`)
  return value
}
