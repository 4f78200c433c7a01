import type { AbortOptions } from '@dopt/interface'
import type { JobFileImpl } from './job-file.js'
import type { RateLimiter } from './rate-limiter.js'

/** Where a piece's bytes came from; recorded per piece so the validation rules can tell peer bytes from origin bytes. */
export type PieceOrigin = 'origin' | 'peer'

/** Receives verified-to-be pieces from a source: buffers come from the sink's pool and go back to it. */
export interface PieceSinkLike {
  /** A free piece buffer, waiting while all are in use (backpressure). */
  allocate(options?: AbortOptions): Promise<Buffer>
  /** A free piece buffer now, or null when all are in use. */
  tryAllocate(): Buffer | null
  /**
   * Hands over a complete piece; the sink checks, writes and records it, then frees the buffer. A source that hashes
   * the bytes itself passes the SHA-256 (or its promise: the sink waits for it before anything else); otherwise the
   * sink hashes them.
   */
  accept(index: number, buffer: Buffer, length: number, from: PieceOrigin, sha256?: Uint8Array | Promise<Uint8Array>): void
  /** Returns an unused buffer to the pool. */
  release(buffer: Buffer): void
}

/** A run of consecutive pieces to fetch. */
export interface PieceRun {
  first: number
  count: number
}

/**
 * A source of pieces: the origin now, peers later. The scheduler sees only this, as Helia's block brokers: it asks
 * for runs of pieces and the source delivers each whole piece to the sink.
 */
export interface PieceSource {
  readonly kind: PieceOrigin
  fetch(file: JobFileImpl, run: PieceRun, sink: PieceSinkLike, options: FetchRunOptions): Promise<void>
}

export interface FetchRunOptions extends AbortOptions {
  /** Sees every byte, in order, as it arrives. */
  onBytes?(chunk: Uint8Array): void
  /** Sees each piece's bytes as they arrive (`offset` within the piece): to serve a piece while it arrives. */
  onPieceBytes?(index: number, offset: number, chunk: Uint8Array): void
  /**
   * Told each piece as it is handed to the sink whole, with its SHA-256 as a promise (computed off the receiving
   * thread; it rejects only if hashing itself failed, and the sink then fails the piece).
   */
  onPiece?(index: number, sha256: Promise<Uint8Array>): void
  /** Download limit to respect (see RateLimiter). */
  limiter?: RateLimiter
}
