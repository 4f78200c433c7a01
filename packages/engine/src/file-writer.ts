import { constants, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { LocalFileError } from '@dopt/interface'
import type { FileHandle } from 'node:fs/promises'

/**
 * How pieces get into their temporary file.
 *
 * Direct I/O first (O_DIRECT): whole, aligned pieces go from the piece buffer to the disk on libuv's thread pool,
 * with no page-cache copy. The pool thread only waits for the device, so it takes no CPU from the thread that
 * receives and hashes, and the page cache is left to what the machine is using (a fleet machine downloading an
 * update does not evict its working set for it). It also sidesteps a cost of VMs that hand freed memory back to
 * their host (virtio-balloon free page reporting, as on the machines dopt is benchmarked on): filling page-cache
 * pages in such fresh memory measured 2-5 s of system time per GiB, against ~0.3 s for the same writes when the
 * memory had just been freed by an earlier writer (benchmarks/origin; docs/benchmarks.md).
 *
 * Buffered writes otherwise: on file systems without O_DIRECT (tmpfs, some FUSE), for pieces that are not whole
 * multiples of the alignment (the last piece of a file, odd piece sizes), and for the rest of a file after a direct
 * write fails with EINVAL. They run on the calling thread, in 16 KiB system calls: the piece is still in this core's
 * cache (handing it to another thread measured 1.5-2x the CPU per GiB on 2 cores), and small writes keep to small
 * page-cache folios, which cost less than large ones in fresh memory.
 */
export const WRITE_CHUNK = 16 * 1024
/** Offset, length and memory alignment for direct I/O (the largest logical block size in common use). */
export const DIRECT_ALIGN = 4096
const WASM_PAGE = 64 * 1024

/**
 * `count` piece buffers of `size` bytes, page-aligned so they can be written with direct I/O. Node offers no aligned
 * allocation, but a WebAssembly memory starts on a page boundary; a wrong guess only costs the direct path (the
 * first direct write fails with EINVAL and the file goes on buffered).
 */
export function allocatePieceBuffers (count: number, size: number): Buffer[] {
  if (count > 0) {
    try {
      const pages = Math.ceil((count * size) / WASM_PAGE)
      // Shared, so that a hashing thread can read a piece where it lies (piece-hasher.ts).
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
      return Array.from({ length: count }, (_, i) => Buffer.from(memory.buffer, i * size, size))
    } catch {
      // No room for a WebAssembly memory (a small address-space limit): plain buffers, written buffered.
    }
  }
  return Array.from({ length: count }, () => Buffer.allocUnsafe(size))
}

/**
 * Opens `path` for direct I/O with `flags` (O_RDONLY, O_WRONLY); null where the platform or the file system has no
 * direct I/O (no O_DIRECT, or EINVAL). Other errors (a missing file) are thrown.
 */
export async function openDirect (path: string, flags: number): Promise<FileHandle | null> {
  const direct = (constants as Record<string, number | undefined>).O_DIRECT
  if (direct === undefined) return null
  try {
    return await open(path, flags | direct)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return null
    throw err
  }
}

/** Writes all of `bytes` at `position` through the page cache, on the calling thread, in WRITE_CHUNK calls. */
export function writeBuffered (handle: FileHandle, bytes: Uint8Array, position: number): void {
  let written = 0
  while (written < bytes.byteLength) {
    written += writeSync(handle.fd, bytes, written, Math.min(WRITE_CHUNK, bytes.byteLength - written), position + written)
  }
}

/** The writes of one transfer into its temporary file: direct where it can, buffered where it must. */
export class PieceWriter {
  readonly #handle: FileHandle
  #direct: Promise<FileHandle | null>
  /** Bytes written each way, for tests and diagnostics. */
  readonly written = { direct: 0, buffered: 0 }

  /** `handle` is the transfer's own (buffered) handle of `path`; a second, direct one is opened when `direct`. */
  constructor (handle: FileHandle, path: string, direct: boolean) {
    this.#handle = handle
    // Any failure to open it leaves the buffered handle, which works.
    this.#direct = direct ? openDirect(path, constants.O_WRONLY | constants.O_NOFOLLOW).catch(() => null) : Promise.resolve(null)
  }

  async write (bytes: Uint8Array, position: number): Promise<void> {
    const direct = await this.#direct
    if (direct != null && position % DIRECT_ALIGN === 0 && bytes.byteLength % DIRECT_ALIGN === 0) {
      try {
        let written = 0
        while (written < bytes.byteLength) {
          const { bytesWritten } = await direct.write(bytes, written, bytes.byteLength - written, position + written)
          written += bytesWritten
        }
        this.written.direct += bytes.byteLength
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        // Misaligned memory, or a file system that opens O_DIRECT but refuses it: buffered from now on.
        this.#direct = Promise.resolve(null)
        await direct.close().catch(() => {})
      }
    }
    writeBuffered(this.#handle, bytes, position)
    this.written.buffered += bytes.byteLength
  }

  async close (): Promise<void> {
    const direct = await this.#direct
    this.#direct = Promise.resolve(null)
    await direct?.close()
  }
}

/** Flushes a file's data and size to the disk (fdatasync); LOCAL_FILE if the disk reports an error. */
export async function syncFile (handle: FileHandle, path: string): Promise<void> {
  try {
    await handle.datasync()
  } catch (err) {
    throw new LocalFileError(`cannot flush ${path} to the disk: ${(err as Error).message}`, { cause: err, context: 'local-file', path })
  }
}

/**
 * Makes the renames into `dir` durable (fsync of the folder), so that a power loss after `complete()` cannot bring
 * back the temporary names. Best effort: some platforms and file systems cannot open or sync a folder (Windows,
 * some network file systems); the rename itself has happened either way.
 */
export async function syncDirectory (dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // See above: nothing more to do where folders cannot be synced.
  } finally {
    await handle?.close().catch(() => {})
  }
}
