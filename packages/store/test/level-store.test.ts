import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { openLevelStore, SCHEMA_VERSION } from '../src/index.js'
import type { FileRecord, JobRecord, Store } from '../src/index.js'

let dir: string
let open: Store[]

async function openStore (): Promise<Store> {
  const store = await openLevelStore({ location: dir })
  open.push(store)
  return store
}

async function closeStore (store: Store): Promise<void> {
  open = open.filter(s => s !== store)
  await store.close()
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-store-test-'))
  open = []
})

afterEach(async () => {
  for (const s of open) await s.close().catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

function job (id: string, seq: number, over: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    displayName: `job ${id}`,
    description: 'a test job',
    type: 'download',
    priority: 'normal',
    state: 'queued',
    notifyFlags: 3,
    minimumRetryDelay: 600,
    noProgressTimeout: 1209600,
    errorCount: 0,
    error: null,
    creationTime: 1_700_000_000_000 + seq,
    modificationTime: 1_700_000_000_000 + seq,
    transferCompletionTime: null,
    lastProgressTime: 1_700_000_000_000 + seq,
    transferredNotified: false,
    seq,
    ...over
  }
}

function file (jobId: string, index: number, over: Partial<FileRecord> = {}): FileRecord {
  return {
    jobId,
    index,
    remoteName: `https://example.com/f${index}.bin`,
    localName: `/downloads/f${index}.bin`,
    temporaryName: `/downloads/f${index}.bin.dopt`,
    sha256: null,
    manifestCid: null,
    manifestPinned: false,
    size: null,
    etag: null,
    lastModified: null,
    finalUrl: null,
    acceptRanges: false,
    pieceSize: 1 << 20,
    completed: false,
    validationState: 'unset',
    originOnly: false,
    transferredNotified: false,
    ...over
  }
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values)
const hash = (n: number): Uint8Array => new Uint8Array(32).fill(n)
/** Level hands back Buffers; compare contents as plain Uint8Arrays. */
const plain = (b: Uint8Array | null | undefined): Uint8Array | null | undefined => b == null ? b : new Uint8Array(b)

async function expectCode (promise: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown
  try { await promise } catch (err) { caught = err }
  expect(caught, `expected ${code} to be thrown`).toBeInstanceOf(Error)
  expect((caught as { code?: string }).code).toBe(code)
  return caught as Error
}

describe('jobs', () => {
  it('lists nothing in a new database', async () => {
    const store = await openStore()
    expect(await store.listJobs()).toEqual([])
    expect(await store.listFiles('nope')).toEqual([])
  })

  it('lists jobs in seq order, not id or insertion order', async () => {
    const store = await openStore()
    await store.putJob(job('c', 2))
    await store.putJob(job('a', 10))
    await store.putJob(job('b', 1))
    await store.putJob(job('z', 3))
    const jobs = await store.listJobs()
    expect(jobs.map(j => j.id)).toEqual(['b', 'c', 'z', 'a'])
    expect(jobs.map(j => j.seq)).toEqual([1, 2, 3, 10])
  })

  it('round-trips every field, and putJob replaces a job by id', async () => {
    const store = await openStore()
    const j = job('j1', 1, {
      state: 'error',
      errorCount: 2,
      error: { code: 'HTTP_ERROR', context: 'remote-file', message: '404 Not Found' } as JobRecord['error'],
      transferCompletionTime: 1_700_000_000_999,
      transferredNotified: true
    })
    await store.putJob(j)
    expect(await store.listJobs()).toEqual([j])
    const updated = { ...j, state: 'transferring' as const, error: null, modificationTime: j.modificationTime + 5 }
    await store.putJob(updated)
    expect(await store.listJobs()).toEqual([updated])
  })
})

describe('files', () => {
  it('lists files of a job in index order, including indexes of 10 and more', async () => {
    const store = await openStore()
    for (const i of [10, 2, 0, 100, 1, 11, 9, 1000, 20]) await store.putFile(file('j', i))
    const files = await store.listFiles('j')
    expect(files.map(f => f.index)).toEqual([0, 1, 2, 9, 10, 11, 20, 100, 1000])
    expect(files[4]).toEqual(file('j', 10))
  })

  it('keeps files of different jobs apart, even when one id is a prefix of another', async () => {
    const store = await openStore()
    await store.putFile(file('a', 0))
    await store.putFile(file('ab', 0))
    await store.putFile(file('ab', 1))
    await store.putFile(file('b', 0))
    expect((await store.listFiles('a')).map(f => [f.jobId, f.index])).toEqual([['a', 0]])
    expect((await store.listFiles('ab')).map(f => [f.jobId, f.index])).toEqual([['ab', 0], ['ab', 1]])
    expect(await store.listFiles('c')).toEqual([])
  })

  it('putFile replaces a file by job and index', async () => {
    const store = await openStore()
    await store.putFile(file('j', 0))
    const done = file('j', 0, { size: 12345, etag: '"x"', completed: true, validationState: 'valid', manifestCid: 'bafk...' })
    await store.putFile(done)
    expect(await store.listFiles('j')).toEqual([done])
  })
})

describe('pieces and hashes', () => {
  it('returns null and an empty map before anything is stored', async () => {
    const store = await openStore()
    expect(await store.getPieces('j', 0)).toBeNull()
    expect((await store.getHashes('j', 0)).size).toBe(0)
  })

  it('round-trips bitmaps and hashes', async () => {
    const store = await openStore()
    await store.putPieces('j', 0, { done: bytes(0b11000000, 0), fromPeer: bytes(0b01000000, 0), hashes: [[0, hash(1)], [1, hash(2)]] })
    const pieces = await store.getPieces('j', 0)
    expect(pieces).not.toBeNull()
    expect(pieces!.done).toBeInstanceOf(Uint8Array)
    expect([...pieces!.done]).toEqual([0b11000000, 0])
    expect([...pieces!.fromPeer]).toEqual([0b01000000, 0])
    const hashes = await store.getHashes('j', 0)
    expect([...hashes.keys()]).toEqual([0, 1])
    expect([...hashes.get(0)!]).toEqual([...hash(1)])
    expect([...hashes.get(1)!]).toEqual([...hash(2)])
  })

  it('later updates replace bitmaps and add hashes, keyed numerically in piece order', async () => {
    const store = await openStore()
    await store.putPieces('j', 0, { done: bytes(0x80), fromPeer: bytes(0), hashes: [[0, hash(1)], [100, hash(3)]] })
    await store.putPieces('j', 0, { done: bytes(0xc0), fromPeer: bytes(0x40), hashes: [[9, hash(2)], [1000000, hash(4)]] })
    const pieces = await store.getPieces('j', 0)
    expect([...pieces!.done]).toEqual([0xc0])
    expect([...pieces!.fromPeer]).toEqual([0x40])
    const hashes = await store.getHashes('j', 0)
    expect([...hashes.keys()]).toEqual([0, 9, 100, 1000000])
    expect(hashes.get(1000000)![0]).toBe(4)
    expect(hashes.get(100)![0]).toBe(3)
  })

  it('keeps pieces and hashes of files 1 and 10 apart', async () => {
    const store = await openStore()
    await store.putPieces('j', 1, { done: bytes(1), fromPeer: bytes(0), hashes: [[0, hash(1)]] })
    await store.putPieces('j', 10, { done: bytes(10), fromPeer: bytes(0), hashes: [[0, hash(10)], [5, hash(15)]] })
    expect([...(await store.getPieces('j', 1))!.done]).toEqual([1])
    expect([...(await store.getPieces('j', 10))!.done]).toEqual([10])
    expect([...(await store.getHashes('j', 1)).keys()]).toEqual([0])
    expect([...(await store.getHashes('j', 10)).keys()]).toEqual([0, 5])
    expect((await store.getHashes('j', 1)).get(0)![0]).toBe(1)
    expect(await store.getPieces('j', 0)).toBeNull()
  })

  it('an update with no hashes keeps earlier hashes', async () => {
    const store = await openStore()
    await store.putPieces('j', 0, { done: bytes(0x80), fromPeer: bytes(0), hashes: [[0, hash(7)]] })
    await store.putPieces('j', 0, { done: bytes(0x80), fromPeer: bytes(0), hashes: [] })
    expect((await store.getHashes('j', 0)).get(0)![0]).toBe(7)
  })
})

describe('resetFile', () => {
  it('clears pieces and hashes of that file only and saves the record', async () => {
    const store = await openStore()
    await store.putFile(file('j', 0, { size: 10, etag: '"old"' }))
    await store.putFile(file('j', 1))
    await store.putPieces('j', 0, { done: bytes(0xff), fromPeer: bytes(0x0f), hashes: [[0, hash(1)], [3, hash(2)]] })
    await store.putPieces('j', 1, { done: bytes(0x80), fromPeer: bytes(0), hashes: [[0, hash(9)]] })

    const reset = file('j', 0, { size: 20, etag: '"new"', originOnly: true })
    await store.resetFile(reset)

    expect(await store.getPieces('j', 0)).toBeNull()
    expect((await store.getHashes('j', 0)).size).toBe(0)
    expect(await store.listFiles('j')).toEqual([reset, file('j', 1)])
    expect([...(await store.getPieces('j', 1))!.done]).toEqual([0x80])
    expect((await store.getHashes('j', 1)).get(0)![0]).toBe(9)
  })

  it('creates the record when the file had none', async () => {
    const store = await openStore()
    await store.resetFile(file('j', 3))
    expect(await store.listFiles('j')).toEqual([file('j', 3)])
  })
})

describe('deleteJob', () => {
  it('removes the job, its files, bitmaps and hashes, but not other jobs\' data', async () => {
    const store = await openStore()
    for (const [id, seq] of [['a', 1], ['ab', 2], ['b', 3]] as const) {
      await store.putJob(job(id, seq))
      for (const i of [0, 1, 10]) {
        await store.putFile(file(id, i))
        await store.putPieces(id, i, { done: bytes(0xf0), fromPeer: bytes(0x10), hashes: [[0, hash(i)], [1, hash(i + 1)]] })
      }
    }
    await store.putManifest('bafkmanifest', bytes(1, 2, 3))

    await store.deleteJob('a')

    expect((await store.listJobs()).map(j => j.id)).toEqual(['ab', 'b'])
    expect(await store.listFiles('a')).toEqual([])
    for (const i of [0, 1, 10]) {
      expect(await store.getPieces('a', i)).toBeNull()
      expect((await store.getHashes('a', i)).size).toBe(0)
    }
    for (const id of ['ab', 'b']) {
      expect((await store.listFiles(id)).map(f => f.index)).toEqual([0, 1, 10])
      for (const i of [0, 1, 10]) {
        expect([...(await store.getPieces(id, i))!.done]).toEqual([0xf0])
        expect([...(await store.getHashes(id, i)).keys()]).toEqual([0, 1])
      }
    }
    expect(plain(await store.getManifest('bafkmanifest'))).toEqual(bytes(1, 2, 3))
  })

  it('stays deleted after reopening', async () => {
    let store = await openStore()
    await store.putJob(job('a', 1))
    await store.putFile(file('a', 0))
    await store.putPieces('a', 0, { done: bytes(0x80), fromPeer: bytes(0), hashes: [[0, hash(1)]] })
    await store.deleteJob('a')
    await closeStore(store)
    store = await openStore()
    expect(await store.listJobs()).toEqual([])
    expect(await store.listFiles('a')).toEqual([])
    expect(await store.getPieces('a', 0)).toBeNull()
    expect((await store.getHashes('a', 0)).size).toBe(0)
  })

  it('deleting an unknown job is harmless', async () => {
    const store = await openStore()
    await store.putJob(job('a', 1))
    await store.deleteJob('missing')
    expect((await store.listJobs()).map(j => j.id)).toEqual(['a'])
  })
})

describe('manifests', () => {
  it('returns null for an unknown CID and round-trips bytes', async () => {
    const store = await openStore()
    expect(await store.getManifest('bafkunknown')).toBeNull()
    const data = new Uint8Array(1000).map((_, i) => i & 0xff)
    await store.putManifest('bafkone', data)
    await store.putManifest('bafktwo', bytes(9))
    const got = await store.getManifest('bafkone')
    expect(got).toBeInstanceOf(Uint8Array)
    expect(plain(got)).toEqual(data)
    expect(plain(await store.getManifest('bafktwo'))).toEqual(bytes(9))
  })

  it('stores only the viewed bytes of a subarray', async () => {
    const store = await openStore()
    const whole = bytes(0, 1, 2, 3, 4, 5)
    await store.putManifest('bafkview', whole.subarray(2, 4))
    expect(plain(await store.getManifest('bafkview'))).toEqual(bytes(2, 3))
  })
})

describe('opening', () => {
  it('keeps all data across close and reopen', async () => {
    let store = await openStore()
    await store.putJob(job('j2', 2))
    await store.putJob(job('j1', 1))
    await store.putFile(file('j1', 0, { size: 42 }))
    await store.putFile(file('j1', 12))
    await store.putPieces('j1', 0, { done: bytes(0xa0), fromPeer: bytes(0x20), hashes: [[2, hash(5)]] })
    await store.putManifest('bafkm', bytes(7, 7))
    await closeStore(store)

    store = await openStore()
    expect((await store.listJobs()).map(j => j.id)).toEqual(['j1', 'j2'])
    expect(await store.listFiles('j1')).toEqual([file('j1', 0, { size: 42 }), file('j1', 12)])
    const pieces = await store.getPieces('j1', 0)
    expect([...pieces!.done]).toEqual([0xa0])
    expect([...pieces!.fromPeer]).toEqual([0x20])
    expect([...(await store.getHashes('j1', 0)).keys()]).toEqual([2])
    expect(plain(await store.getManifest('bafkm'))).toEqual(bytes(7, 7))
  })

  it('writes the schema version into a new database', async () => {
    await closeStore(await openStore())
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    try {
      const stored = await db.get('meta/schema')
      expect(stored).toBeDefined()
      expect(JSON.parse(new TextDecoder().decode(stored!))).toBe(SCHEMA_VERSION)
    } finally {
      await db.close()
    }
  })

  it('refuses a database of another schema version with SCHEMA_MISMATCH, leaving it closed and unchanged', async () => {
    const store = await openStore()
    await store.putJob(job('j', 1))
    await closeStore(store)
    const other = new TextEncoder().encode(JSON.stringify(SCHEMA_VERSION + 1))
    let db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await db.put('meta/schema', other)
    await db.close()

    const err = await expectCode(openLevelStore({ location: dir }), 'SCHEMA_MISMATCH')
    expect(err.message).toContain(String(SCHEMA_VERSION + 1))
    expect((err as { path?: string }).path).toBe(dir)

    // The refused store released the database (it can be opened again) and did not rewrite the version.
    db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    try {
      expect(plain(await db.get('meta/schema'))).toEqual(other)
      expect(await db.get('job/j')).toBeDefined()
    } finally {
      await db.close()
    }
    await expectCode(openLevelStore({ location: dir }), 'SCHEMA_MISMATCH')
  })

  it('refuses an unreadable schema value with SCHEMA_MISMATCH and releases the database', async () => {
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await db.put('meta/schema', new TextEncoder().encode('not json'))
    await db.close()
    await expectCode(openLevelStore({ location: dir }), 'SCHEMA_MISMATCH')
    // Not left locked by the failed attempt.
    await expectCode(openLevelStore({ location: dir }), 'SCHEMA_MISMATCH')
  })

  it('fails with LOCAL_FILE when the folder is already open', async () => {
    const first = await openStore()
    await first.putJob(job('j', 1))
    const err = await expectCode(openLevelStore({ location: dir }), 'LOCAL_FILE')
    expect(err.message).toMatch(/in use/)
    expect((err as { path?: string }).path).toBe(dir)
    // The first store is unaffected, and once it is closed the folder opens again.
    expect((await first.listJobs()).map(j => j.id)).toEqual(['j'])
    await closeStore(first)
    const second = await openStore()
    expect((await second.listJobs()).map(j => j.id)).toEqual(['j'])
  })

  it('fails with LOCAL_FILE when the location cannot be a database', async () => {
    const { writeFile } = await import('node:fs/promises')
    const path = join(dir, 'a-file')
    await writeFile(path, 'x')
    const err = await expectCode(openLevelStore({ location: join(path, 'db') }), 'LOCAL_FILE')
    expect(err.message).toMatch(/cannot open/)
  })

  it('says why a damaged database cannot be opened', async () => {
    const { mkdir, writeFile } = await import('node:fs/promises')
    const location = join(dir, 'damaged')
    await mkdir(location)
    await writeFile(join(location, 'CURRENT'), 'MANIFEST-999999\n')
    const err = await expectCode(openLevelStore({ location }), 'LOCAL_FILE')
    // level's own message is only "Database failed to open".
    expect(err.message).toMatch(/^cannot open the database in .*damaged: .*MANIFEST-999999/)
  })
})
