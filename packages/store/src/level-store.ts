import { Level } from 'level'
import { LocalFileError, NodeStoppedError, SchemaMismatchError } from '@dopt/interface'
import type { CacheRecord, FileRecord, JobRecord, PieceRecord } from './records.js'

/** Bump when the layout of keys or records changes in a way older code cannot read. */
export const SCHEMA_VERSION = 1

/** Keys, built in one place. `~` sorts after every id character, so it bounds prefix scans. */
const keys = {
  schema: 'meta/schema',
  job: (id: string) => `job/${id}`,
  jobs: { gte: 'job/', lt: 'job/~' },
  file: (id: string, index: number) => `file/${id}/${String(index).padStart(6, '0')}`,
  files: (id: string) => ({ gte: `file/${id}/`, lt: `file/${id}/~` }),
  done: (id: string, index: number) => `done/${id}/${index}`,
  peer: (id: string, index: number) => `peer/${id}/${index}`,
  hash: (id: string, index: number, piece: number) => `hash/${id}/${index}/${String(piece).padStart(9, '0')}`,
  hashes: (id: string, index: number) => ({ gte: `hash/${id}/${index}/`, lt: `hash/${id}/${index}/~` }),
  manifest: (cid: string) => `manifest/${cid}`,
  cache: (cid: string) => `cache/${cid}`,
  caches: { gte: 'cache/', lt: 'cache/~' },
  contentKey: (key: string) => `ckey/${key}`
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value))
const parse = <T>(bytes: Uint8Array): T => JSON.parse(decoder.decode(bytes)) as T

/** A batch of piece updates for one file, written atomically. */
export interface PieceUpdate {
  done: Uint8Array
  fromPeer: Uint8Array
  /** Hashes of pieces verified since the last update. */
  hashes: Array<[piece: number, hash: Uint8Array]>
  /** The file's record, saved in the same batch (its byte counters move with its pieces). */
  file?: FileRecord
}

/** Persistence of jobs, files, piece bitmaps and manifests. */
export interface Store {
  putJob(job: JobRecord): Promise<void>
  listJobs(): Promise<JobRecord[]>
  /** Deletes a job with its files, bitmaps and hashes. */
  deleteJob(id: string): Promise<void>
  putFile(file: FileRecord): Promise<void>
  listFiles(jobId: string): Promise<FileRecord[]>
  getPieces(jobId: string, index: number): Promise<PieceRecord | null>
  putPieces(jobId: string, index: number, update: PieceUpdate): Promise<void>
  /** Piece hashes seen for a file, by piece index. */
  getHashes(jobId: string, index: number): Promise<Map<number, Uint8Array>>
  /** Forgets the pieces and hashes of a file, and saves its record, in one batch. */
  resetFile(file: FileRecord): Promise<void>
  putManifest(cid: string, bytes: Uint8Array): Promise<void>
  getManifest(cid: string): Promise<Uint8Array | null>
  deleteManifest(cid: string): Promise<void>
  /** Adds or updates a cache item, and maps its content key to it. */
  putCacheItem(item: CacheRecord): Promise<void>
  listCacheItems(): Promise<CacheRecord[]>
  getCacheItem(cid: string): Promise<CacheRecord | null>
  /** The manifest CID cached under a content key, if any. */
  cidForContentKey(key: string): Promise<string | null>
  deleteCacheItem(item: CacheRecord): Promise<void>
  close(): Promise<void>
}

export interface LevelStoreInit {
  /** Folder of the database. */
  location: string
}

/**
 * The database's own failures (a full disk, an I/O error) are the local file system's: LOCAL_FILE, naming the
 * folder and what the disk said, as the docs promise. dopt's own errors pass through.
 */
function storeError (err: unknown, location: string): unknown {
  if (err instanceof Error && !(err instanceof NodeStoppedError) && !(err instanceof SchemaMismatchError) && !(err instanceof LocalFileError)) {
    const cause = (err as { cause?: Error }).cause
    const detail = [err.message, cause?.message].filter(m => m != null && m !== '').join(': ')
    const full = /no space left|ENOSPC/i.test(detail)
    return new LocalFileError(`the database in ${location} cannot be ${full ? 'written: the disk is full' : 'used'} (${detail})`, { cause: err, context: 'local-file', path: location })
  }
  return err
}

class LevelStore implements Store {
  readonly #db: Level<string, Uint8Array>
  readonly #pending = new Set<Promise<unknown>>()
  #closed = false

  constructor (db: Level<string, Uint8Array>) {
    this.#db = db
  }

  /**
   * Runs one operation. `close()` lets running operations finish; operations started after it fail with
   * NODE_STOPPED rather than with level's errors about closed iterators.
   */
  async #op<T>(fn: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
    if (this.#closed) throw new NodeStoppedError('the store is closed')
    const op = fn(this.#db)
    this.#pending.add(op)
    try {
      return await op
    } catch (err) {
      throw storeError(err, this.#db.location)
    } finally {
      this.#pending.delete(op)
    }
  }

  async putJob (job: JobRecord): Promise<void> {
    return await this.#op(async db => {
      await db.put(keys.job(job.id), json(job))
    })
  }

