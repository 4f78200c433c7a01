import type { ContentEntry, ContentProvider, ContentSubscription, PieceData } from '@dopt/interface'
import type { SeedCache } from './cache.js'
import type { LiveRegistry } from './live-content.js'

/**
 * What this node serves to peers: the seeding cache (complete, checked files) first, then running downloads, under
 * the rules `LiveContent` keeps. Bytes served from a running download count towards its job's `bytesUploaded`.
 */
export class ContentServerImpl implements ContentProvider {
  readonly #cache: SeedCache
  readonly #live: LiveRegistry

  constructor (cache: SeedCache, live: LiveRegistry) {
    this.#cache = cache
    this.#live = live
  }

  async getManifest (key: string): Promise<Uint8Array | null> {
    const cached = await this.#cache.getManifest(key)
    if (cached != null) return cached
    const live = this.#live.get(key)
    // Only a trusted manifest, and only by its CID: a download in progress has no manifest of its own yet.
    return live?.manifestCid === key ? live.manifestBytes : null
  }

  async getHave (key: string): Promise<Uint8Array | null> {
    return await this.#cache.getHave(key) ?? this.#live.get(key)?.have().toBytes() ?? null
  }

  async readPiece (key: string, index: number): Promise<PieceData | null> {
    if (this.#cache.has(key)) return await this.#cache.readPiece(key, index)
    return await this.#live.get(key)?.readPiece(index) ?? null
  }

  async subscribe (key: string, peerId: string, onEntries: (entries: ContentEntry[]) => void, onEnd: () => void): Promise<ContentSubscription | null> {
    if (this.#cache.has(key)) return await this.#cache.subscribe(key, peerId, onEntries, onEnd)
    return this.#live.get(key)?.subscribe(key, onEntries, onEnd) ?? null
  }

  served (key: string, _index: number, bytes: number): void {
    if (this.#cache.has(key)) return
    this.#live.get(key)?.served(bytes)
  }
}
