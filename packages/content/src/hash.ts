import { createHash, webcrypto } from 'node:crypto'

export const SHA256_LENGTH = 32

/** SHA-256 of `bytes`, on the calling thread. */
export function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/**
 * SHA-256 of `bytes` on libuv's thread pool (WebCrypto runs digests off the event loop in Node), so that hashing
 * 1 MiB pieces overlaps with receiving the next ones instead of stalling the socket. `bytes` must not change
 * until the promise settles. Node 20 copies `bytes` on the calling thread first (about as costly there as hashing
 * them) and refuses views of shared memory; the engine hashes pieces on a worker of its own (PieceHasher).
 */
export async function sha256Async (bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes))
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i

/** Parses a 64-digit hex SHA-256; returns null for anything else. */
export function parseSha256Hex (hex: string): Uint8Array | null {
  if (!HEX_SHA256.test(hex)) return null
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}
