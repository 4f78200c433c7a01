import { writeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

/**
 * Bytes per write(2) when a piece goes into its temporary file.
 *
 * Linux gives a large write a large page-cache folio. On a VM that hands freed memory back to its host
 * (virtio-balloon free page reporting, as on the machines dopt is benchmarked on), filling fresh large folios costs
 * host page faults: one 1 MiB write per piece measured 0.3 s of system time per GiB when an earlier writer had just
 * freed the memory and 2-4 s when not (every dopt round after a curl round in benchmarks/origin paid it). Writes of
 * 16 KiB (curl's size) stay on small folios and cost ~0.5 s per GiB every time.
 */
export const WRITE_CHUNK = 16 * 1024

/**
 * Writes all of `bytes` at `position` of the open file `handle`, on the calling thread.
 *
 * Synchronous on purpose: the piece was just received and hashed on this thread, so it is still in this core's
 * cache; handing it to another thread (libuv's pool, or a worker of our own) measured 1.5-2x the CPU per GiB on
 * 2-core machines, where the receiving thread, the writing thread and the local origin or peer then compete for two
 * cores and the piece crosses between them. A page-cache write of 1 MiB blocks the event loop for about half a
 * millisecond.
 */
export function writeAt (handle: FileHandle, bytes: Uint8Array, position: number): void {
  let written = 0
  while (written < bytes.byteLength) {
    written += writeSync(handle.fd, bytes, written, Math.min(WRITE_CHUNK, bytes.byteLength - written), position + written)
  }
}
