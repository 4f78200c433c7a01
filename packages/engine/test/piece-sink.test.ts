import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sha256 } from '@dopt/content'
import { openLevelStore } from '@dopt/store'
import type { FileRecord, Store } from '@dopt/store'
import { JobFileImpl } from '../src/job-file.js'
import { PieceHasher } from '../src/piece-hasher.js'
import { PieceSink } from '../src/piece-sink.js'
import { engineSettings } from '../src/settings.js'

const PIECE = 64 * 1024
let dir: string
let store: Store
let handle: FileHandle
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-sink-'))
  store = await openLevelStore({ location: join(dir, 'db') })
})
afterEach(async () => {
  await handle?.close()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

/** A sink for a file of `pieces` pieces whose expected hashes are those of `data` (or `expected`). */
async function sinkFor (data: Buffer, expected?: Uint8Array[], hasher?: PieceHasher): Promise<{ sink: PieceSink, file: JobFileImpl }> {
  const temporaryName = join(dir, 'f.tmp')
  handle = await open(temporaryName, 'w+')
  const record = {
    jobId: 'j', index: 0, remoteName: 'http://127.0.0.1/f', localName: join(dir, 'f'), temporaryName, sha256: null,
    manifestCid: null, manifestPinned: false, size: data.byteLength, etag: null, lastModified: null, finalUrl: null,
    acceptRanges: true, pieceSize: PIECE, completed: false, validationState: 'unset', originOnly: false, transferredNotified: false
  } satisfies FileRecord
  const file = new JobFileImpl(record, { validateFile: async () => {}, getOwner: () => process.getuid?.() ?? 0, setFileSha256: async () => {} })
  const hashes = expected ?? Array.from({ length: data.byteLength / PIECE }, (_, i) => sha256(data.subarray(i * PIECE, (i + 1) * PIECE)))
  const sink = new PieceSink({
    file, handle, store, settings: engineSettings({ piecesInFlight: 2 }), expected: hashes, hashes: new Map(), onPiece: () => {},
    ...(hasher != null ? { hasher } : {})
  })
  return { sink, file }
}

/** Resolves at the sink's next change. */
async function nextChange (sink: PieceSink): Promise<void> {
  await new Promise<void>(resolve => { const off = sink.onChange(() => { off(); resolve() }) })
}

describe('PieceSink', () => {
  it('tells its listeners each time a piece is written and marked', async () => {
    const data = randomBytes(2 * PIECE)
    const { sink, file } = await sinkFor(data)
    for (const index of [1, 0]) {
      const buffer = await sink.allocate()
      buffer.set(data.subarray(index * PIECE, (index + 1) * PIECE))
      const changed = nextChange(sink)
      sink.accept(index, buffer, PIECE, 'peer')
      await changed
      expect(file.done!.get(index)).toBe(true) // marked by the time listeners hear of it
    }
    expect(file.done!.full).toBe(true)
    await sink.close()
    expect((await readFile(join(dir, 'f.tmp'))).equals(data)).toBe(true)
  })

  it('tells its listeners when a piece fails, with the error in place', async () => {
    const data = randomBytes(PIECE)
    const { sink, file } = await sinkFor(data, [new Uint8Array(32)]) // a manifest hash no piece has
    const buffer = await sink.allocate()
    buffer.set(data)
    const changed = nextChange(sink)
    sink.accept(0, buffer, PIECE, 'peer')
    await changed
    expect(sink.error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(file.done!.get(0)).toBe(false)
    await sink.close().catch(() => {})
  })

  it('with a hasher, writes and marks a piece only once its hash is in and matches', async () => {
    const hasher = new PieceHasher({ threads: 1 })
    try {
      const data = randomBytes(4 * PIECE)
      const wrong = Array.from({ length: 4 }, (_, i) => sha256(data.subarray(i * PIECE, (i + 1) * PIECE)))
      wrong[2] = new Uint8Array(32) // the manifest says otherwise for piece 2
      const { sink, file } = await sinkFor(data, wrong, hasher)
      const seen: number[] = []
      sink.onChange(() => { for (let i = 0; i < 4; i++) if (file.done!.get(i) && !seen.includes(i)) seen.push(i) })
      for (const index of [0, 1, 3, 2]) { // piece 2 last: once it fails, the sink hands out no more buffers
        const buffer = await sink.allocate()
        buffer.set(data.subarray(index * PIECE, (index + 1) * PIECE))
        // A hash still being computed (as the origin source hands pieces over), and one left to the sink.
        sink.accept(index, buffer, PIECE, 'origin', index % 2 === 0 ? hasher.hash(buffer.subarray(0, PIECE)) : undefined)
      }
      await expect(sink.close()).rejects.toMatchObject({ code: 'VALIDATION_FAILED' })
      expect(file.done!.get(2)).toBe(false)
      expect(seen).not.toContain(2)
      const written = await readFile(join(dir, 'f.tmp'))
      // Piece 2 never reached the file (it stays a hole of zeros, or short of it).
      const two = written.subarray(2 * PIECE, 3 * PIECE)
      expect(two.equals(data.subarray(2 * PIECE, 3 * PIECE))).toBe(false)
      for (const i of seen) expect(written.subarray(i * PIECE, (i + 1) * PIECE).equals(data.subarray(i * PIECE, (i + 1) * PIECE))).toBe(true)
      expect(seen).toContain(0)
    } finally {
      await hasher.close()
    }
  })

  it('fails a piece whose promised hash rejects, without writing it', async () => {
    const data = randomBytes(PIECE)
    const { sink, file } = await sinkFor(data)
    const buffer = await sink.allocate()
    buffer.set(data)
    sink.accept(0, buffer, PIECE, 'origin', Promise.reject(new Error('hashing failed')))
    await expect(sink.close()).rejects.toThrow('hashing failed')
    expect(file.done!.get(0)).toBe(false)
    expect((await readFile(join(dir, 'f.tmp'))).byteLength).toBe(0)
  })
})