  async listJobs (): Promise<JobRecord[]> {
    return await this.#op(async db => {
      const jobs: JobRecord[] = []
      for await (const value of db.values(keys.jobs)) jobs.push(parse<JobRecord>(value))
      return jobs.sort((a, b) => a.seq - b.seq)
    })
  }

  async deleteJob (id: string): Promise<void> {
    return await this.#op(async db => {
      const files = await this.listFiles(id)
      const ops: Array<{ type: 'del', key: string }> = [{ type: 'del', key: keys.job(id) }]
      for (const f of files) {
        ops.push({ type: 'del', key: keys.file(id, f.index) }, { type: 'del', key: keys.done(id, f.index) }, { type: 'del', key: keys.peer(id, f.index) })
      }
      await db.batch(ops)
      for (const f of files) await db.clear(keys.hashes(id, f.index))
    })
  }

  async putFile (file: FileRecord): Promise<void> {
    return await this.#op(async db => {
      await db.put(keys.file(file.jobId, file.index), json(file))
    })
  }

  async listFiles (jobId: string): Promise<FileRecord[]> {
    return await this.#op(async db => {
      const files: FileRecord[] = []
      for await (const value of db.values(keys.files(jobId))) files.push(parse<FileRecord>(value))
      return files
    })
  }

  async getPieces (jobId: string, index: number): Promise<PieceRecord | null> {
    return await this.#op(async db => {
      const [done, fromPeer] = await db.getMany([keys.done(jobId, index), keys.peer(jobId, index)])
      if (done == null) return null
      return { done, fromPeer: fromPeer ?? new Uint8Array(done.byteLength) }
    })
  }

  async putPieces (jobId: string, index: number, update: PieceUpdate): Promise<void> {
    return await this.#op(async db => {
      const batch = db.batch()
      batch.put(keys.done(jobId, index), update.done)
      batch.put(keys.peer(jobId, index), update.fromPeer)
      for (const [piece, hash] of update.hashes) batch.put(keys.hash(jobId, index, piece), hash)
      if (update.file !== undefined) batch.put(keys.file(jobId, index), json(update.file))
      await batch.write()
    })
  }

  async getHashes (jobId: string, index: number): Promise<Map<number, Uint8Array>> {
    return await this.#op(async db => {
      const hashes = new Map<number, Uint8Array>()
      for await (const [key, value] of db.iterator(keys.hashes(jobId, index))) {
        hashes.set(Number(key.slice(key.lastIndexOf('/') + 1)), value)
      }
      return hashes
    })
  }

  async resetFile (file: FileRecord): Promise<void> {
    return await this.#op(async db => {
      await db.clear(keys.hashes(file.jobId, file.index))
      await db.batch([
        { type: 'del', key: keys.done(file.jobId, file.index) },
        { type: 'del', key: keys.peer(file.jobId, file.index) },
        { type: 'put', key: keys.file(file.jobId, file.index), value: json(file) }
      ])
    })
  }

  async putManifest (cid: string, bytes: Uint8Array): Promise<void> {
    return await this.#op(async db => {
      await db.put(keys.manifest(cid), bytes)
    })
  }

  async getManifest (cid: string): Promise<Uint8Array | null> {
    return await this.#op(async db => {
      return (await db.get(keys.manifest(cid))) ?? null
    })
  }

  async deleteManifest (cid: string): Promise<void> {
    return await this.#op(async db => {
      await db.del(keys.manifest(cid))
    })
  }

  async putCacheItem (item: CacheRecord): Promise<void> {
    return await this.#op(async db => {
      await db.batch([
        { type: 'put', key: keys.cache(item.cid), value: json(item) },
        { type: 'put', key: keys.contentKey(item.contentKey), value: json(item.cid) }
      ])
    })
  }

  async listCacheItems (): Promise<CacheRecord[]> {
    return await this.#op(async db => {
      const items: CacheRecord[] = []
      for await (const value of db.values(keys.caches)) items.push(parse<CacheRecord>(value))
      return items
    })
  }

  async getCacheItem (cid: string): Promise<CacheRecord | null> {
    return await this.#op(async db => {
      const value = await db.get(keys.cache(cid))
      return value == null ? null : parse<CacheRecord>(value)
    })
  }

  async cidForContentKey (key: string): Promise<string | null> {
    return await this.#op(async db => {
      const value = await db.get(keys.contentKey(key))
      return value == null ? null : parse<string>(value)
    })
  }

  async deleteCacheItem (item: CacheRecord): Promise<void> {
    return await this.#op(async db => {
      await db.batch([
        { type: 'del', key: keys.cache(item.cid) },
        { type: 'del', key: keys.contentKey(item.contentKey) }
      ])
    })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
    await this.#db.close()
  }
}

/**
 * Opens (creating if needed) the level database at `location`. A database of another schema version is refused
 * with `SCHEMA_MISMATCH` rather than misread; one held by another process fails with `LOCAL_FILE`.
 */
export async function openLevelStore (init: LevelStoreInit): Promise<Store> {
  const db = new Level<string, Uint8Array>(init.location, { valueEncoding: 'view' })
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string, message?: string } }).cause
    // level says only "Database failed to open"; why (corruption, a file where the folder should be) is its cause.
    throw new LocalFileError(cause?.code === 'LEVEL_LOCKED'
      ? `the database in ${init.location} is in use by another dopt process`
      : `cannot open the database in ${init.location}${cause?.message == null ? '' : `: ${cause.message}`}`, { cause: err, context: 'local-file', path: init.location })
  }
  const stored = await db.get(keys.schema)
  if (stored == null) {
    await db.put(keys.schema, json(SCHEMA_VERSION))
  } else {
    // An unreadable version is a mismatch too; either way the database is closed so that it is not left locked.
    let version: unknown
    try { version = parse<unknown>(stored) } catch { version = decoder.decode(stored) }
    if (version !== SCHEMA_VERSION) {
      await db.close()
      throw new SchemaMismatchError(`the database in ${init.location} has schema version ${JSON.stringify(version)}, this dopt reads ${SCHEMA_VERSION}`, { path: init.location })
    }
  }
  return new LevelStore(db)
}
