import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

export const ETAG = '"v1"'
export const LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT'

export interface ServeOptions {
  etag?: string | null
  lastModified?: string | null
  /** Honour Range (default true); false answers 200 with the whole body, as origins without range support do. */
  ranges?: boolean
}

export function randomBody (size: number): Buffer {
  return randomBytes(size)
}

/** A handler serving `body` with Range and If-Range support, like a static file server. */
export function serveBytes (body: Buffer, options: ServeOptions = {}) {
  const etag = options.etag === undefined ? ETAG : options.etag
  const lastModified = options.lastModified === undefined ? LAST_MODIFIED : options.lastModified
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (etag !== null) res.setHeader('etag', etag)
    if (lastModified !== null) res.setHeader('last-modified', lastModified)
    if (options.ranges !== false) res.setHeader('accept-ranges', 'bytes')
    let start = 0
    let end = body.length
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const ifRange = req.headers['if-range']
    const honour = options.ranges !== false && range !== null &&
      (ifRange === undefined || ifRange === etag || ifRange === lastModified)
    if (honour) {
      start = Number(range[1])
      end = range[2] === '' ? body.length : Math.min(Number(range[2]) + 1, body.length)
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end()
        return
      }
      res.statusCode = 206
      res.setHeader('content-range', `bytes ${start}-${end - 1}/${body.length}`)
    }
    res.setHeader('content-length', end - start)
    res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end))
  }
}

/** An onData that copies what it gets (chunks are reused) and records the chunk sizes. */
export function collector (): { onData: (chunk: Uint8Array) => void, bytes: () => Buffer, calls: number[] } {
  const parts: Buffer[] = []
  const calls: number[] = []
  return {
    onData: chunk => {
      parts.push(Buffer.from(chunk))
      calls.push(chunk.length)
    },
    bytes: () => Buffer.concat(parts),
    calls
  }
}

/** Counts the requests that carried each Range header. */
export function rangesOf (requests: IncomingMessage[]): Array<string | undefined> {
  return requests.map(req => req.headers.range)
}
