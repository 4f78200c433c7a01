import { copyFile, link, rm, stat } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import { join } from 'node:path'
import { Bitfield, contentKey, decodeManifest, equalBytes, pieceCount, pieceRange, sha256 } from '@dopt/content'
import type { Manifest } from '@dopt/content'
import { EntryKind, makeDirectory } from '@dopt/interface'
import type { ContentEntry, ContentSubscription } from '@dopt/interface'
import type { CacheRecord, FileRecord, Store } from '@dopt/store'
import type { PeerNetwork } from './network.js'
import { PieceReader } from './file-reader.js'

export interface CacheInit {
  /** Folder of the cache's copies. */
  dir: string
  /** Bytes the cache may hold [DOMaxCacheSize]; least recently used items go first. @default 10 GiB */
  maxCacheSize?: number
  /** Seconds an item stays [DOMaxCacheAge]. @default 259200 (3 days) */
  maxCacheAge?: number
  /** Smaller files are neither cached nor fetched from peers [DOMinFileSizeToCache]. @default 1 MiB */
  minFileSizeToCache?: number
  /** Read served pieces with O_DIRECT where the file system allows (file-reader.ts says why). @default true */
  directReads?: boolean
}

export interface CacheComponents {
  store: Store
}

function allPieces (item: CacheRecord): Bitfield {
  const all = new Bitfield(pieceCount(item.size, item.pieceSize))
  for (let i = 0; i < all.length; i++) all.set(i)
  return all
}

/** Seconds between two saves of an item's last-use time: serving a piece must not cost a database write. */
const TOUCH_INTERVAL = 60_000

/** What tells a file changed on disk: its inode, size and change time (any write, truncate, chmod or link moves it). */
function stampOf (st: BigIntStats): string {
  return `${st.ino}:${st.size}:${st.ctimeNs}`
}

/**
 * The seeding cache: complete, verified, validated files, served to peers piece by piece. An item enters at
 * `complete()` (a hard link to the delivered file, or a copy across file systems) and leaves by age, by size
 * (least recently used first), or when the application rejected content that came from peers.
 *
 * A file is served as verified while its identity (inode, size, change time) is the one recorded when all its
 * pieces were known good: at add, since it was just assembled from checked pieces, and kept in the store, so a
 * restarted seed serves at once instead of hashing everything again. Once the identity has moved (the delivered
 * file is the same inode, and its owner may change it), each piece is checked against the manifest before it is
 * served, once per identity: a file changed on disk is not passed on, while a seed serving the same content to many
 * peers hashes each piece once, not once per peer; when all are checked, the new identity is recorded. (A change
 * within the file system's timestamp granularity of the last check can go unseen; every peer checks every piece
 * anyway.)
 */
export class SeedCache {
  readonly #components: CacheComponents
  readonly dir: string
  /** Both may change while the node runs (a daemon's reload); the next eviction applies them. */
  maxCacheSize: number
  maxCacheAge: number
  readonly minFileSizeToCache: number
  readonly #manifests = new Map<string, Manifest>()
  /** Items by manifest CID and by content key, so serving a piece costs no database read. */
  readonly #items = new Map<string, CacheRecord>()
  readonly directReads: boolean
  /** Open files of items being served, so a piece costs one read, not open + read + close. */
  readonly #handles = new Map<string, PieceReader>()
  /** Per open item: the file's identity when its pieces were checked, and which pieces were. */
  readonly #verified = new Map<string, { stamp: string, pieces: Bitfield }>()
  /** Bytes hashed to check pieces before serving them (diagnostics and tests). */
  verifiedBytes = 0
  #network: PeerNetwork | null = null

  constructor (components: CacheComponents, init: CacheInit) {
    this.#components = components
    this.dir = init.dir
    this.maxCacheSize = init.maxCacheSize ?? 10 * 1024 ** 3
    this.maxCacheAge = init.maxCacheAge ?? 259_200
    this.minFileSizeToCache = init.minFileSizeToCache ?? 1 << 20
    this.directReads = init.directReads ?? true
  }

  /**
   * Announces every cached item on `network` (at start, after dropping expired ones), and later ones as they come.
   * The network is given here rather than at construction because it serves this cache: each needs the other.
   */
  async start (network: PeerNetwork | null): Promise<void> {
    this.#network = network
    await makeDirectory(this.dir)
    for (const item of await this.list()) this.#remember(item)
    await this.evict()
    for (const item of await this.list()) this.#announce(item)
  }

  async list (): Promise<CacheRecord[]> {
    return await this.#components.store.listCacheItems()
  }

  /** Adds a delivered file. Files under the minimum size, or without a manifest, are not cached. */
  async add (file: FileRecord): Promise<CacheRecord | null> {
    const { store } = this.#components
    if (file.manifestCid == null || file.size == null || file.size < this.minFileSizeToCache || file.size > this.maxCacheSize) return null
    const path = join(this.dir, file.manifestCid)
    await rm(path, { force: true })
    try {
      await link(file.localName, path)
    } catch {
      await copyFile(file.localName, path) // another file system, or links not allowed
    }
    const now = Date.now()
    const item: CacheRecord = {
      cid: file.manifestCid, contentKey: contentKey(file.remoteName, file.etag, file.size).toString(), path,
      size: file.size, pieceSize: file.pieceSize, url: file.remoteName, addedTime: now, lastUsedTime: now, bytesServed: 0,
      // After the link, which moves the change time: the identity the checked pieces now have.
      verifiedStamp: stampOf(await stat(path, { bigint: true }))
    }
    await store.putCacheItem(item)
    this.#remember(item)
    await this.evict()
    this.#announce(item)
    return item
  }

