import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { pieceRange } from '@dopt/content'
import { copyOf } from './live-content.js'

/**
 * A file's SHA-256 computed as its pieces arrive, in whatever order: pieces are hashed as soon as all those before
 * them are in, and the ones that come early wait in memory (copied, up to `budget` bytes) so that the file need not
 * be read back. What did not fit, or was verified by an earlier run, is read from the file at the end.
 */
export class WholeFileHash {
  readonly #hash = createHash('sha256')
  readonly #size: number
  readonly #pieceSize: number
  readonly #count: number
  readonly #budget: number
  readonly #early = new Map<number, Uint8Array>()
  #earlyBytes = 0
  #next = 0

  constructor (size: number, pieceSize: number, budget: number) {
    this.#size = size
    this.#pieceSize = pieceSize
    this.#count = Math.ceil(size / pieceSize)
    this.#budget = budget
  }

  /**
   * Piece `index` arrived; `bytes` may be reused by the caller once this returns. `kept`, when given, is a copy of
   * the same bytes that stays unchanged (the memory of recent pieces): an early piece waits as that, not copied again.
   */
  add (index: number, bytes: Uint8Array, kept?: () => Uint8Array | undefined): void {
    if (index < this.#next || this.#early.has(index)) return
    if (index === this.#next) {
      this.#hash.update(bytes)
      this.#next++
      this.#drain()
      return
    }
    if (this.#earlyBytes + bytes.byteLength > this.#budget) return
    this.#early.set(index, kept?.() ?? copyOf(bytes))
    this.#earlyBytes += bytes.byteLength
  }

  #drain (): void {
    for (let piece = this.#early.get(this.#next); piece !== undefined; piece = this.#early.get(this.#next)) {
      this.#hash.update(piece)
      this.#early.delete(this.#next)
      this.#earlyBytes -= piece.byteLength
      this.#next++
    }
  }

  /** Pieces hashed so far, from the start of the file. */
  get hashed (): number {
    return this.#next
  }

  /** The digest, reading from `path` the pieces it has not seen. */
  async digest (path: string): Promise<Uint8Array> {
    if (this.#next < this.#count) {
      const handle = await open(path, 'r')
      try {
        const buffer = Buffer.allocUnsafe(this.#pieceSize)
        while (this.#next < this.#count) {
          const { start, end } = pieceRange(this.#next, this.#size, this.#pieceSize)
          const piece = buffer.subarray(0, end - start)
          let fill = 0
          while (fill < piece.byteLength) {
            const { bytesRead } = await handle.read(piece, fill, piece.byteLength - fill, start + fill)
            if (bytesRead === 0) break
            fill += bytesRead
          }
          this.#hash.update(piece.subarray(0, fill))
          this.#next++
          this.#drain()
        }
      } finally {
        await handle.close()
      }
    }
    return new Uint8Array(this.#hash.digest())
  }
}
