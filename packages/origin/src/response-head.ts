import { OriginProtocolError } from '@dopt/interface'

export interface ResponseHead {
  status: number
  headers: Map<string, string>
}

/** Response heads larger than this are refused rather than buffered without bound. */
export const MAX_HEAD_SIZE = 64 * 1024

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')

/** The index just past the CRLFCRLF that ends a response head in `buf[from, to)`, or -1. */
export function findHeadEnd (buf: Buffer, from: number, to: number): number {
  const i = buf.subarray(0, to).indexOf(HEAD_END, from)
  return i < 0 ? -1 : i + HEAD_END.length
}

/** Parses a status line and header fields (the bytes before the blank line). */
export function parseResponseHead (bytes: Buffer, url: string): ResponseHead {
  const lines = bytes.toString('latin1').split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '')
  if (match === null) {
    throw new OriginProtocolError('malformed HTTP status line', { context: 'remote-file', url })
  }
  const headers = new Map<string, string>()
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string
    if (line === '') continue
    const colon = line.indexOf(':')
    if (colon <= 0) throw new OriginProtocolError('malformed HTTP header', { context: 'remote-file', url })
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const previous = headers.get(name)
    headers.set(name, previous === undefined ? value : `${previous}, ${value}`)
  }
  return { status: Number(match[1]), headers }
}