  /** Drops an item (by manifest CID or content key). */
  async remove (key: string): Promise<void> {
    const item = this.#item(key)
    if (item == null) return
    this.#manifests.delete(item.cid)
    this.#items.delete(item.cid)
    this.#items.delete(item.contentKey)
    await this.#closeFile(item.cid)
    await this.#components.store.deleteCacheItem(item)
    await rm(item.path, { force: true })
  }

  /** Closes the files held open for serving. */
  async stop (): Promise<void> {
    await Promise.all([...this.#handles.keys()].map(async cid => { await this.#closeFile(cid) }))
  }

  async #closeFile (cid: string): Promise<void> {
    const reader = this.#handles.get(cid)
    this.#handles.delete(cid)
    this.#verified.delete(cid)
    await reader?.close()
  }

  /** Removes items past the maximum age, then least recently used ones until the cache fits its maximum size. */
  async evict (): Promise<void> {
    const items = (await this.list()).sort((a, b) => a.lastUsedTime - b.lastUsedTime)
    const oldest = Date.now() - this.maxCacheAge * 1000
    let total = items.reduce((n, i) => n + i.size, 0)
    for (const item of items) {
      if (item.addedTime >= oldest && total <= this.maxCacheSize) continue
      total -= item.size
      await this.remove(item.cid)
    }
  }

  async getManifest (key: string): Promise<Uint8Array | null> {
    const item = this.#item(key)
    if (item == null) return null
    return await this.#components.store.getManifest(item.cid)
  }

  /** Every piece, by manifest CID or (protocol 1.1.0) by content key. */
  async getHave (key: string): Promise<Uint8Array | null> {
    const item = this.#item(key)
    if (item == null) return null
    return allPieces(item).toBytes()
  }

  /**
   * A seed's state for a subscriber: complete. One that names the content by its key (it knows only the URL) is
   * told every piece hash, which this node vouches for (the file passed its checks before it was cached).
   */
  async subscribe (key: string, _peerId: string, _onEntries: (entries: ContentEntry[]) => void, _onEnd: () => void): Promise<ContentSubscription | null> {
    const item = this.#item(key)
    if (item == null) return null
    const manifest = await this.#manifest(item.cid)
    if (manifest == null) return null
    const entries: ContentEntry[] = key === item.cid ? [] : manifest.pieceHashes.map((hash, index) => ({ kind: EntryKind.VOUCH, index, hash }))
    return { pieceSize: item.pieceSize, pieceCount: manifest.pieceHashes.length, complete: true, have: allPieces(item).toBytes(), entries, close: () => {} }
  }

  async readPiece (key: string, index: number): Promise<Uint8Array | null> {
    const item = this.#item(key)
    if (item == null) return null
    const manifest = await this.#manifest(item.cid)
    const want = manifest?.pieceHashes[index]
    if (manifest == null || want == null) return null
    const { start, end } = pieceRange(index, manifest.size, manifest.pieceSize)
    const bytes = Buffer.allocUnsafe(end - start)
    let stamp: string
    try {
      let reader = this.#handles.get(item.cid)
      if (reader == null) {
        reader = new PieceReader(item.path, this.directReads)
        this.#handles.set(item.cid, reader)
      }
      if (await reader.read(bytes, start) !== bytes.byteLength) return null
      // After the read: a change made before it shows here, so the piece is checked again.
      stamp = stampOf(await reader.stat())
    } catch {
      await this.#closeFile(item.cid)
      return null
    }
    if (item.verifiedStamp !== stamp) {
      let verified = this.#verified.get(item.cid)
      if (verified?.stamp !== stamp) {
        verified = { stamp, pieces: new Bitfield(pieceCount(manifest.size, manifest.pieceSize)) }
        this.#verified.set(item.cid, verified)
      }
      if (!verified.pieces.get(index)) {
        // Synchronous: WebCrypto's thread-pool digest costs more main-thread time per MiB than hashing here.
        this.verifiedBytes += bytes.byteLength
        if (!equalBytes(sha256(bytes), want)) {
          // Changed on disk since it was cached: never serve it again.
          await this.remove(item.cid)
          return null
        }
        verified.pieces.set(index)
        if (verified.pieces.full) {
          item.verifiedStamp = stamp
          this.#verified.delete(item.cid)
          await this.#components.store.putCacheItem(item)
        }
      }
    }
    item.bytesServed += bytes.byteLength
    if (Date.now() - item.lastUsedTime > TOUCH_INTERVAL) {
      item.lastUsedTime = Date.now()
      await this.#components.store.putCacheItem(item)
    }
    return bytes
  }

  /** True when the cache holds the content named by this manifest CID or content key. */
  has (key: string): boolean {
    return this.#items.has(key)
  }

  #remember (item: CacheRecord): void {
    this.#items.set(item.cid, item)
    this.#items.set(item.contentKey, item)
  }

  #item (key: string): CacheRecord | null {
    return this.#items.get(key) ?? null
  }

  async #manifest (cid: string): Promise<Manifest | null> {
    let manifest = this.#manifests.get(cid)
    if (manifest == null) {
      const bytes = await this.#components.store.getManifest(cid)
      if (bytes == null) return null
      manifest = decodeManifest(bytes)
      this.#manifests.set(cid, manifest)
    }
    return manifest
  }

  #announce (item: CacheRecord): void {
    const network = this.#network
    if (network == null) return
    // Announcements are best effort: a node with no DHT peers yet is still found on the LAN.
    void network.provide(item.contentKey).catch(() => {})
    void network.provide(item.cid).catch(() => {})
  }
}
