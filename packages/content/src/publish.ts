import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { InvalidArgumentError } from '@dopt/interface'
import { encodeManifest, manifestCid } from './manifest.js'
import type { Manifest, ManifestSource } from './manifest.js'
import { DEFAULT_PIECE_SIZE, MAX_PIECE_SIZE, MIN_PIECE_SIZE } from './pieces.js'

export interface ManifestOfFileOptions {
  /** @default DEFAULT_PIECE_SIZE (1 MiB) */
  pieceSize?: number
  /** Where the file will be published, if known; recorded in the manifest (not needed to use it). */
  source?: Partial<ManifestSource>
}

export interface PublishedManifest {
  manifest: Manifest
  /** The encoded manifest: what a publisher puts beside the file (the `.dopt-manifest` sidecar). */
  bytes: Uint8Array
  /** Its CID, which a job pins (`addFile(…, { manifest: cid })`, `dopt get --manifest CID`). */
  cid: string
}

/**
 * A file's manifest, as a publisher of updates makes it offline: each piece's SHA-256 and the whole file's, in one
 * read of the file. The CID names exactly these bytes, so whoever serves them — a peer, the origin's sidecar — a node
 * that pinned the CID knows they are the publisher's.
 */
export async function manifestOfFile (path: string, options: ManifestOfFileOptions = {}): Promise<PublishedManifest> {
  const pieceSize = options.pieceSize ?? DEFAULT_PIECE_SIZE
  if (!Number.isInteger(pieceSize) || pieceSize < MIN_PIECE_SIZE || pieceSize > MAX_PIECE_SIZE) {
    throw new InvalidArgumentError(`piece size must be a whole number of bytes from ${MIN_PIECE_SIZE} to ${MAX_PIECE_SIZE}, not ${String(pieceSize)}`)
  }
  const handle = await open(path, 'r')
  try {
    const whole = createHash('sha256')
    const pieceHashes: Uint8Array[] = []
    const buffer = Buffer.allocUnsafe(pieceSize)
    let size = 0
    for (;;) {
      let fill = 0
      while (fill < pieceSize) {
        const { bytesRead } = await handle.read(buffer, fill, pieceSize - fill, size + fill)
        if (bytesRead === 0) break
        fill += bytesRead
      }
      if (fill === 0) break
      const piece = buffer.subarray(0, fill)
      whole.update(piece)
      pieceHashes.push(new Uint8Array(createHash('sha256').update(piece).digest()))
      size += fill
      if (fill < pieceSize) break
    }
    const manifest: Manifest = {
      size, pieceSize, pieceHashes, sha256: new Uint8Array(whole.digest()),
      source: { url: options.source?.url ?? '', etag: options.source?.etag ?? null, lastModified: options.source?.lastModified ?? null }
    }
    const bytes = encodeManifest(manifest)
    return { manifest, bytes, cid: manifestCid(bytes).toString() }
  } finally {
    await handle.close()
  }
}
