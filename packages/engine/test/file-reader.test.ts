import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PieceReader } from '../src/file-reader.js'

const MiB = 1 << 20
let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-reader-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

/** Whether this folder's file system takes O_DIRECT at all (tmpfs does not). */
async function supportsDirect (path: string): Promise<boolean> {
  try {
    const h = await open(path, constants.O_RDONLY | constants.O_DIRECT)
    await h.close()
    return true
  } catch {
    return false
  }
}

/** Reads piece `index` of `size` bytes-per-piece into a fresh buffer; returns what was read. */
async function piece (reader: PieceReader, data: Buffer, index: number, size: number): Promise<Buffer> {
  const into = Buffer.alloc(Math.min(size, data.byteLength - index * size))
  const n = await reader.read(into, index * size)
  return into.subarray(0, n)
}

describe('PieceReader', () => {
  it('reads whole pieces directly and the short last piece too, in any order, with several at once', async () => {
    const path = join(dir, 'f.bin')
    const data = randomBytes(4 * MiB + 1000)
    await writeFile(path, data)
    const direct = await supportsDirect(path)
    const reader = new PieceReader(path, true)
    const got = await Promise.all([4, 1, 0, 3, 2].map(async i => [i, await piece(reader, data, i, MiB)] as const))
    for (const [i, bytes] of got) expect(bytes.equals(data.subarray(i * MiB, (i + 1) * MiB))).toBe(true)
    expect(reader.bytesRead.direct + reader.bytesRead.buffered).toBe(data.byteLength)
    expect(reader.bytesRead.direct).toBe(direct ? data.byteLength : 0)
    // Past the end: nothing.
    expect(await reader.read(Buffer.alloc(MiB), 5 * MiB)).toBe(0)
    expect((await reader.stat()).size).toBe(BigInt(data.byteLength))
    await reader.close()
  })

  it('reads pieces at unaligned offsets, and everything when direct reads are off, through the page cache', async () => {
    const path = join(dir, 'g.bin')
    const data = randomBytes(10_000)
    await writeFile(path, data)
    const unaligned = new PieceReader(path, true)
    for (const i of [0, 1, 2, 3]) expect((await piece(unaligned, data, i, 3000)).equals(data.subarray(i * 3000, (i + 1) * 3000))).toBe(true)
    // Offset 0 is aligned; 3000, 6000 and 9000 are not.
    expect(unaligned.bytesRead.buffered).toBeGreaterThanOrEqual(7000)
    await unaligned.close()

    const off = new PieceReader(path, false)
    expect((await piece(off, data, 0, 8192)).equals(data.subarray(0, 8192))).toBe(true)
    expect(off.bytesRead).toEqual({ direct: 0, buffered: 8192 })
    await off.close()
  })

  it('fails the reads of a file that is gone, and closes cleanly', async () => {
    const reader = new PieceReader(join(dir, 'missing.bin'), true)
    await expect(reader.read(Buffer.alloc(4096), 0)).rejects.toMatchObject({ code: 'ENOENT' })
    await reader.close()
  })
})
