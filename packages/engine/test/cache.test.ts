import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeManifest, manifestCid, pieceCount, sha256 } from '@dopt/content'
import { openLevelStore } from '@dopt/store'
import type { FileRecord, Store } from '@dopt/store'
import { SeedCache } from '../src/cache.js'

const PIECE = 64 * 1024
let dir: string
let store: Store
let cache: SeedCache
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-cache-'))
  store = await openLevelStore({ location: join(dir, 'db') })
  cache = new SeedCache({ store }, { dir: join(dir, 'cache'), minFileSizeToCache: 0 })
  await cache.start(null)
})
afterEach(async () => {
  await cache.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

/** A delivered file of `size` bytes with its manifest stored, added to the cache. */
async function cached (size: number): Promise<{ cid: string, data: Buffer, path: string }> {
  const data = randomBytes(size)
  const localName = join(dir, 'delivered.bin')
  await writeFile(localName, data)
  const pieceHashes = Array.from({ length: pieceCount(size, PIECE) }, (_, i) => sha256(data.subarray(i * PIECE, (i + 1) * PIECE)))
  const encoded = encodeManifest({ size, pieceSize: PIECE, pieceHashes, sha256: null, source: { url: 'http://127.0.0.1/x', etag: '"1"', lastModified: null } })
  const cid = manifestCid(encoded).toString()
  await store.putManifest(cid, encoded)
  const record = {
    jobId: 'j', index: 0, remoteName: 'http://127.0.0.1/x', localName, temporaryName: `${localName}.tmp`, sha256: null,
    manifestCid: cid, manifestPinned: false, size, etag: '"1"', lastModified: null, finalUrl: null, acceptRanges: true,
    pieceSize: PIECE, completed: true, validationState: 'valid', originOnly: false, transferredNotified: true
  } satisfies FileRecord
  const item = await cache.add(record)
  return { cid, data, path: item!.path }
}

describe('SeedCache serving', () => {
  /** Reads every piece of the `count`-piece item `cid` through `from`, checking each against `data`. */
  async function readAll (from: SeedCache, cid: string, data: Buffer, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      expect(Buffer.from((await from.readPiece(cid, i))!).equals(data.subarray(i * PIECE, (i + 1) * PIECE))).toBe(true)
    }
  }

  /** A second cache on the same store and folder: the seed after a restart. */
  async function restarted (): Promise<SeedCache> {
    const again = new SeedCache({ store }, { dir: join(dir, 'cache'), minFileSizeToCache: 0 })
    await again.start(null)
    return again
  }

  it('serves a file as it was added without hashing it again, also after a restart', async () => {
    const { cid, data } = await cached(4 * PIECE)
    await readAll(cache, cid, data, 4)
    expect(cache.verifiedBytes).toBe(0)
    const again = await restarted()
    await readAll(again, cid, data, 4)
    expect(again.verifiedBytes).toBe(0)
    await again.stop()
  })

  it('checks a piece once after the file changed identity, whatever the number of peers asking, and remembers it', async () => {
    const { cid, data, path } = await cached(4 * PIECE)
    // Past the file system's timestamp granularity (coarse ctime on older kernels), so the change shows.
    await new Promise(resolve => setTimeout(resolve, 20))
    await chmod(path, 0o600) // the change time moves, the bytes do not
    for (let round = 0; round < 3; round++) await readAll(cache, cid, data, 4)
    expect(cache.verifiedBytes).toBe(4 * PIECE)
    const again = await restarted()
    await readAll(again, cid, data, 4)
    expect(again.verifiedBytes).toBe(0)
    await again.stop()
  })

  it('never serves a piece changed on disk after it was checked, and drops the item', async () => {
    const { cid, path } = await cached(4 * PIECE)
    expect(await cache.readPiece(cid, 1)).not.toBeNull()
    // Past the file system's timestamp granularity (coarse ctime on older kernels), so the change shows.
    await new Promise(resolve => setTimeout(resolve, 20))
    // Same size, other bytes, in place (the cache's copy is a hard link to the delivered file).
    const handle = await open(path, 'r+')
    await handle.write(randomBytes(100), 0, 100, PIECE + 10)
    await handle.close()
    expect(await cache.readPiece(cid, 1)).toBeNull()
    expect(cache.has(cid)).toBe(false)
    expect(await cache.readPiece(cid, 0)).toBeNull()
  })
})
