import type { AbortOptions } from '@dopt/interface'

/** What the origin says about a remote file. */
export interface RemoteInfo {
  /** The final URL, after redirects. */
  url: string
  /** Size in bytes; null when the origin does not tell (no Content-Length, no Content-Range). */
  size: number | null
  /** The entity tag, verbatim (quotes and `W/` kept); null when the origin sends none. */
  etag: string | null
  /** The Last-Modified header, verbatim; null when absent. */
  lastModified: string | null
  /** True when the origin honours byte ranges. */
  acceptRanges: boolean
}

/** The validator sent as If-Range, so that a changed file is not spliced into an old one. */
export interface Validator {
  etag: string | null
  lastModified: string | null
}

export interface OriginClientInit {
  /** @default 'dopt/0.1' */
  userAgent?: string
  /** Milliseconds to wait for a connection. @default 10000 */
  connectTimeout?: number
  /** Milliseconds without a byte before a request counts as broken. @default 30000 */
  idleTimeout?: number
  /**
   * Milliseconds an idle connection to an origin is kept for the next request (ranged GETs of a file, other files
   * of the same origin); a server's shorter `Keep-Alive: timeout` wins. 0: a new connection per request.
   * @default 4000
   */
  keepAliveTimeout?: number
  /** @default 10 */
  maxRedirects?: number
  /** Attempts per call after the first, on 5xx and connection loss, resuming where the data stopped. @default 3 */
  retries?: number
  /** First backoff delay in milliseconds; doubles per attempt, with jitter. @default 250 */
  retryDelay?: number
  /**
   * Longest `Retry-After` (of a 503 or 429) waited for inside one call, in milliseconds. A longer one ends the call
   * at once with ORIGIN_UNAVAILABLE (a transient error: the job retries after its own retry delay). @default 30000
   */
  maxRetryAfter?: number
}

export interface FetchRangeOptions extends AbortOptions {
  /** First byte to fetch. */
  start: number
  /** One past the last byte; undefined for the end of the file. */
  end?: number
  /**
   * The file's size as the caller knows it (from `head`). Every response is checked against it: a 206 whose
   * `Content-Range` total, or a 200 whose `Content-Length`, is another size fails with SIZE_MISMATCH before any of
   * its bytes reach `onData`.
   */
  size?: number
  /** Sent as If-Range; a changed file fails with CONTENT_CHANGED instead of mixing versions. */
  validator?: Validator
  /**
   * Receives the bytes of [start, end) in order, exactly once each, across retries. The chunk may be reused after
   * the call returns: copy what you keep. A returned promise pauses reading until it settles.
   */
  onData: (chunk: Uint8Array) => void | Promise<void>
}

export interface OriginClient {
  /** Size, validators and range support of a URL (HEAD, or a 1-byte ranged GET where HEAD is refused). */
  head(url: string, options?: AbortOptions): Promise<RemoteInfo>
  /** Streams a byte range to `onData`; resolves with what the final response said of the file. */
  fetchRange(url: string, options: FetchRangeOptions): Promise<RemoteInfo>
  /** Closes idle kept-alive connections; the client can still be used (it connects again). */
  close?(): void
}
