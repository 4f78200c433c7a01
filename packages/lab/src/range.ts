/** An inclusive byte range of a representation. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * Reads a `Range` header against a body of `size` bytes. Only a single `bytes=` range is honoured: anything else
 * (other units, several ranges, bad syntax) is ignored, which RFC 9110 allows, and the caller sends the full body.
 *
 * @returns the range, `'unsatisfiable'` (answer 416), or `null` (ignore the header)
 */
export function parseRange (header: string, size: number): ByteRange | 'unsatisfiable' | null {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return null
  const [, first = '', last = ''] = match
  if (first === '' && last === '') return null

  if (first === '') {
    // Suffix range: the last n bytes.
    const length = Number(last)
    if (length === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - length), end: size - 1 }
  }

  const start = Number(first)
  const end = last === '' ? size - 1 : Number(last)
  if (last !== '' && end < start) return null
  if (start >= size) return 'unsatisfiable'
  return { start, end: Math.min(end, size - 1) }
}

/**
 * Whether an `If-Range` value still matches the current representation, so the Range may be honoured. An entity
 * tag must match strongly (a weak tag never does); a date must equal `Last-Modified` exactly.
 */
export function ifRangeMatches (ifRange: string, etag: string | null, lastModified: string | null): boolean {
  const value = ifRange.trim()
  if (value.startsWith('"') || value.startsWith('W/')) {
    return etag !== null && !etag.startsWith('W/') && value === etag
  }
  if (lastModified === null) return false
  const date = Date.parse(value)
  return !Number.isNaN(date) && date === Date.parse(lastModified)
}
