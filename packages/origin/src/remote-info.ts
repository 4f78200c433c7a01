import { parseContentLength } from './body-framing.js'
import type { RemoteInfo, Validator } from './types.js'

export interface ContentRange {
  /** First and last byte of the part; null in `bytes * /size` (a 416's answer). */
  first: number | null
  last: number | null
  /** Size of the whole file; null for `/*`. */
  size: number | null
}

/** Parses `Content-Range: bytes first-last/size`, `bytes first-last/*` and `bytes * /size`. */
export function parseContentRange (value: string | undefined): ContentRange | null {
  if (value === undefined) return null
  const part = /^bytes[ \t]+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i.exec(value.trim())
  if (part !== null) {
    const first = Number(part[1])
    const last = Number(part[2])
    const size = part[3] === '*' ? null : Number(part[3])
    if (last < first || (size !== null && last >= size)) return null
    return { first, last, size }
  }
  const unsatisfied = /^bytes[ \t]+\*\/(\d{1,15})$/i.exec(value.trim())
  return unsatisfied === null ? null : { first: null, last: null, size: Number(unsatisfied[1]) }
}

/** What a response says of its file, with `size` given by the caller (it depends on the status). */
export function remoteInfo (url: URL, headers: ReadonlyMap<string, string>, size: number | null, partial: boolean): RemoteInfo {
  return {
    url: url.href,
    size,
    etag: headers.get('etag') ?? null,
    lastModified: headers.get('last-modified') ?? null,
    acceptRanges: partial || acceptsByteRanges(headers.get('accept-ranges'))
  }
}

/** The size a 200 response gives, through Content-Length. */
export function sizeOfFull (headers: ReadonlyMap<string, string>): number | null {
  const length = parseContentLength(headers.get('content-length'))
  return typeof length === 'number' ? length : null
}

function acceptsByteRanges (value: string | undefined): boolean {
  return value !== undefined && value.split(',').some(unit => unit.trim().toLowerCase() === 'bytes')
}

/** If-Range takes a strong ETag or a date (RFC 9110 section 13.1.5); a weak ETag can never match. */
export function ifRangeValue (validator: Validator | null): string | null {
  if (validator === null) return null
  if (validator.etag !== null && !validator.etag.startsWith('W/')) return validator.etag
  return validator.lastModified
}

/** True when the response's ETag or Last-Modified differ from the validator (where both sides have one). */
export function hasChanged (validator: Validator | null, headers: ReadonlyMap<string, string>): boolean {
  if (validator === null) return false
  const etag = headers.get('etag')
  if (validator.etag !== null && etag !== undefined) return etag !== validator.etag
  const lastModified = headers.get('last-modified')
  return validator.lastModified !== null && lastModified !== undefined && lastModified !== validator.lastModified
}

/** The validator of a response, to resume it safely; null when it has neither ETag nor Last-Modified. */
export function validatorOf (headers: ReadonlyMap<string, string>): Validator | null {
  const etag = headers.get('etag') ?? null
  const lastModified = headers.get('last-modified') ?? null
  return etag === null && lastModified === null ? null : { etag, lastModified }
}
