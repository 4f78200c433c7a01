import { describe, it, expect } from 'vitest'
import { CID, MIN_PIECE_SIZE, MAX_PIECE_SIZE, DEFAULT_PIECE_SIZE, contentKey, decodeManifest, encodeManifest, manifestCid, parseCid, sha256, equalBytes } from '../src/index.js'
import type { Manifest } from '../src/index.js'

const MAX_STRING = 8192
const MAX_PIECES = 1 << 22

function hashOf (i: number): Uint8Array {
  return new Uint8Array(sha256(new TextEncoder().encode(`piece ${i}`)))
}

function sample (over: Partial<Manifest> = {}): Manifest {
  const size = over.size ?? 3 * MIN_PIECE_SIZE + 17
  const pieceSize = over.pieceSize ?? MIN_PIECE_SIZE
  const n = Math.ceil(size / pieceSize)
  return {
    size,
    pieceSize,
    pieceHashes: Array.from({ length: n }, (_, i) => hashOf(i)),
    sha256: new Uint8Array(sha256(new TextEncoder().encode('whole'))),
    source: { url: 'https://example.com/files/a.bin?v=1', etag: '"abc-123"', lastModified: 'Tue, 01 Apr 2025 10:00:00 GMT' },
    ...over
  }
}

/** Builds the documented layout by hand, independently of encodeManifest, so malformed variants can be made. */
function raw (o: {
  version?: number, size: bigint, pieceSize: number, hasSha?: number, sha?: Uint8Array,
  strings: Array<Uint8Array | null | { length: number }>, count?: number, hashes: Uint8Array[]
}): Uint8Array {
  const parts: Buffer[] = []
  const head = Buffer.alloc(14)
  head.writeUInt8(o.version ?? 1, 0)
  head.writeBigUInt64BE(o.size, 1)
  head.writeUInt32BE(o.pieceSize, 9)
  head.writeUInt8(o.hasSha ?? (o.sha != null ? 1 : 0), 13)
  parts.push(head)
  if (o.sha != null) parts.push(Buffer.from(o.sha))
  for (const s of o.strings) {
    const len = Buffer.alloc(4)
    if (s == null) { len.writeUInt32BE(0xffffffff); parts.push(len); continue }
    if (!(s instanceof Uint8Array)) { len.writeUInt32BE(s.length); parts.push(len); continue }
    len.writeUInt32BE(s.byteLength)
    parts.push(len, Buffer.from(s))
  }
  const count = Buffer.alloc(4)
  count.writeUInt32BE(o.count ?? o.hashes.length)
  parts.push(count, ...o.hashes.map(h => Buffer.from(h)))
  return new Uint8Array(Buffer.concat(parts))
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

function expectInvalid (fn: () => unknown, message?: RegExp): void {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  expect(caught, 'expected INVALID_ARGUMENT to be thrown').toBeInstanceOf(Error)
  expect((caught as { code?: string }).code).toBe('INVALID_ARGUMENT')
  if (message != null) expect((caught as Error).message).toMatch(message)
}

describe('encodeManifest / decodeManifest', () => {
  it('round-trips a manifest', () => {
    const m = sample()
    const decoded = decodeManifest(encodeManifest(m))
    expect(decoded).toEqual(m)
    expect(decoded.pieceHashes).toHaveLength(4)
  })

  it('round-trips null hash, null etag and lastModified, and non-ASCII strings', () => {
    const m = sample({ sha256: null, source: { url: 'https://例え.jp/ファイル?q=ü', etag: null, lastModified: null } })
    const decoded = decodeManifest(encodeManifest(m))
    expect(decoded).toEqual(m)
    expect(decoded.sha256).toBeNull()
    expect(decoded.source.etag).toBeNull()
    expect(decoded.source.lastModified).toBeNull()
  })

  it('keeps an empty etag distinct from a null one', () => {
    const empty = sample({ source: { url: 'https://example.com/', etag: '', lastModified: null } })
    expect(decodeManifest(encodeManifest(empty)).source.etag).toBe('')
    const none = sample({ source: { url: 'https://example.com/', etag: null, lastModified: null } })
    expect(encodeManifest(empty)).not.toEqual(encodeManifest(none))
  })

  it('round-trips an empty file (no pieces)', () => {
    const m = sample({ size: 0, pieceHashes: [] })
    const bytes = encodeManifest(m)
    expect(decodeManifest(bytes)).toEqual(m)
  })

  it('round-trips sizes past 4 GiB and the extreme piece sizes', () => {
    for (const pieceSize of [MIN_PIECE_SIZE, DEFAULT_PIECE_SIZE, MAX_PIECE_SIZE]) {
      const size = pieceSize === MIN_PIECE_SIZE ? 5 * MIN_PIECE_SIZE : 5 * 2 ** 30 + 3
      const m = sample({ size, pieceSize, pieceHashes: Array.from({ length: Math.ceil(size / pieceSize) }, (_, i) => hashOf(i)) })
      expect(decodeManifest(encodeManifest(m))).toEqual(m)
    }
  })

  it('follows the documented big-endian layout exactly', () => {
    const m = sample()
    const expected = raw({
      size: BigInt(m.size),
      pieceSize: m.pieceSize,
      sha: m.sha256!,
      strings: [utf8(m.source.url), utf8(m.source.etag!), utf8(m.source.lastModified!)],
      hashes: m.pieceHashes
    })
    expect(encodeManifest(m)).toEqual(expected)
    const noSha = sample({ sha256: null, source: { url: 'https://e.com/', etag: null, lastModified: null } })
    expect(encodeManifest(noSha)).toEqual(raw({ size: BigInt(noSha.size), pieceSize: noSha.pieceSize, strings: [utf8('https://e.com/'), null, null], hashes: noSha.pieceHashes }))
  })

  it('decodes from a view into a larger buffer', () => {
    const m = sample()
    const bytes = encodeManifest(m)
    const big = new Uint8Array(bytes.byteLength + 20)
    big.set(bytes, 10)
    expect(decodeManifest(big.subarray(10, 10 + bytes.byteLength))).toEqual(m)
  })

  it('returns hashes that do not alias the input bytes, even when given a Buffer', () => {
    const m = sample()
    for (const bytes of [encodeManifest(m), Buffer.from(encodeManifest(m))]) {
      const decoded = decodeManifest(bytes)
      bytes.fill(0)
      expect(decoded.pieceHashes).toEqual(m.pieceHashes)
      expect(decoded.sha256).toEqual(m.sha256)
    }
  })
})

describe('determinism', () => {
  it('gives equal bytes and CIDs for equal manifests built separately', () => {
    const a = sample()
    const b = sample({ pieceHashes: a.pieceHashes.map(h => Uint8Array.from(h)), sha256: Uint8Array.from(a.sha256!) })
    expect(a).not.toBe(b)
    const ea = encodeManifest(a)
    const eb = encodeManifest(b)
    expect(equalBytes(ea, eb)).toBe(true)
    expect(manifestCid(ea).equals(manifestCid(eb))).toBe(true)
    expect(manifestCid(ea).toString()).toBe(manifestCid(eb).toString())
  })

  it('re-encoding a decoded manifest gives the same bytes', () => {
    const bytes = encodeManifest(sample())
    expect(encodeManifest(decodeManifest(bytes))).toEqual(bytes)
  })

  it('any change gives different bytes and a different CID', () => {
    const base = sample()
    const baseCid = manifestCid(encodeManifest(base)).toString()
    const variants: Manifest[] = [
      sample({ size: base.size + 1 }),
      sample({ sha256: null }),
      sample({ source: { ...base.source, url: base.source.url + 'x' } }),
      sample({ source: { ...base.source, etag: '"other"' } }),
      sample({ source: { ...base.source, lastModified: null } }),
      sample({ pieceHashes: [...base.pieceHashes.slice(0, 3), hashOf(99)] })
    ]
    const cids = new Set(variants.map(v => manifestCid(encodeManifest(v)).toString()))
    expect(cids.size).toBe(variants.length)
    expect(cids.has(baseCid)).toBe(false)
  })
})

describe('manifestCid / parseCid', () => {
  it('is a CIDv1, raw codec, sha2-256 of the encoded bytes', () => {
    const bytes = encodeManifest(sample())
    const cid = manifestCid(bytes)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect(cid.multihash.code).toBe(0x12)
    expect(cid.multihash.digest).toEqual(sha256(bytes))
  })

  it('prints as base32 starting with "b" and parses back', () => {
    const cid = manifestCid(encodeManifest(sample()))
    const text = cid.toString()
    expect(text.startsWith('b')).toBe(true)
    expect(text).toMatch(/^b[a-z2-7]+$/)
    const parsed = parseCid(text)
    expect(parsed).toBeInstanceOf(CID)
    expect(parsed.equals(cid)).toBe(true)
    expect(parsed.toString()).toBe(text)
  })

  it('parseCid rejects non-CIDs with INVALID_ARGUMENT', () => {
    const text = manifestCid(encodeManifest(sample())).toString()
    for (const bad of ['', 'not a cid', 'bafy', text.slice(0, -3), text + '!']) {
      expectInvalid(() => parseCid(bad), /is not a CID/)
    }
  })
})

describe('decodeManifest rejects malformed input', () => {
  const good = (): Uint8Array => encodeManifest(sample())

  it('rejects every truncation', () => {
    const bytes = good()
    for (let n = 0; n < bytes.byteLength; n++) expectInvalid(() => decodeManifest(bytes.subarray(0, n)))
    expectInvalid(() => decodeManifest(bytes.subarray(0, 10)), /truncated/)
    expectInvalid(() => decodeManifest(bytes.subarray(0, bytes.byteLength - 1)), /truncated/)
  })

  it('rejects trailing bytes', () => {
    const bytes = good()
    const longer = new Uint8Array(bytes.byteLength + 1)
    longer.set(bytes)
    expectInvalid(() => decodeManifest(longer), /trailing/)
  })

  it('rejects another version', () => {
    for (const v of [0, 2, 255]) {
      const bytes = good()
      bytes[0] = v
      expectInvalid(() => decodeManifest(bytes), /version/)
    }
  })

  it('rejects a piece count that does not match size and piece size', () => {
    const m = sample()
    const fewer = raw({ size: BigInt(m.size), pieceSize: m.pieceSize, strings: [utf8('https://e.com/'), null, null], hashes: m.pieceHashes.slice(0, 3) })
    expectInvalid(() => decodeManifest(fewer), /piece hashes, expected 4/)
    const more = raw({ size: BigInt(m.size), pieceSize: m.pieceSize, strings: [utf8('https://e.com/'), null, null], hashes: [...m.pieceHashes, hashOf(4)] })
    expectInvalid(() => decodeManifest(more), /piece hashes, expected 4/)
    const emptyWithPiece = raw({ size: 0n, pieceSize: m.pieceSize, strings: [utf8('https://e.com/'), null, null], hashes: [hashOf(0)] })
    expectInvalid(() => decodeManifest(emptyWithPiece), /piece hashes/)
  })

  it('rejects a count larger than the hashes present', () => {
    const m = sample()
    const lying = raw({ size: BigInt(m.size), pieceSize: m.pieceSize, strings: [utf8('u'), null, null], count: 5, hashes: m.pieceHashes })
    expectInvalid(() => decodeManifest(lying), /truncated/)
  })

  it('rejects a count over the cap without reading the hashes', () => {
    const huge = raw({ size: BigInt(MAX_PIECES + 1) * BigInt(MIN_PIECE_SIZE), pieceSize: MIN_PIECE_SIZE, strings: [utf8('u'), null, null], count: MAX_PIECES + 1, hashes: [] })
    expectInvalid(() => decodeManifest(huge), /too many pieces/)
  })

  it('rejects piece sizes outside 16 KiB..16 MiB', () => {
    for (const pieceSize of [0, 1, MIN_PIECE_SIZE - 1, MAX_PIECE_SIZE + 1, 0xffffffff]) {
      const bytes = raw({ size: 0n, pieceSize, strings: [utf8('https://e.com/'), null, null], hashes: [] })
      expectInvalid(() => decodeManifest(bytes), /piece size/)
    }
    // The same layout with a valid piece size decodes, so it is the piece size being refused.
    expect(decodeManifest(raw({ size: 0n, pieceSize: MIN_PIECE_SIZE, strings: [utf8('https://e.com/'), null, null], hashes: [] })).pieceSize).toBe(MIN_PIECE_SIZE)
  })

  it('rejects a size beyond the safe integer range', () => {
    const bytes = raw({ size: 2n ** 63n, pieceSize: MAX_PIECE_SIZE, strings: [utf8('u'), null, null], hashes: [] })
    expectInvalid(() => decodeManifest(bytes), /size/)
  })

  it('rejects strings over 8 KiB, before reading them', () => {
    for (const slot of [0, 1, 2]) {
      const strings: Array<Uint8Array | null | { length: number }> = [utf8('https://e.com/'), null, null]
      strings[slot] = new Uint8Array(MAX_STRING + 1).fill(0x61)
      const bytes = raw({ size: 0n, pieceSize: MIN_PIECE_SIZE, strings, hashes: [] })
      expectInvalid(() => decodeManifest(bytes), /too long/)
    }
    // A declared length over the cap is refused even if the bytes are missing (no large allocation first).
    const declared = raw({ size: 0n, pieceSize: MIN_PIECE_SIZE, strings: [{ length: 0x7fffffff }], hashes: [] })
    expectInvalid(() => decodeManifest(declared), /too long/)
  })

  it('accepts strings of exactly 8 KiB', () => {
    const url = 'https://e.com/' + 'a'.repeat(MAX_STRING - 'https://e.com/'.length)
    const bytes = raw({ size: 0n, pieceSize: MIN_PIECE_SIZE, strings: [utf8(url), null, null], hashes: [] })
    expect(decodeManifest(bytes).source.url).toBe(url)
  })

  it('rejects a hash flag other than 0 or 1', () => {
    const bytes = encodeManifest(sample({ sha256: null }))
    bytes[13] = 2
    expectInvalid(() => decodeManifest(bytes), /hash flag/)
  })
})

describe('encodeManifest rejects invalid manifests', () => {
  it('rejects a wrong number of piece hashes', () => {
    const m = sample()
    expectInvalid(() => encodeManifest({ ...m, pieceHashes: m.pieceHashes.slice(1) }), /piece hashes/)
  })

  it('rejects hashes of the wrong length', () => {
    const m = sample()
    expectInvalid(() => encodeManifest({ ...m, pieceHashes: [...m.pieceHashes.slice(0, 3), new Uint8Array(31)] }), /wrong length/)
    expectInvalid(() => encodeManifest({ ...m, sha256: new Uint8Array(33) }), /wrong length/)
  })

  it('rejects bad sizes and piece sizes', () => {
    expectInvalid(() => encodeManifest(sample({ size: -1, pieceHashes: [] })), /size/)
    expectInvalid(() => encodeManifest(sample({ size: 1.5, pieceHashes: [hashOf(0)] })), /size/)
    expectInvalid(() => encodeManifest(sample({ size: 0, pieceSize: MIN_PIECE_SIZE - 1, pieceHashes: [] })), /piece size/)
    expectInvalid(() => encodeManifest(sample({ size: 0, pieceSize: MAX_PIECE_SIZE * 2, pieceHashes: [] })), /piece size/)
  })

  it('rejects what decodeManifest would refuse: long strings and too many pieces', () => {
    const m = sample()
    expectInvalid(() => encodeManifest({ ...m, source: { ...m.source, url: 'https://e.com/' + 'a'.repeat(MAX_STRING) } }), /too long/)
    // Multi-byte characters count in UTF-8 bytes.
    expectInvalid(() => encodeManifest({ ...m, source: { ...m.source, etag: 'é'.repeat(MAX_STRING / 2 + 1) } }), /too long/)
    expectInvalid(() => encodeManifest({ ...m, size: (MAX_PIECES + 1) * MIN_PIECE_SIZE, pieceSize: MIN_PIECE_SIZE, pieceHashes: [] }), /too many pieces/)
  })
})

describe('contentKey', () => {
  const url = 'https://example.com/files/a.bin?v=1'

  it('is a base32 CIDv1 and stable', () => {
    const a = contentKey(url, '"e1"', 1000)
    expect(a.version).toBe(1)
    expect(a.toString().startsWith('b')).toBe(true)
    expect(parseCid(a.toString()).equals(a)).toBe(true)
    expect(contentKey(url, '"e1"', 1000).equals(a)).toBe(true)
  })

  it('ignores the URL fragment', () => {
    const a = contentKey(url, '"e1"', 1000)
    expect(contentKey(url + '#part-2', '"e1"', 1000).equals(a)).toBe(true)
    expect(contentKey(url + '#', '"e1"', 1000).equals(a)).toBe(true)
  })

  it('canonicalizes the URL (scheme and host case, default port)', () => {
    const a = contentKey('https://example.com/x', null, 1)
    expect(contentKey('HTTPS://EXAMPLE.com:443/x', null, 1).equals(a)).toBe(true)
  })

  it('differs on etag, size, path and query', () => {
    const a = contentKey(url, '"e1"', 1000).toString()
    const others = [
      contentKey(url, '"e2"', 1000),
      contentKey(url, null, 1000),
      contentKey(url, '"e1"', 1001),
      contentKey(url, '"e1"', 0),
      contentKey('https://example.com/files/b.bin?v=1', '"e1"', 1000),
      contentKey('https://example.com/files/a.bin?v=2', '"e1"', 1000),
      contentKey('http://example.com/files/a.bin?v=1', '"e1"', 1000)
    ].map(c => c.toString())
    expect(new Set([a, ...others]).size).toBe(others.length + 1)
  })

  it('differs from the manifest CID namespace in content (keys are over URL text, not manifest bytes)', () => {
    const m = sample({ source: { url, etag: '"e1"', lastModified: null } })
    expect(contentKey(url, '"e1"', m.size).equals(manifestCid(encodeManifest(m)))).toBe(false)
  })
})
