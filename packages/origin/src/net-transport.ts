import type { ConnectionOptions } from 'node:tls'
import { AbortedError } from '@dopt/interface'
import { framerFor, LengthFramer, type BodyFramer } from './body-framing.js'
import { ConnectionPool, type Connection, type ConnectionUser } from './connection-pool.js'
import { startDeadlines, transportUnavailable, type IdleTimer } from './idle-timer.js'
import { requestHead } from './request-head.js'
import { HeadReader, type ResponseHead } from './response-head.js'
import type { BodySink, Exchange, ExchangeRequest, Transport, TransportSettings } from './transport.js'

/**
 * `http:` over raw `node:net` sockets and `https:` over `node:tls` ones, kept alive between requests in a small pool
 * per origin: the ranged GETs of a file, and the files of one origin, share connections instead of paying a
 * (TLS) handshake each.
 */
export class NetTransport implements Transport {
  readonly #settings: TransportSettings
  readonly #pool: ConnectionPool
  readonly #tls: ConnectionOptions

  /** `tls` adds options of `tls.connect` (a test's own CA). */
  constructor (settings: TransportSettings, tls: ConnectionOptions = {}) {
    this.#settings = settings
    this.#tls = tls
    this.#pool = new ConnectionPool({ idleTimeout: settings.keepAliveTimeout })
  }

