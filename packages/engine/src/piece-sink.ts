import { equalBytes, sha256 as sha256Here } from '@dopt/content'
import { LocalFileError, ValidationFailedError } from '@dopt/interface'
import type { AbortOptions } from '@dopt/interface'
import type { Store } from '@dopt/store'
import type { FileHandle } from 'node:fs/promises'
import type { JobFileImpl } from './job-file.js'
import type { PieceHasher } from './piece-hasher.js'
import type { PieceOrigin, PieceSinkLike } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import { PieceWriter, allocatePieceBuffers } from './file-writer.js'

export interface PieceSinkInit {
  file: JobFileImpl
  handle: FileHandle
  store: Store
  settings: EngineSettings
  /** Expected piece hashes (from a manifest), if any. */
  expected: Uint8Array[] | null
  /** Hashes pieces that come without a hash; without it they are hashed on the calling thread. */
  hasher?: PieceHasher
  /** Hashes of verified pieces, filled as pieces land (to build the manifest at the end). */
  hashes: Map<number, Uint8Array>
  /** Called after each piece is written and marked. */
  onPiece(index: number, length: number, from: PieceOrigin, sha256: Uint8Array): void
  /** Called with each piece as it is handed over, before it is written (the bytes are the sink's until then). */
  onAccept?(index: number, bytes: Uint8Array): void
}

/**
 * Checks and writes whole pieces with a fixed pool of buffers, so memory stays bounded. Writes bypass the page cache
 * where the file system allows, else go into it from the receiving thread (file-writer.ts says why). Sources that
 * hash the piece pass its hash (or its promise, awaited before anything else); other pieces are hashed here, by the
 * hasher when one is given. Bitmaps are saved in batches:
 * a piece is marked only after its bytes are written, so a crash can lose marks (the piece is fetched again) but
 * never mark a piece that is not on disk.
 */
export class PieceSink implements PieceSinkLike {
  readonly #init: PieceSinkInit
  readonly #free: Buffer[] = []
  readonly #waiters: Array<{ resolve: (b: Buffer) => void, reject: (err: unknown) => void }> = []
  readonly #inFlight = new Set<Promise<void>>()
  #error: unknown = null
  #pendingHashes: Array<[number, Uint8Array]> = []
  #unsaved = 0
  #flushTimer: NodeJS.Timeout | null = null
  #flushing: Promise<void> = Promise.resolve()
  readonly #writer: PieceWriter
  readonly #listeners = new Set<() => void>()

  constructor (init: PieceSinkInit) {
    this.#init = init
    const { settings, file } = init
    this.#free.push(...allocatePieceBuffers(settings.piecesInFlight, file.record.pieceSize))
    this.#writer = new PieceWriter(init.handle, file.temporaryName, settings.directWrites)
  }

  /**
   * Calls `listener` after each piece is written and marked, and when a piece fails; returns what removes it. For a
   * scheduler that waits for the last pieces to land (polling instead left up to its poll interval on every file).
   */
  onChange (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #changed (): void {
    for (const listener of [...this.#listeners]) listener()
  }

  /** The first error of a piece (a failed write or a hash mismatch), or null. */
  get error (): unknown {
    return this.#error
  }

  tryAllocate (): Buffer | null {
    this.#throwIfFailed()
    return this.#free.pop() ?? null
  }

  async allocate (options: AbortOptions = {}): Promise<Buffer> {
    options.signal?.throwIfAborted()
    const buffer = this.tryAllocate()
    if (buffer != null) return buffer
    return await new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(options.signal?.reason)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const waiter = {
        resolve: (b: Buffer) => { options.signal?.removeEventListener('abort', onAbort); resolve(b) },
        reject: (err: unknown) => { options.signal?.removeEventListener('abort', onAbort); reject(err) }
      }
      this.#waiters.push(waiter)
    })
  }

  release (buffer: Buffer): void {
    const waiter = this.#waiters.shift()
    if (waiter != null) waiter.resolve(buffer)
    else this.#free.push(buffer)
  }

  accept (index: number, buffer: Buffer, length: number, from: PieceOrigin, sha256?: Uint8Array | Promise<Uint8Array>): void {
    this.#init.onAccept?.(index, buffer.subarray(0, length))
    const task = this.#store(index, buffer, length, from, sha256)
      .catch(err => {
        this.#error ??= err
        for (const w of this.#waiters.splice(0)) w.reject(err)
        this.#changed()
      })
      .finally(() => { this.#inFlight.delete(task); this.release(buffer) })
    this.#inFlight.add(task)
  }

  async #store (index: number, buffer: Buffer, length: number, from: PieceOrigin, sha256?: Uint8Array | Promise<Uint8Array>): Promise<void> {
    const { file, expected } = this.#init
    const bytes = buffer.subarray(0, length)
    const hash = await (sha256 ?? this.#init.hasher?.hash(bytes) ?? sha256Here(bytes))
    const want = expected?.[index]
    if (want != null && !equalBytes(want, hash)) {
      throw new ValidationFailedError(`piece ${index} of ${file.remoteName} does not match its manifest`, { context: 'remote-file', url: file.remoteName })
    }
    // Two sources may race for a piece at the end (endgame): the first one written wins.
    if (file.done?.get(index) === true) return
    // Started in the order pieces were accepted. Buffered writes are synchronous, so one at a time; direct writes
    // overlap on the thread pool, so the next one starts as soon as the device takes it, not after a round trip
    // through this (busy) thread.
    await this.#write(bytes, index * file.record.pieceSize)
    if (file.done?.get(index) === true) return
    file.done?.set(index)
    file.fromPeer?.set(index, from === 'peer')
    this.#init.hashes.set(index, hash)
    this.#pendingHashes.push([index, hash])
    this.#init.onPiece(index, length, from, hash)
    this.#changed()
    if (++this.#unsaved >= this.#init.settings.flushPieces) this.#flushInBackground()
    else this.#flushTimer ??= setTimeout(() => { this.#flushInBackground() }, this.#init.settings.flushInterval)
  }

  #flushInBackground (): void {
    this.flush().catch(err => { this.#error ??= err })
  }

  async #write (bytes: Uint8Array, position: number): Promise<void> {
    const { file } = this.#init
    try {
      await this.#writer.write(bytes, position)
    } catch (err) {
      throw new LocalFileError(`cannot write ${file.temporaryName}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: file.temporaryName })
    }
  }

  /** Waits for every accepted piece; throws the first piece error. */
  async drain (): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
    this.#throwIfFailed()
  }

  /**
   * Saves the bitmaps, new hashes and the file's record (its byte counters) in one batch, so a crash never leaves
   * verified pieces that no counter accounts for; saves are serialized so an older bitmap never overwrites a newer one.
   */
  async flush (): Promise<void> {
    if (this.#flushTimer != null) { clearTimeout(this.#flushTimer); this.#flushTimer = null }
    const { file, store } = this.#init
    if (file.done == null || file.fromPeer == null) return
    const update = { done: file.done.toBytes(), fromPeer: file.fromPeer.toBytes(), hashes: this.#pendingHashes, file: file.record }
    this.#pendingHashes = []
    this.#unsaved = 0
    this.#flushing = this.#flushing.then(async () => { await store.putPieces(file.record.jobId, file.index, update) })
    await this.#flushing
  }

  /** Drains, saves and stops the timer, whatever happened; rethrows the first error of the pieces, if any. */
  async close (): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
    await this.#writer.close()
    await this.flush()
    this.#throwIfFailed()
  }

  #throwIfFailed (): void {
    if (this.#error != null) throw this.#error
  }
}
