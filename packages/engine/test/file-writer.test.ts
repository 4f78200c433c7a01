import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DIRECT_ALIGN, PieceWriter, allocatePieceBuffers, syncDirectory, syncFile } from '../src/file-writer.js'

const MiB = 1 << 20
const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-writer-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

/** Whether this folder's file system takes O_DIRECT at all (tmpfs does not). */
async function supportsDirect (path: string): Promise<boolean> {
  try {
    const h = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT)
    await h.close()
    return true
  } catch {
    return false
  }
}

describe('PieceWriter', () => {
  it('writes whole aligned pieces directly and an unaligned last piece through the page cache, in place', async () => {
    const path = join(dir, 'f.tmp')
    const direct = await supportsDirect(join(dir, 'probe'))
    const data = randomBytes(3 * MiB + 1000)
    const handle = await open(path, 'w+')
    const writer = new PieceWriter(handle, path, true)
    const [a, b] = allocatePieceBuffers(2, MiB)
    // Out of order, as pieces from several peers arrive.
    for (const index of [2, 0, 3, 1]) {
      const piece = data.subarray(index * MiB, Math.min((index + 1) * MiB, data.byteLength))
      const buffer = index % 2 === 0 ? a! : b!
      buffer.set(piece)
      await writer.write(buffer.subarray(0, piece.byteLength), index * MiB)
    }
    await writer.close()
    await handle.close()
    expect(digest(await readFile(path))).toBe(digest(data))
    expect(writer.written.direct + writer.written.buffered).toBe(data.byteLength)
    expect(writer.written.buffered).toBe(direct ? 1000 : data.byteLength)
    expect(writer.written.direct).toBe(direct ? 3 * MiB : 0)
  })

  it('goes on buffered for the rest of the file when the kernel refuses a direct write (misaligned memory)', async () => {
    const path = join(dir, 'g.tmp')
    const data = randomBytes(2 * MiB)
    const handle = await open(path, 'w+')
    const writer = new PieceWriter(handle, path, true)
    // One byte past an aligned start: never aligned to DIRECT_ALIGN, so O_DIRECT fails with EINVAL.
    const misaligned = allocatePieceBuffers(1, 2 * MiB + DIRECT_ALIGN)[0]!.subarray(1, 1 + MiB)
    misaligned.set(data.subarray(0, MiB))
    await writer.write(misaligned, 0)
    const [aligned] = allocatePieceBuffers(1, MiB)
    aligned!.set(data.subarray(MiB))
    await writer.write(aligned!, MiB)
    await writer.close()
    await handle.close()
    expect(digest(await readFile(path))).toBe(digest(data))
    expect(writer.written).toEqual({ direct: 0, buffered: 2 * MiB })
  })

  it('writes through the page cache only, when asked to', async () => {
    const path = join(dir, 'h.tmp')
    const data = randomBytes(MiB)
    const handle = await open(path, 'w+')
    const writer = new PieceWriter(handle, path, false)
    const [buffer] = allocatePieceBuffers(1, MiB)
    buffer!.set(data)
    await writer.write(buffer!, 0)
    await writer.close()
    await handle.close()
    expect(digest(await readFile(path))).toBe(digest(data))
    expect(writer.written).toEqual({ direct: 0, buffered: MiB })
  })

  it('passes a failed buffered write on to the caller (here: its file was closed)', async () => {
    const path = join(dir, 'i.tmp')
    const handle = await open(path, 'w+')
    const writer = new PieceWriter(handle, path, false)
    await handle.close()
    await expect(writer.write(Buffer.alloc(DIRECT_ALIGN), 0)).rejects.toThrow(/fd/)
    await writer.close()
  })
})

describe('syncFile and syncDirectory', () => {
  it('flush a written file and its folder; a failing flush is LOCAL_FILE naming the file', async () => {
    const path = join(dir, 'f.tmp')
    const handle = await open(path, 'w')
    await handle.write(Buffer.from('bytes'))
    await syncFile(handle, path)
    await handle.close()
    await syncDirectory(dir)
    expect(await readFile(path, 'utf8')).toBe('bytes')
    // A closed handle fails for real (EBADF), as a disk error would.
    await expect(syncFile(handle, path)).rejects.toMatchObject({ code: 'LOCAL_FILE', context: 'local-file', path })
  })

  it('syncDirectory is best effort: a folder that cannot be opened is no error', async () => {
    await expect(syncDirectory(join(dir, 'missing'))).resolves.toBeUndefined()
  })
})
