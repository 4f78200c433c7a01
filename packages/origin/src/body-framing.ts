import { OriginProtocolError } from '@dopt/interface'
import { ChunkedFramer } from './chunked-framer.js'

/**
 * Finds the body bytes in what the socket delivers, so that they can be handed on as slices of the read buffer
 * without copying. Each `take` consumes framing up to and including the next run of body bytes.
 */
export interface BodyFramer {
  /** Consumes `buf[pos, len)` up to the end of the next run of body bytes; returns the position after it. */
  take(buf: Buffer, pos: number, len: number): number
  /** The run of body bytes the last `take` found; empty when it found none. */
  dataStart: number
  dataEnd: number
  /** True once the whole body has been seen. */
  readonly finished: boolean
  /** True when the end of the connection is a proper end of this body (no length given). */
  readonly endsAtClose: boolean
}

/** A body of Content-Length bytes. */
export class LengthFramer implements BodyFramer {
  dataStart = 0
  dataEnd = 0
  readonly endsAtClose = false
  #remaining: number

  constructor (length: number) {
    this.#remaining = length
  }

  get finished (): boolean {
    return this.#remaining === 0
  }

  take (_buf: Buffer, pos: number, len: number): number {
    const n = Math.min(this.#remaining, len - pos)
    this.#remaining -= n
    this.dataStart = pos
    this.dataEnd = pos + n
    return this.dataEnd
  }
}

/** A body that runs until the server closes the connection (HTTP/1.0 style). */
export class CloseFramer implements BodyFramer {
  dataStart = 0
  dataEnd = 0
  readonly finished = false
  readonly endsAtClose = true

  take (_buf: Buffer, pos: number, len: number): number {
    this.dataStart = pos
    this.dataEnd = len
    return len
  }
}

/** Picks the framing of a response body after RFC 9112 section 6.3. */
export function framerFor (method: string, status: number, headers: ReadonlyMap<string, string>, url: string): BodyFramer {
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return new LengthFramer(0)
  }
  const transferEncoding = headers.get('transfer-encoding')
  if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(',').map(s => s.trim())
    return codings[codings.length - 1] === 'chunked' ? new ChunkedFramer(url) : new CloseFramer()
  }
  const length = parseContentLength(headers.get('content-length'))
  if (length === 'invalid') {
    throw new OriginProtocolError('invalid Content-Length', { context: 'remote-file', url, httpStatus: status })
  }
  return length === null ? new CloseFramer() : new LengthFramer(length)
}

/** The value of a Content-Length header: decimal digits only (a second copy is refused with the head). */
export function parseContentLength (value: string | undefined): number | null | 'invalid' {
  if (value === undefined) return null
  return /^\d{1,15}$/.test(value) ? Number(value) : 'invalid'
}
