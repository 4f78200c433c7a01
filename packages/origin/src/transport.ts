/**
 * The seam between the origin client (redirects, ranges, retries) and the code that moves bytes: one exchange is
 * one request and its response. Two transports implement it: raw `node:net`/`node:tls` sockets (the default for both
 * schemes) and `node:http`/`node:https` (the alternative it was measured against). Both keep connections alive.
 */

/** Receives body bytes; the chunk may be reused once the call (or its promise) settles. */
export type BodySink = (chunk: Uint8Array) => void | Promise<void>

export interface ExchangeRequest {
  method: 'GET' | 'HEAD'
  url: URL
  /** Extra request headers, lowercase names (range, if-range). */
  headers: Readonly<Record<string, string>>
  signal?: AbortSignal
}

/** A response whose head has arrived and whose body has not been read yet. */
export interface Exchange {
  readonly status: number
  /** Lowercase names; repeated headers joined with `, `. */
  readonly headers: ReadonlyMap<string, string>
  /**
   * Streams the body to `sink`, waiting on a returned promise before reading more. Resolves at the end of the
   * body or when `close()` is called; rejects with what the sink threw, `OriginUnavailableError` on a broken or
   * stalled connection, `OriginProtocolError` on bad framing, `AbortedError` on abort.
   */
  read(sink: BodySink): Promise<void>
  /** Drops the connection; a pending `read` resolves. Safe to call more than once. */
  close(): void
}

export interface Transport {
  /** Sends the request; resolves once the response head has arrived. */
  open(request: ExchangeRequest): Promise<Exchange>
  /** Closes idle kept-alive connections. */
  close?(): void
}

export interface TransportSettings {
  userAgent: string
  connectTimeout: number
  idleTimeout: number
  /** Milliseconds an idle connection is kept for the next request; 0: a connection per request. */
  keepAliveTimeout: number
}
