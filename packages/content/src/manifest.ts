import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidArgumentError } from '@dopt/interface'
import { SHA256_LENGTH, sha256 } from './hash.js'
import { MAX_PIECE_SIZE, MIN_PIECE_SIZE, pieceCount } from './pieces.js'

/** Where a manifest's content was first fetched from. */
export interface ManifestSource {
  url: string
  etag: string | null
  lastModified: string | null
}

/** Piece size and piece hashes of one file: what every piece is checked against. */
export interface Manifest {
  size: number
  pieceSize: number
  /** SHA-256 of each piece, in order. */
  pieceHashes: Uint8Array[]
  /** SHA-256 of the whole file, when known. */
  sha256: Uint8Array | null
  source: ManifestSource
}

/** Multicodec of the manifest's binary encoding (the CID names these bytes). `raw`, since the format is ours. */
const RAW_CODE = 0x55
const SHA2_256 = 0x12
const VERSION = 1
/** Refuse absurd manifests: a 1 TiB file in 16 KiB pieces is 64 Mi hashes; we cap strings and pieces instead. */
const MAX_STRING = 8192
const MAX_PIECES = 1 << 22

/**
 * Encodes a manifest deterministically: equal manifests give equal bytes, hence equal CIDs.
 * Layout (big-endian): u8 version, u64 size, u32 pieceSize, u8 hasSha, [32 sha256], 3 strings (u32 length with
 * 0xffffffff for null, UTF-8 bytes): url, etag, lastModified; u32 piece count; 32-byte hashes.
 */
export function encodeManifest (m: Manifest): Uint8Array {
  validate(m)
  const strings = [m.source.url, m.source.etag, m.source.lastModified].map(s => s == null ? null : Buffer.from(s, 'utf8'))
  let length = 1 + 8 + 4 + 1 + (m.sha256 != null ? SHA256_LENGTH : 0) + 4 + m.pieceHashes.length * SHA256_LENGTH
  for (const s of strings) length += 4 + (s?.byteLength ?? 0)
  const out = Buffer.alloc(length)
  let o = out.writeUInt8(VERSION, 0)
  o = out.writeBigUInt64BE(BigInt(m.size), o)
  o = out.writeUInt32BE(m.pieceSize, o)
  o = out.writeUInt8(m.sha256 != null ? 1 : 0, o)
  if (m.sha256 != null) { out.set(m.sha256, o); o += SHA256_LENGTH }
  for (const s of strings) {
    if (s == null) { o = out.writeUInt32BE(0xffffffff, o); continue }
    o = out.writeUInt32BE(s.byteLength, o)
    out.set(s, o); o += s.byteLength
  }
  o = out.writeUInt32BE(m.pieceHashes.length, o)
  for (const h of m.pieceHashes) { out.set(h, o); o += SHA256_LENGTH }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

/** Decodes and checks a manifest; throws `INVALID_ARGUMENT` on anything malformed. */
export function decodeManifest (bytes: Uint8Array): Manifest {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 0
  const need = (n: number): void => {
    if (o + n > buf.byteLength) throw new InvalidArgumentError('manifest is truncated')
  }
  need(14)
  const version = buf.readUInt8(o); o += 1
  if (version !== VERSION) throw new InvalidArgumentError(`manifest version ${version} is not supported`)
  const size = Number(buf.readBigUInt64BE(o)); o += 8
  const pieceSize = buf.readUInt32BE(o); o += 4
  const hasSha = buf.readUInt8(o); o += 1
  if (hasSha > 1) throw new InvalidArgumentError(`manifest hash flag ${hasSha} is invalid`)
  let whole: Uint8Array | null = null
  if (hasSha === 1) { need(SHA256_LENGTH); whole = copy(bytes, o); o += SHA256_LENGTH }
  const strings: Array<string | null> = []
  for (let i = 0; i < 3; i++) {
    need(4)
    const len = buf.readUInt32BE(o); o += 4
    if (len === 0xffffffff) { strings.push(null); continue }
    if (len > MAX_STRING) throw new InvalidArgumentError('manifest string is too long')
    need(len)
    strings.push(buf.toString('utf8', o, o + len)); o += len
  }
  need(4)
  const count = buf.readUInt32BE(o); o += 4
  if (count > MAX_PIECES) throw new InvalidArgumentError('manifest has too many pieces')
  need(count * SHA256_LENGTH)
  const pieceHashes: Uint8Array[] = []
  for (let i = 0; i < count; i++) { pieceHashes.push(copy(bytes, o)); o += SHA256_LENGTH }
  if (o !== buf.byteLength) throw new InvalidArgumentError('manifest has trailing bytes')
  const m: Manifest = { size, pieceSize, pieceHashes, sha256: whole, source: { url: strings[0] ?? '', etag: strings[1] ?? null, lastModified: strings[2] ?? null } }
  validate(m)
  return m
}

/** A copy of the 32 bytes at `o` (not `bytes.slice`, which on a Buffer is a view that would alias the input). */
function copy (bytes: Uint8Array, o: number): Uint8Array {
  return new Uint8Array(bytes.subarray(o, o + SHA256_LENGTH))
}

function validate (m: Manifest): void {
  if (!Number.isSafeInteger(m.size) || m.size < 0) throw new InvalidArgumentError(`manifest size ${m.size} is invalid`)
  if (!Number.isInteger(m.pieceSize) || m.pieceSize < MIN_PIECE_SIZE || m.pieceSize > MAX_PIECE_SIZE) {
    throw new InvalidArgumentError(`manifest piece size ${m.pieceSize} is outside ${MIN_PIECE_SIZE}..${MAX_PIECE_SIZE}`)
  }
  if (pieceCount(m.size, m.pieceSize) > MAX_PIECES) throw new InvalidArgumentError('manifest has too many pieces')
  for (const s of [m.source.url, m.source.etag, m.source.lastModified]) {
    if (s != null && Buffer.byteLength(s, 'utf8') > MAX_STRING) throw new InvalidArgumentError('manifest string is too long')
  }
  if (m.pieceHashes.length !== pieceCount(m.size, m.pieceSize)) {
    throw new InvalidArgumentError(`manifest has ${m.pieceHashes.length} piece hashes, expected ${pieceCount(m.size, m.pieceSize)}`)
  }
  if (m.pieceHashes.some(h => h.byteLength !== SHA256_LENGTH) || (m.sha256 != null && m.sha256.byteLength !== SHA256_LENGTH)) {
    throw new InvalidArgumentError('manifest hash has the wrong length')
  }
}

/** CIDv1 (raw, sha2-256) of an encoded manifest. */
export function manifestCid (encoded: Uint8Array): CID {
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256, sha256(encoded)))
}

/**
 * Discovery key for content known only by URL: a CID over the canonical URL, the ETag and the size, so that nodes
 * that fetched the same version of the same URL meet under one key.
 */
export function contentKey (url: string, etag: string | null, size: number): CID {
  const canonical = new URL(url)
  canonical.hash = ''
  const text = JSON.stringify([canonical.href, etag ?? '', size])
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256, sha256(Buffer.from(text, 'utf8'))))
}

/** Parses a CID string; throws `INVALID_ARGUMENT` with the reason. */
export function parseCid (text: string): CID {
  try {
    return CID.parse(text)
  } catch (err) {
    throw new InvalidArgumentError(`"${text}" is not a CID`, { cause: err })
  }
}
