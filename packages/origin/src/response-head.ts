import { OriginProtocolError } from '@dopt/interface'

export interface ResponseHead {
  status: number
  /** The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor: 0 | 1
  /** Lowercase names; repeated list headers joined with `, `. */
  headers: Map<string, string>
}

/**
 * Response heads larger than this are refused rather than buffered without bound. It counts every head of a
 * response, interim (1xx) ones included, whether the head arrives in one read or in many.
 */
export const MAX_HEAD_SIZE = 64 * 1024

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')
/** A header name is a token (RFC 9110 section 5.6.2): no spaces, so no obs-fold and no space before the colon. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** Bytes a field value never carries: a bare CR or LF would split it (response splitting), NUL ends C strings. */
const FORBIDDEN = /[\0\r\n]/
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [^\0\r\n]*)?$/
/** Framing headers: a second copy makes the body's length ambiguous (request smuggling, response splitting). */
const REFUSED_TWICE = new Set(['content-length', 'content-range'])
/** Single-valued headers whose later copies are ignored, as node:http does. */
const FIRST_WINS = new Set(['etag', 'last-modified', 'location', 'retry-after', 'content-type', 'age', 'expires'])

/** The index just past the CRLFCRLF that ends a response head in `buf[from, to)`, or -1. */
export function findHeadEnd (buf: Buffer, from: number, to: number): number {
  const i = buf.subarray(0, to).indexOf(HEAD_END, from)
  return i < 0 ? -1 : i + HEAD_END.length
}

/** Parses a status line and header fields (the bytes before the blank line), strictly. */
export function parseResponseHead (bytes: Buffer, url: string): ResponseHead {
  if (bytes.length > MAX_HEAD_SIZE) throw headError('response head too large', url)
  const lines = bytes.toString('latin1').split('\r\n')
  const match = STATUS_LINE.exec(lines[0] ?? '')
  if (match === null) throw headError('malformed HTTP status line', url)
  const headers = new Map<string, string>()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    if (FORBIDDEN.test(line)) throw headError('CR, LF or NUL inside an HTTP header', url)
    const colon = line.indexOf(':')
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) throw headError('malformed HTTP header', url)
    const name = line.slice(0, colon).toLowerCase()
    const value = trimOws(line.slice(colon + 1))
    const previous = headers.get(name)
    if (previous === undefined) {
      headers.set(name, value)
    } else if (REFUSED_TWICE.has(name)) {
      throw headError(`more than one ${name} header`, url)
    } else if (!FIRST_WINS.has(name)) {
      headers.set(name, `${previous}, ${value}`)
    }
  }
  if (headers.has('content-length') && headers.has('transfer-encoding')) {
    throw headError('both Content-Length and Transfer-Encoding', url)
  }
  return { status: Number(match[2]), minor: match[1] === '1' ? 1 : 0, headers }
}

/** Strips optional whitespace (SP and HTAB only: other bytes are part of the value). */
function trimOws (value: string): string {
  let start = 0
  let end = value.length
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--
  return value.slice(start, end)
}

function headError (message: string, url: string): OriginProtocolError {
  return new OriginProtocolError(message, { context: 'remote-file', url })
}

/**
 * Collects the head of one response from successive socket reads, skipping interim (1xx) heads. Head bytes that
 * span reads are copied into one buffer of at most MAX_HEAD_SIZE, so memory stays bounded and the search for the
 * blank line stays linear however the bytes are split.
 */
export class HeadReader {
  readonly #url: string
  #partial: Buffer | null = null
  #filled = 0
  /** Head bytes seen so far, interim heads included. */
  #total = 0
  head: ResponseHead | null = null

  constructor (url: string) {
    this.#url = url
  }

  /** True once some bytes of a head have arrived. */
  get started (): boolean {
    return this.#total > 0 || this.#filled > 0
  }

  /**
   * Consumes head bytes of `buf[pos, len)`. Returns the position just after the final (non-interim) head, which is
   * then in `head`, or -1 when every byte was consumed and the head goes on. Throws OriginProtocolError.
   */
  read (buf: Buffer, pos: number, len: number): number {
    while (pos < len) {
      // Room left for this head and its blank line: the limit counts interim heads too.
      const room = MAX_HEAD_SIZE + HEAD_END.length - this.#total
      let head: Buffer
      let after: number
      if (this.#partial === null) {
        const end = findHeadEnd(buf, pos, Math.min(len, pos + room))
        if (end < 0) {
          if (len - pos >= room) throw headError('response head too large', this.#url)
          this.#partial = Buffer.allocUnsafe(room)
          this.#filled = buf.copy(this.#partial, 0, pos, len)
          return -1
        }
        head = buf.subarray(pos, end - HEAD_END.length)
        after = end
      } else {
        const before = this.#filled
        this.#filled += buf.copy(this.#partial, before, pos, Math.min(len, pos + room - before))
        const end = findHeadEnd(this.#partial, Math.max(0, before - 3), this.#filled)
        if (end < 0) {
          if (this.#filled >= room) throw headError('response head too large', this.#url)
          return -1
        }
        head = this.#partial.subarray(0, end - HEAD_END.length)
        after = pos + end - before
        this.#partial = null
        this.#filled = 0
      }
      this.#total += head.length + HEAD_END.length
      const parsed = parseResponseHead(head, this.#url)
      pos = after
      if (parsed.status === 101) throw headError('unexpected 101 Switching Protocols', this.#url)
      if (parsed.status >= 200) {
        this.head = parsed
        return after
      }
      // An interim response (103 Early Hints) precedes the real one on the same connection.
    }
    return -1
  }
}
