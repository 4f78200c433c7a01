import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { sha256 } from '@dopt/content'

/**
 * The worker's whole program. It reads the piece where it lies, in the shared memory of the piece buffers, so a
 * piece crosses threads with no copy; only its 32-byte digest comes back. Kept as source text (an eval worker) so it
 * survives the CLI's bundling, which would break a path to a worker file. Dynamic imports, because an eval worker is
 * a CommonJS script or a module depending on the parent's flags (`--input-type=module`), and only those work in both.
 */
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:crypto')]).then(([{ parentPort }, { createHash }]) => {
  parentPort.on('message', ({ id, memory, offset, length }) => {
    const digest = createHash('sha256').update(new Uint8Array(memory, offset, length)).digest()
    parentPort.postMessage({ id, digest })
  })
})
`

interface Pending {
  bytes: Uint8Array
  resolve: (digest: Uint8Array) => void
  reject: (err: unknown) => void
}

interface Lane {
  worker: Worker
  online: boolean
  pending: Map<number, Pending>
}

export interface PieceHasherInit {
  /**
   * Hashing threads; 0 hashes every piece on the calling thread.
   * @default the cores less one, between 1 and 2
   */
  threads?: number
}

/**
 * SHA-256 of pieces on worker threads, so that receiving, hashing and writing run side by side: on the origin path
 * the hash of every byte on the receiving thread was what held dopt back where writes are cheap (tmpfs; 1.87 s
 * against 1.27 s without hashing for 1 GiB). WebCrypto's `subtle.digest` also runs off the event loop, but Node 20
 * copies the input on the calling thread first, and that cost as much as hashing there (measured: 0.62 against
 * 0.67 s of the main thread per GiB), so this is a worker of its own.
 *
 * Only bytes in a SharedArrayBuffer (the sink's piece buffers, see allocatePieceBuffers) go to a worker; others,
 * and every piece while no worker is up yet (its start takes tens of milliseconds: a small file needs none), are
 * hashed on the calling thread. A worker that fails or exits takes nothing with it: its pieces are hashed here. The
 * caller must leave the bytes unchanged until the promise settles (the sink keeps a buffer until its piece is
 * written). Idle workers do not keep the process alive; `close()` ends them.
 */
export class PieceHasher {
  readonly #threads: number
  readonly #lanes: Lane[] = []
  #next = 0
  #id = 0
  #closed = false

  constructor (init: PieceHasherInit = {}) {
    this.#threads = Math.max(0, Math.floor(init.threads ?? Math.min(2, Math.max(1, availableParallelism() - 1))))
  }

  /** Pieces hashed on the calling thread and on workers so far, for tests and diagnostics. */
  readonly counts = { inline: 0, worker: 0 }

  async hash (bytes: Uint8Array): Promise<Uint8Array> {
    const lane = this.#pick(bytes)
    if (lane == null) return this.#inline(bytes)
    const id = this.#id++
    return await new Promise<Uint8Array>((resolve, reject) => {
      lane.pending.set(id, { bytes, resolve, reject })
      if (lane.pending.size === 1) lane.worker.ref()
      lane.worker.postMessage({ id, memory: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength })
    })
  }

  #inline (bytes: Uint8Array): Uint8Array {
    this.counts.inline++
    const digest = sha256(bytes)
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
  }

  /** A worker that is up, round robin; starts the workers on first use. Null: hash on this thread. */
  #pick (bytes: Uint8Array): Lane | null {
    if (this.#closed || this.#threads === 0 || !(bytes.buffer instanceof SharedArrayBuffer)) return null
    if (this.#lanes.length === 0) for (let i = 0; i < this.#threads; i++) this.#start()
    for (let tries = 0; tries < this.#lanes.length; tries++) {
      const lane = this.#lanes[this.#next++ % this.#lanes.length]
      if (lane?.online === true) return lane
    }
    return null
  }

  #start (): void {
    let worker: Worker
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true })
    } catch {
      return // no threads here (a small limit): everything is hashed inline
    }
    worker.unref()
    const lane: Lane = { worker, online: false, pending: new Map() }
    this.#lanes.push(lane)
    worker.once('online', () => { lane.online = true })
    worker.on('message', ({ id, digest }: { id: number, digest: Uint8Array }) => {
      const job = lane.pending.get(id)
      if (job == null) return
      lane.pending.delete(id)
      if (lane.pending.size === 0) worker.unref()
      this.counts.worker++
      job.resolve(new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength))
    })
    const fail = (): void => {
      lane.online = false
      const i = this.#lanes.indexOf(lane)
      if (i >= 0) this.#lanes.splice(i, 1)
      // The bytes are still the caller's and unchanged: hash them here instead.
      for (const job of lane.pending.values()) {
        try { job.resolve(this.#inline(job.bytes)) } catch (err) { job.reject(err) }
      }
      lane.pending.clear()
    }
    worker.once('error', fail)
    worker.once('exit', fail)
  }

  /** Ends the workers; pieces still being hashed finish on the calling thread. Later pieces are hashed inline. */
  async close (): Promise<void> {
    this.#closed = true
    const lanes = this.#lanes.splice(0)
    await Promise.all(lanes.map(async lane => { await lane.worker.terminate() }))
  }

  /** Workers running now (for tests). */
  get workers (): number {
    return this.#lanes.length
  }
}
