import { InvalidArgumentError } from '@dopt/interface'

/**
 * Bencoding (BEP 3), the encoding of .torrent files and tracker answers. Byte strings are `Uint8Array` (a JS
 * `string` is encoded as UTF-8 on the way in); integers are safe integers or bigints; dictionaries are `Map`s or
 * plain objects, written with their keys sorted as raw bytes, as BEP 3 requires.
 */
export type BencodeValue =
  | number
  | bigint
  | string
  | Uint8Array
  | BencodeValue[]
  | Map<string | Uint8Array, BencodeValue>
  | { [key: string]: BencodeValue }

/** What `bdecode` gives back: byte strings stay bytes, dictionaries become `Map`s keyed by latin1 strings. */
export type BdecodedValue = number | bigint | Uint8Array | BdecodedValue[] | Map<string, BdecodedValue>

/** Nesting deeper than this is refused on decode (a hostile tracker answer must not blow the stack). */
const MAX_DEPTH = 64

const utf8 = new TextEncoder()

export function bencode (value: BencodeValue): Uint8Array {
  const parts: Uint8Array[] = []
  encodeInto(value, parts, 0)
  return concat(parts)
}

function encodeInto (value: BencodeValue, parts: Uint8Array[], depth: number): void {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError('bencode: nesting too deep')
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`bencode: not a safe integer: ${value}`)
    parts.push(utf8.encode(`i${value}e`))
  } else if (typeof value === 'bigint') {
    parts.push(utf8.encode(`i${value}e`))
  } else if (typeof value === 'string' || value instanceof Uint8Array) {
    const bytes = typeof value === 'string' ? utf8.encode(value) : value
    parts.push(utf8.encode(`${bytes.byteLength}:`), bytes)
  } else if (Array.isArray(value)) {
    parts.push(utf8.encode('l'))
    for (const item of value) encodeInto(item, parts, depth + 1)
    parts.push(utf8.encode('e'))
  } else {
    const entries: Array<[Uint8Array, BencodeValue]> = []
    const source: Iterable<[string | Uint8Array, BencodeValue]> = value instanceof Map ? value : Object.entries(value)
    for (const [key, item] of source) entries.push([typeof key === 'string' ? utf8.encode(key) : key, item])
    entries.sort((a, b) => compareBytes(a[0], b[0]))
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) throw new InvalidArgumentError('bencode: duplicate key')
    }
    parts.push(utf8.encode('d'))
    for (const [key, item] of entries) {
      parts.push(utf8.encode(`${key.byteLength}:`), key)
      encodeInto(item, parts, depth + 1)
    }
    parts.push(utf8.encode('e'))
  }
}

/** Decodes one bencoded value that must span all of `data`. */
export function bdecode (data: Uint8Array): BdecodedValue {
  const state = { pos: 0 }
  const value = decodeAt(data, state, 0)
  if (state.pos !== data.byteLength) throw new InvalidArgumentError(`bencode: trailing bytes at ${state.pos}`)
  return value
}

/** The byte range [start, end) of the value of a top-level dictionary key (e.g. `info`, whose SHA-1 is the info hash). */
export function bencodedSpan (data: Uint8Array, key: string): { start: number, end: number } | null {
  if (data[0] !== 0x64) return null
  const state = { pos: 1 }
  while (state.pos < data.byteLength && data[state.pos] !== 0x65) {
    const k = decodeAt(data, state, 1)
    const start = state.pos
    decodeAt(data, state, 1)
    if (k instanceof Uint8Array && latin1(k) === key) return { start, end: state.pos }
  }
  return null
}

function decodeAt (data: Uint8Array, state: { pos: number }, depth: number): BdecodedValue {
  if (depth > MAX_DEPTH) throw new InvalidArgumentError('bencode: nesting too deep')
  const c = data[state.pos]
  if (c === undefined) throw new InvalidArgumentError('bencode: unexpected end')
  if (c === 0x69) { // i<digits>e
    const end = data.indexOf(0x65, state.pos)
    if (end < 0) throw new InvalidArgumentError('bencode: unterminated integer')
    const text = latin1(data.subarray(state.pos + 1, end))
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) throw new InvalidArgumentError(`bencode: bad integer "${text}"`)
    state.pos = end + 1
    const n = BigInt(text)
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
  }
  if (c === 0x6c) { // l...e
    state.pos++
    const list: BdecodedValue[] = []
    while (data[state.pos] !== 0x65) {
      if (state.pos >= data.byteLength) throw new InvalidArgumentError('bencode: unterminated list')
      list.push(decodeAt(data, state, depth + 1))
    }
    state.pos++
    return list
  }
  if (c === 0x64) { // d...e
    state.pos++
    const dict = new Map<string, BdecodedValue>()
    while (data[state.pos] !== 0x65) {
      if (state.pos >= data.byteLength) throw new InvalidArgumentError('bencode: unterminated dictionary')
      const key = decodeAt(data, state, depth + 1)
      if (!(key instanceof Uint8Array)) throw new InvalidArgumentError('bencode: dictionary key is not a string')
      dict.set(latin1(key), decodeAt(data, state, depth + 1))
    }
    state.pos++
    return dict
  }
  if (c >= 0x30 && c <= 0x39) { // <length>:<bytes>
    const colon = data.indexOf(0x3a, state.pos)
    if (colon < 0) throw new InvalidArgumentError('bencode: unterminated string length')
    const text = latin1(data.subarray(state.pos, colon))
    if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new InvalidArgumentError(`bencode: bad string length "${text}"`)
    const length = Number(text)
    const start = colon + 1
    if (start + length > data.byteLength) throw new InvalidArgumentError('bencode: string runs past the end')
    state.pos = start + length
    return data.slice(start, start + length)
  }
  throw new InvalidArgumentError(`bencode: unexpected byte 0x${c.toString(16)} at ${state.pos}`)
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.byteLength - b.byteLength
}

function concat (parts: Uint8Array[]): Uint8Array {
  let size = 0
  for (const p of parts) size += p.byteLength
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}

function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}
