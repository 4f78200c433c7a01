import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MIN_PIECE_SIZE, decodeManifest, manifestCid, manifestOfFile, pieceCount } from '../src/index.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-publish-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

describe('manifestOfFile', () => {
  it('hashes each piece and the whole file; the CID names the encoded bytes', async () => {
    const data = new Uint8Array(3 * MIN_PIECE_SIZE + 123).map((_, i) => (i * 7) & 0xff)
    const path = join(dir, 'f.bin')
    await writeFile(path, data)
    const { manifest, bytes, cid } = await manifestOfFile(path, { pieceSize: MIN_PIECE_SIZE })
    expect(manifest.size).toBe(data.byteLength)
    expect(manifest.pieceHashes).toHaveLength(pieceCount(data.byteLength, MIN_PIECE_SIZE))
    for (let i = 0; i < manifest.pieceHashes.length; i++) {
      expect(Buffer.from(manifest.pieceHashes[i]!)).toEqual(sha(data.subarray(i * MIN_PIECE_SIZE, (i + 1) * MIN_PIECE_SIZE)))
    }
    expect(Buffer.from(manifest.sha256!)).toEqual(sha(data))
    expect(manifestCid(bytes).toString()).toBe(cid)
    expect(decodeManifest(bytes)).toEqual(manifest)
  })

  it('describes an empty file and a file of exactly one piece', async () => {
    await writeFile(join(dir, 'empty'), new Uint8Array(0))
    expect((await manifestOfFile(join(dir, 'empty'))).manifest.pieceHashes).toHaveLength(0)
    await writeFile(join(dir, 'one'), new Uint8Array(MIN_PIECE_SIZE))
    expect((await manifestOfFile(join(dir, 'one'), { pieceSize: MIN_PIECE_SIZE })).manifest.pieceHashes).toHaveLength(1)
  })

  it('refuses a piece size out of range, with the range in the message', async () => {
    await writeFile(join(dir, 'x'), new Uint8Array(10))
    await expect(manifestOfFile(join(dir, 'x'), { pieceSize: 1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('from 16384') })
  })
})
