import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sha256 } from '@dopt/content'
import { EntryKind } from '@dopt/interface'
import type { ContentEntry } from '@dopt/interface'
import type { FileRecord } from '@dopt/store'
import { JobFileImpl } from '../src/job-file.js'
import { LiveContent, LiveRegistry } from '../src/live-content.js'
import { PieceMemory } from '../src/piece-memory.js'

const PIECE = 64 * 1024
const COUNT = 4
let dir: string
let data: Buffer
let file: JobFileImpl
let live: LiveContent
let registry: LiveRegistry
let heard: ContentEntry[]

/** A running download of COUNT pieces, its temporary file on disk, served by content key (no manifest). */
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-live-'))
  data = randomBytes(COUNT * PIECE)
  const temporaryName = join(dir, '.f.tmp')
  await writeFile(temporaryName, data)
  const record: FileRecord = {
    jobId: 'j', index: 0, remoteName: 'http://127.0.0.1/f', localName: join(dir, 'f'), temporaryName, sha256: null,
    manifestCid: null, manifestPinned: false, size: data.byteLength, etag: '"1"', lastModified: null, finalUrl: null,
    acceptRanges: true, pieceSize: PIECE, completed: false, validationState: 'unset', originOnly: false, transferredNotified: false
  }
  file = new JobFileImpl(record, { validateFile: async () => {}, getOwner: () => process.getuid?.() ?? 0, setFileSha256: async () => {} })
  file.hashes = new Map()
  registry = new LiveRegistry()
  live = new LiveContent({ file, contentKey: 'bkey', manifest: null, hashes: file.hashes, memory: new PieceMemory(1 << 20), directReads: false, registry })
  heard = []
})
afterEach(async () => {
  await live.close('gone')
  await rm(dir, { recursive: true, force: true })
})

const piece = (i: number): Buffer => data.subarray(i * PIECE, (i + 1) * PIECE)
/** The piece lands on disk (as the sink marks it after its write). */
function written (i: number, fromPeer: boolean): void {
  file.done!.set(i)
  file.fromPeer!.set(i, fromPeer)
  file.hashes!.set(i, sha256(piece(i)))
}

describe('a running download as a source for peers', () => {
  it('vouches for what it fetched from the origin, passes on what a peer vouched for without vouching, serves nothing else', async () => {
    const sub = live.subscribe('bkey', e => heard.push(...e), () => {})!
    expect(sub).toMatchObject({ pieceCount: COUNT, pieceSize: PIECE, complete: false })
    live.fromOrigin(0, sha256(piece(0)))
    written(0, false)
    live.fromPeer(1, piece(1), true) // its hash was vouched for by another peer
    written(1, true)
    live.fromPeer(2, piece(2), false) // nobody vouched: only the sender's word
    written(2, true)
    expect(heard).toEqual([{ kind: EntryKind.VOUCH, index: 0, hash: sha256(piece(0)) }, { kind: EntryKind.HAVE, index: 1 }])
    expect([...live.have().setBits()]).toEqual([0, 1])
    expect(Buffer.from(await live.readPiece(0) as Uint8Array).equals(piece(0))).toBe(true)
    expect(Buffer.from(await live.readPiece(1) as Uint8Array).equals(piece(1))).toBe(true)
    expect(await live.readPiece(2)).toBeNull()
    expect(await live.readPiece(3)).toBeNull()
  })

  it('vouches for every piece once the file passed its end-to-end check', async () => {
    live.fromOrigin(0, sha256(piece(0)))
    written(0, false)
    written(1, true)
    live.fromPeer(1, piece(1), true)
    written(2, true)
    live.subscribe('bkey', e => heard.push(...e), () => {})
    live.checked()
    expect(heard).toEqual([{ kind: EntryKind.VOUCH, index: 1, hash: sha256(piece(1)) }, { kind: EntryKind.VOUCH, index: 2, hash: sha256(piece(2)) }])
    expect([...live.have().setBits()]).toEqual([0, 1, 2])
  })

  it('serves a piece claimed from the origin while its bytes arrive, and tells subscribers it fetches it', async () => {
    live.subscribe('bkey', e => heard.push(...e), () => {})
    live.claim([3])
    expect(heard).toEqual([{ kind: EntryKind.INTENT, index: 3 }])
    const streaming = await live.readPiece(3)
    if (streaming == null || streaming instanceof Uint8Array) throw new Error('expected a piece still arriving')
    live.arriving(3, 0, piece(3).subarray(0, 1000))
    const first = await streaming.read(0, AbortSignal.timeout(1000))
    expect(Buffer.from(first).equals(piece(3).subarray(0, 1000))).toBe(true)
    const rest = streaming.read(1000, AbortSignal.timeout(1000))
    live.arriving(3, 1000, piece(3).subarray(1000))
    expect(Buffer.from(await rest).equals(piece(3).subarray(1000))).toBe(true)
    live.fromOrigin(3, sha256(piece(3)))
    expect(heard.at(-1)).toEqual({ kind: EntryKind.VOUCH, index: 3, hash: sha256(piece(3)) })
    // Whole, from memory now (not yet written to disk).
    expect(Buffer.from(await live.readPiece(3) as Uint8Array).equals(piece(3))).toBe(true)
  })

  it('a claimed piece the origin will not send fails its readers, and subscribers hear it was given up', async () => {
    live.subscribe('bkey', e => heard.push(...e), () => {})
    live.claim([2])
    const streaming = await live.readPiece(2)
    if (streaming == null || streaming instanceof Uint8Array) throw new Error('expected a piece still arriving')
    const reading = streaming.read(0, AbortSignal.timeout(1000)).catch((e: Error) => e.name)
    live.unclaim([2])
    expect(await reading).toBe('PieceUnavailableError')
    expect(heard).toEqual([{ kind: EntryKind.INTENT, index: 2 }, { kind: EntryKind.UNINTENT, index: 2 }])
  })

  it('closed as gone, it ends its subscriptions and leaves the registry; lost pieces are said', async () => {
    const ended: string[] = []
    live.subscribe('bkey', e => heard.push(...e), () => ended.push('end'))
    written(0, false)
    live.fromOrigin(0, sha256(piece(0)))
    live.lost([0])
    expect(heard.at(-1)).toEqual({ kind: EntryKind.LOST, index: 0 })
    expect(registry.get('bkey')).toBe(live)
    await live.close('gone')
    expect(ended).toEqual(['end'])
    expect(registry.get('bkey')).toBeUndefined()
    expect(live.subscribe('bkey', () => {}, () => {})).toBeNull()
  })
})
