import { pieceRange } from '@dopt/content'
import type { OriginClient } from '@dopt/origin'
import type { JobFileImpl } from './job-file.js'
import type { PieceHasher } from './piece-hasher.js'
import type { FetchRunOptions, PieceRun, PieceSinkLike, PieceSource } from './piece-source.js'

/**
 * Pieces from the origin: a run of consecutive pieces is one ranged GET (coalesced), cut into pieces as the bytes
 * stream in. A file of unknown size is one open-ended run whose last piece ends where the body ends.
 */
export class OriginSource implements PieceSource {
  readonly kind = 'origin' as const
  readonly #client: OriginClient
  readonly #hasher: PieceHasher

  constructor (client: OriginClient, hasher: PieceHasher) {
    this.#client = client
    this.#hasher = hasher
  }

  async fetch (file: JobFileImpl, run: PieceRun, sink: PieceSinkLike, options: FetchRunOptions): Promise<void> {
    const { pieceSize } = file.record
    const size = file.record.size
    const start = run.first * pieceSize
    const end = size == null ? undefined : pieceRange(run.first + run.count - 1, size, pieceSize).end
    const lengthOf = (index: number): number => size == null ? pieceSize : pieceRange(index, size, pieceSize).end - index * pieceSize

    let piece = run.first
    let buffer: Buffer | null = null
    let fill = 0

    // A whole piece goes to the sink with its SHA-256 still being computed off this thread (PieceHasher), so that
    // receiving, hashing and writing overlap; the sink checks and writes it only once the hash is in.
    const handOver = (): void => {
      const full = buffer!
      const digest = this.#hasher.hash(full.subarray(0, fill))
      // Told first: what serves the piece on keeps its own copy, which the sink's first reader may then share.
      options.onPiece?.(piece, digest)
      sink.accept(piece, full, fill, 'origin', digest)
      piece++
      buffer = null
    }

    // Copies as much of `chunk` as fits into pieces; returns where it stopped when it ran out of buffers.
    const take = (chunk: Uint8Array, from: number): number => {
      let off = from
      while (off < chunk.byteLength) {
        buffer ??= sink.tryAllocate()
        if (buffer == null) return off
        const n = Math.min(lengthOf(piece) - fill, chunk.byteLength - off)
        const part = chunk.subarray(off, off + n)
        buffer.set(part, fill)
        options.onPieceBytes?.(piece, fill, part)
        fill += n
        off += n
        if (fill === lengthOf(piece)) {
          handOver()
          fill = 0
        }
      }
      return off
    }

    const onData = (chunk: Uint8Array): void | Promise<void> => {
      // Every body byte the origin sent counts, whatever becomes of it (honest accounting).
      file.addOriginBytes(chunk.byteLength)
      options.onBytes?.(chunk)
      const limiter = options.limiter
      if (limiter != null && limiter.rate > 0) {
        // Limited: wait for the tokens first (the client keeps the chunk and pauses the socket meanwhile).
        return limiter.take(chunk.byteLength, options).then(async () => { await placeFrom(chunk, take(chunk, 0)) })
      }
      const stopped = take(chunk, 0)
      if (stopped === chunk.byteLength) return
      return placeFrom(chunk, stopped)
    }

    // Out of buffers: the client keeps `chunk` intact and the socket paused until this settles.
    const placeFrom = async (chunk: Uint8Array, stopped: number): Promise<void> => {
      let off = stopped
      while (off < chunk.byteLength) {
        buffer = await sink.allocate(options)
        off = take(chunk, off)
      }
    }

    try {
      await this.#client.fetchRange(file.record.finalUrl ?? file.remoteName, {
        start,
        end,
        // Every answer must give this size: a HEAD that under- or over-reported it fails here (SIZE_MISMATCH).
        size: size ?? undefined,
        validator: { etag: file.record.etag, lastModified: file.record.lastModified },
        onData,
        signal: options.signal
      })
      // The body ended mid-piece: for unknown sizes that is the last piece.
      if (buffer != null && fill > 0 && size == null) handOver()
    } finally {
      if (buffer != null) sink.release(buffer)
    }
  }
}
