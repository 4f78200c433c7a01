import { constants } from 'node:fs'
import { open } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { DIRECT_ALIGN, allocatePieceBuffers, openDirect } from './file-writer.js'

/**
 * How the seeding cache reads the pieces it serves.
 *
 * Direct I/O first (O_DIRECT), into a few reused page-aligned buffers, then one copy into the piece handed to the
 * network. A seed mostly serves files nobody has read lately (and dopt writes its own downloads past the page
 * cache), so a buffered read would first fill page-cache pages: on the VMs dopt is benchmarked on, whose freed
 * memory goes back to the host, that measured ~3 s of system time per GiB read cold, against ~0.15 s for direct
 * reads (benchmarks/peer, docs/benchmarks.md). A fleet machine serving its peers also keeps its own working set
 * in the page cache that way. The copy out is what lets the aligned buffers be reused at once: the piece may sit
 * in a stream's queue for as long as the peer takes to read it.
 *
 * Buffered reads otherwise: file systems without O_DIRECT (tmpfs), unaligned offsets (a piece size that is not a
 * multiple of 4 KiB), and the rest of a file's life after a direct read fails with EINVAL.
 */
export class PieceReader {
  readonly #path: string
  #buffered: Promise<FileHandle> | null = null
  #direct: Promise<FileHandle | null>
  /** Bytes read each way, for tests and diagnostics. */
  readonly bytesRead = { direct: 0, buffered: 0 }

  constructor (path: string, direct: boolean) {
    this.#path = path
    this.#direct = direct ? openDirect(path, constants.O_RDONLY) : Promise.resolve(null)
    this.#direct.catch(() => {}) // a file that cannot be opened fails its reads; it is not an unhandled rejection
  }

  /** Reads `into.byteLength` bytes at `position`; returns how many there were (fewer at the end of the file). */
  async read (into: Buffer, position: number): Promise<number> {
    const direct = await this.#direct
    if (direct != null && position % DIRECT_ALIGN === 0) {
      const span = Math.ceil(into.byteLength / DIRECT_ALIGN) * DIRECT_ALIGN
      const aligned = takeAligned(span)
      try {
        const { bytesRead } = await direct.read(aligned, 0, span, position)
        const n = Math.min(bytesRead, into.byteLength)
        aligned.copy(into, 0, 0, n)
        this.bytesRead.direct += n
        return n
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        // Opened with O_DIRECT but refused (misaligned memory, a file system that accepts the flag only): buffered
        // from now on.
        this.#direct = Promise.resolve(null)
        await direct.close().catch(() => {})
      } finally {
        giveBack(aligned)
      }
    }
    this.#buffered ??= open(this.#path, 'r')
    const { bytesRead } = await (await this.#buffered).read(into, 0, into.byteLength, position)
    this.bytesRead.buffered += bytesRead
    return bytesRead
  }

  /** The file's status (inode, size, change time: what tells a file changed on disk). */
  async stat (): Promise<BigIntStats> {
    const handle = await this.#direct ?? await (this.#buffered ??= open(this.#path, 'r'))
    return await handle.stat({ bigint: true })
  }

  async close (): Promise<void> {
    const [direct, buffered] = await Promise.all([
      this.#direct.catch(() => null),
      this.#buffered?.catch(() => null) ?? null
    ])
    this.#direct = Promise.resolve(null)
    this.#buffered = null
    await Promise.all([direct?.close(), buffered?.close()])
  }
}

/** Page-aligned read buffers by size, reused: a few per size are kept, more are made while reads overlap. */
const POOL_PER_SIZE = 8
const pool = new Map<number, Buffer[]>()

function takeAligned (size: number): Buffer {
  return pool.get(size)?.pop() ?? allocatePieceBuffers(1, size)[0]!
}

function giveBack (buffer: Buffer): void {
  let free = pool.get(buffer.byteLength)
  if (free === undefined) pool.set(buffer.byteLength, free = [])
  if (free.length < POOL_PER_SIZE) free.push(buffer)
}
