import type { Server as NetServer } from 'node:net'

/** A file the test origin serves. */
export interface OriginFile {
  /** The content, in memory. */
  data?: Uint8Array
  /** Or: an absolute path on disk, read per request (for large files). */
  file?: string
  /** ETag to send; null to send none. @default a strong tag derived from size and a version counter */
  etag?: string | null
  /** Last-Modified to send; null to send none. @default a fixed date */
  lastModified?: string | null
  /** Honour Range requests. @default true */
  ranges?: boolean
  /** Answer HEAD requests (else 405). @default true */
  head?: boolean
  /** Answer HEAD requests with this status and no body, as S3 presigned GET URLs do (403). */
  headStatus?: number
  /** Send the body with chunked transfer encoding and no Content-Length. @default false */
  chunked?: boolean
}

/** Faults to inject for one path. Counters count requests to that path (HEAD included unless said). */
export interface OriginFault {
  /** Answer every request with this status (404, 410, 401, 403, 500...). */
  status?: number
  /** Answer the first N GET requests with `failStatus`. */
  failTimes?: number
  /** @default 500 */
  failStatus?: number
  /** A Retry-After header for the `status` and `failStatus` answers (seconds, or an HTTP-date). */
  retryAfter?: string
  /** Cut the connection after this many body bytes, on the first `truncateTimes` GET requests. */
  truncateAfter?: number
  /** @default Infinity */
  truncateTimes?: number
  /** Send at most this many bytes per second. */
  rate?: number
  /** Wait this many milliseconds before answering. */
  delay?: number
  /** After this many body bytes sent in total on the path, replace the content (new ETag) with `changeTo`. */
  changeAfter?: number
  changeTo?: Uint8Array
}

export interface OriginRequestLog {
  method: string
  path: string
  range: string | null
  ifRange: string | null
  status: number
  bytesSent: number
  /** When the request arrived (Date.now()). */
  time: number
}

export interface Origin {
  /** e.g. `http://127.0.0.1:41234` */
  readonly baseUrl: string
  url(path: string): string
  setFile(path: string, file: OriginFile): void
  setFault(path: string, fault: OriginFault | null): void
  /** Sends `301` from `from` to `to`. */
  redirect(from: string, to: string, status?: number): void
  /** Every request so far, in arrival order. */
  readonly requests: OriginRequestLog[]
  /** Body bytes sent so far, all paths. */
  readonly bytesSent: number
  /** The total egress cap in bytes/s (`OriginInit.egressRate`); null when there is none. */
  readonly egressRate: number | null
  close(): Promise<void>
}

export interface OriginInit {
  /** @default '127.0.0.1' */
  host?: string
  /** @default 0 */
  port?: number
  /**
   * Total egress cap in bytes/s over every response together (one token bucket, granted in small slices in arrival
   * order, so concurrent responses share it evenly). Per-path `rate` faults still apply on top. 0 or absent: none.
   */
  egressRate?: number
  /** Most bytes one response sends per turn under `egressRate`. @default rate / 50, from 1 KiB to 64 KiB */
  egressSlice?: number
  /**
   * A listening socket to serve on instead of `host` and `port` (a `net.Server` handle received over IPC, as the
   * lab's network namespaces hand one over: netns.ts). `host` then only names it in `baseUrl`.
   */
  handle?: NetServer
}