  async open (request: ExchangeRequest): Promise<Exchange> {
    if (request.signal?.aborted === true) throw new AbortedError('request aborted', { url: request.url.href })
    const tls = request.url.protocol === 'https:' ? this.#tls : null
    const first = new NetExchange(request, this.#settings, this.#pool, tls, true)
    try {
      return await first.opened
    } catch (err) {
      // A kept-alive connection the server closed as we wrote to it: GET and HEAD are safe to send again, once,
      // on a new connection. That is no failure of the origin's, so it costs no retry.
      if (!first.retryable) throw err
      return await new NetExchange(request, this.#settings, this.#pool, tls, false).opened
    }
  }

  close (): void {
    this.#pool.close()
  }

  /** Idle connections in the pool, for tests. */
  get idleConnections (): number {
    return this.#pool.idleCount
  }
}

type Phase = 'head' | 'held' | 'body' | 'done'

interface Settle { resolve: () => void, reject: (err: unknown) => void }

/** Bytes of the read buffer not yet looked at: body bytes while the socket is paused, or what follows a body. */
interface Rest { buf: Buffer, pos: number, len: number }

class NetExchange implements Exchange, ConnectionUser {
  status = 0
  headers = new Map<string, string>()
  readonly opened: Promise<Exchange>
  /** True when the exchange failed on a reused connection before any byte of its answer: send it again. */
  retryable = false
  readonly #method: string
  readonly #url: string
  readonly #signal: AbortSignal | undefined
  readonly #pool: ConnectionPool
  readonly #connection: Connection
  readonly #idle: IdleTimer
  readonly #connectTimer: ReturnType<typeof setTimeout>
  readonly #heads: HeadReader
  #head: ResponseHead | null = null
  #opening!: { resolve: (exchange: Exchange) => void, reject: (err: unknown) => void }
  #reading: Settle | null = null
  #phase: Phase = 'head'
  #opened = false
  #ended = false
  #error: unknown = null
  #framer: BodyFramer = new LengthFramer(0)
  /** Body bytes still in the read buffer (or copied out of it) while the socket is paused. */
  #held: Rest | null = null
  /** Reads that came while paused (TLS only: see Connection), in order, in buffers set aside for them. */
  readonly #queued: Rest[] = []
  /** While the sink runs: the bytes after its chunk, so that a close() from inside the sink can account for them. */
  #after: Rest | null = null
  #sink: BodySink | null = null

  constructor (request: ExchangeRequest, settings: TransportSettings, pool: ConnectionPool, tls: ConnectionOptions | null,
    reuse: boolean) {
    const { url } = request
    this.#method = request.method
    this.#url = url.href
    this.#signal = request.signal
    this.#pool = pool
    this.#heads = new HeadReader(this.#url)
    this.opened = new Promise((resolve, reject) => { this.#opening = { resolve, reject } })
    // Checked before a connection is taken: an unsafe header value must not cost one.
    const head = requestHead(request, settings.userAgent)
    ;({ idle: this.#idle, connectTimer: this.#connectTimer } = startDeadlines(this.#url, settings, err => { this.#fail(err) }))
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const port = url.port !== '' ? Number(url.port) : tls === null ? 80 : 443
    this.#connection = pool.acquire(host, port, tls, this, reuse)
    this.#signal?.addEventListener('abort', this.#onAbort)
    const socket = this.#connection.socket
    socket.write(head, 'latin1')
    if (this.#connection.connected) {
      this.onConnect()
      socket.resume()
    }
  }

  read (sink: BodySink): Promise<void> {
    if (this.#phase === 'done') {
      return this.#error === null ? Promise.resolve() : Promise.reject(this.#error)
    }
    if (this.#phase !== 'held') return Promise.reject(new Error('the body is read once'))
    this.#phase = 'body'
    this.#sink = sink
    const reading = new Promise<void>((resolve, reject) => { this.#reading = { resolve, reject } })
    this.#continue()
    return reading
  }

  /** Ends the exchange: the connection goes back to the pool if the response ended exactly here, else it is closed. */
  close (): void {
    if (this.#phase === 'done') return
    const rest = this.#held ?? this.#after
    this.#phase = 'done'
    const unread = [...(rest === null ? [] : [rest]), ...this.#queued]
    this.#finish(this.#reusable(unread))
    this.#reading?.resolve()
  }

  /** Whether the connection can carry another request: the whole body read, nothing after it, and reuse allowed. */
  #reusable (unread: Rest[]): boolean {
    const head = this.#head
    if (head === null || this.#ended || this.#framer.endsAtClose) return false
    if (head.minor !== 1 || hasToken(head.headers.get('connection'), 'close')) return false
    // The end of the body may have arrived already (the last chunk's CRLF, a chunked body's last-chunk line).
    for (const rest of unread) {
      let pos = rest.pos
      while (!this.#framer.finished && pos < rest.len) {
        try {
          pos = this.#framer.take(rest.buf, pos, rest.len)
        } catch {
          return false
        }
        if (this.#framer.dataEnd > this.#framer.dataStart) return false
      }
      if (pos < rest.len) return false
    }
    return this.#framer.finished
  }

  onRead (buf: Buffer, n: number): boolean {
    if (this.#phase === 'done') return false
    this.#idle.touch()
    if (this.#phase === 'head') return this.#readHead(buf, n)
    if (this.#phase === 'held' || this.#held !== null) {
      // Paused, and still called: the rest of a TLS read (see Connection). Kept, in order, for #continue.
      this.#connection.retain()
      this.#queued.push({ buf, pos: 0, len: n })
      return false
    }
    return this.#feed(buf, 0, n)
  }

  /** Keeps `buf[pos, len)` (and the chunk the sink may still read) while paused. */
  #hold (buf: Buffer, pos: number, len: number): void {
    this.#connection.retain()
    this.#held = { buf, pos, len }
  }

  #readHead (buf: Buffer, len: number): boolean {
    let bodyPos: number
    try {
      bodyPos = this.#heads.read(buf, 0, len)
      if (bodyPos < 0) return true
      const head = this.#heads.head as ResponseHead
      this.#head = head
      this.status = head.status
      this.headers = head.headers
      this.#framer = framerFor(this.#method, head.status, head.headers, this.#url)
    } catch (err) {
      this.#fail(err)
      return false
    }
    // Wait, paused, for the caller to look at the head and ask for the body.
    this.#phase = 'held'
    if (bodyPos < len) this.#hold(buf, bodyPos, len)
    this.#idle.stop()
    this.#opened = true
    this.#opening.resolve(this)
    return false
  }

  /** Hands body bytes to the sink; returns whether the socket should keep reading. */
  #feed (buf: Buffer, pos: number, len: number): boolean {
    const framer = this.#framer
    const sink = this.#sink as BodySink
    for (;;) {
      if (framer.finished) {
        this.#after = pos < len ? { buf, pos, len } : null
        this.close()
        return false
      }
      if (pos >= len) return true
      let result: void | Promise<void>
      try {
        pos = framer.take(buf, pos, len)
        if (framer.dataEnd === framer.dataStart) continue
        this.#after = { buf, pos, len }
        result = sink(buf.subarray(framer.dataStart, framer.dataEnd))
        this.#after = null
      } catch (err) {
        this.#after = null
        this.#fail(err)
        return false
      }
      if (this.#phase === 'done') return false
      if (result !== undefined) {
        // Backpressure: leave the rest in the (paused) read buffer until the sink is ready again.
        this.#hold(buf, pos, len)
        this.#idle.stop()
        result.then(() => { this.#continue() }, (err: unknown) => { this.#fail(err) })
        return false
      }
    }
  }

  /** Feeds held bytes, then resumes reading the socket if the body goes on. */
  #continue (): void {
    if (this.#phase !== 'body') return
    const held = this.#held
    this.#held = null
    if (held !== null && !this.#feed(held.buf, held.pos, held.len)) return
    for (let next = this.#queued.shift(); next !== undefined; next = this.#queued.shift()) {
      if (!this.#feed(next.buf, next.pos, next.len)) return
    }
    if (this.#framer.finished) {
      this.close()
    } else if (this.#ended) {
      this.onEnd()
    } else {
      this.#idle.start()
      this.#connection.socket.resume()
    }
  }

  onConnect (): void {
    clearTimeout(this.#connectTimer)
    if (this.#phase === 'head') this.#idle.start()
  }

  onError (err: Error): void {
    this.#lostEarly()
    this.#fail(transportUnavailable(this.#url, `connection failed: ${err.message}`, err))
  }

  onEnd (): void {
    if (this.#phase === 'done') return
    this.#ended = true
    // With bytes held back, the end is dealt with once they are read.
    if (this.#phase === 'held' || this.#held !== null) return
    if (this.#phase === 'head') {
      this.#lostEarly()
      const where = this.#heads.started ? 'inside the response head' : 'before the response'
      this.#fail(transportUnavailable(this.#url, `connection closed ${where}`))
    } else if (this.#framer.endsAtClose) {
      this.close()
    } else if (!this.#framer.finished) {
      this.#fail(transportUnavailable(this.#url, 'connection closed before the end of the body'))
    }
  }

  /** A reused connection lost before any byte of the answer: the server closed it as the request went out. */
  #lostEarly (): void {
    if (this.#phase === 'head' && this.#connection.uses > 0 && !this.#heads.started) this.retryable = true
  }

  readonly #onAbort = (): void => {
    this.#fail(new AbortedError('request aborted', { url: this.#url }))
  }

  #fail (err: unknown): void {
    if (this.#phase === 'done') return
    this.#phase = 'done'
    this.#error = err
    this.#finish(false)
    if (!this.#opened) this.#opening.reject(err)
    else this.#reading?.reject(err)
  }

  #finish (reuse: boolean): void {
    clearTimeout(this.#connectTimer)
    this.#idle.stop()
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#held = null
    this.#after = null
    if (reuse) this.#pool.release(this.#connection, keepAliveHint(this.#head?.headers.get('keep-alive')))
    else this.#pool.destroy(this.#connection)
  }
}

function hasToken (value: string | undefined, token: string): boolean {
  return value !== undefined && value.toLowerCase().split(',').some(t => t.trim() === token)
}

/** `Keep-Alive: timeout=N` in milliseconds, less a second so that the server is not closing as we write. */
function keepAliveHint (value: string | undefined): number | undefined {
  const match = value === undefined ? null : /(?:^|[,;\s])timeout=(\d+)/i.exec(value)
  return match === null ? undefined : Math.max(0, Number(match[1]) * 1000 - 1000)
}
