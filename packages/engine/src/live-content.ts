import { Bitfield, pieceRange } from '@dopt/content'
import { EntryKind } from '@dopt/interface'
import type { ContentEntry, ContentSubscription, PieceData, StreamingPiece } from '@dopt/interface'
import { PieceReader } from './file-reader.js'
import type { JobFileImpl } from './job-file.js'
import type { PieceMemory } from './piece-memory.js'

/**
 * A copy of `bytes` in memory that is not zero-filled first: `Buffer.from` of a typed array zero-fills a fresh 1 MiB
 * buffer before it copies, and at a swarm's rate of pieces that cost more than the copy (perf, the lab at N=16).
 */
export function copyOf (bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafe(bytes.byteLength)
  copy.set(bytes)
  return copy
}

/** Thrown to peers reading a piece whose download from the origin will not complete. */
export class PieceGoneError extends Error {
  override readonly name = 'PieceUnavailableError'
}

/**
 * A piece this node fetches from the origin, served to peers while its bytes arrive: its own copy of those bytes,
 * filled as they come, handed out as they are there.
 */
export class LivePiece implements StreamingPiece {
  readonly length: number
  readonly bytes: Buffer
  #filled = 0
  #failed = false
  #waiters: Array<() => void> = []

  constructor (length: number) {
    this.length = length
    this.bytes = Buffer.allocUnsafe(length)
  }

  get complete (): boolean {
    return this.#filled === this.length
  }

  append (chunk: Uint8Array, offset: number): void {
    if (this.#failed || offset !== this.#filled) return
    const n = Math.min(chunk.byteLength, this.length - offset)
    this.bytes.set(chunk.subarray(0, n), offset)
    this.#filled += n
    this.#wake()
  }

  fail (): void {
    if (this.complete) return
    this.#failed = true
    this.#wake()
  }

  async read (offset: number, signal: AbortSignal, min = 1): Promise<Uint8Array> {
    const want = Math.min(this.length, offset + Math.max(1, min))
    while (this.#filled < want) {
      if (this.#failed) throw new PieceGoneError('the piece will not arrive')
      signal.throwIfAborted()
      await new Promise<void>(resolve => {
        const done = (): void => { signal.removeEventListener('abort', done); resolve() }
        this.#waiters.push(done)
        signal.addEventListener('abort', done, { once: true })
      })
    }
    return this.bytes.subarray(offset, this.#filled)
  }

  #wake (): void {
    for (const wake of this.#waiters.splice(0)) wake()
  }
}

interface Subscriber {
  key: string
  /** Subscribed by content key: told the hashes this node vouches for. By manifest CID: the manifest says them. */
  vouching: boolean
  onEntries: (entries: ContentEntry[]) => void
  onEnd: () => void
}

export interface LiveContentInit {
  file: JobFileImpl
  /** The content key (URL, ETag, size): how peers that know only the URL name it. */
  contentKey: string
  /** A manifest trusted for this file (pinned): every piece checked against it, so all may be vouched for. */
  manifest: { cid: string, bytes: Uint8Array } | null
  /** Hashes of the file's verified pieces, filled as pieces land (shared with the piece sink). */
  hashes: Map<number, Uint8Array>
  memory: PieceMemory
  directReads: boolean
  /** Where peers' requests find it: it adds itself at once and leaves when closed. */
  registry: LiveRegistry
}

/**
 * A running download as a source for peers (docs/architecture.md, "Trust"): which of its pieces it serves, which it
 * vouches for, which it is fetching from the origin, and the updates its subscribers hear as that changes. A piece
 * is served from the moment it is whole (from memory while recent, else from the temporary file), a piece being
 * fetched from the origin while its bytes arrive. What it serves:
 * - with a trusted manifest: every piece it holds (each was checked against the manifest);
 * - else: pieces it fetched from the origin itself (it vouches for them, with their hashes), pieces from peers whose
 *   hash a peer vouched for (passed on, never vouched for by this node), and every piece once the file has passed
 *   its end-to-end check.
 */
export class LiveContent {
  readonly contentKey: string
  readonly manifestCid: string | null
  readonly #init: LiveContentInit
  readonly #subscribers = new Set<Subscriber>()
  /** Pieces claimed from the origin, while they arrive (only when someone may read them: see `claim`). */
  readonly #arriving = new Map<number, LivePiece>()
  /** Claimed from the origin and not landed yet. */
  readonly #claimed = new Set<number>()
  /** Pieces this node vouches for. */
  #vouched: Bitfield
  /** Pieces from peers that may be passed on: a peer vouched for their hash. */
  #relayable: Bitfield
  #reader: PieceReader | null = null
  #closed = false

  constructor (init: LiveContentInit) {
    this.#init = init
    this.contentKey = init.contentKey
    this.manifestCid = init.manifest?.cid ?? null
    const count = this.pieceCount
    this.#vouched = new Bitfield(count)
    this.#relayable = new Bitfield(count)
    const { done, fromPeer } = init.file
    // Pieces verified in an earlier run: those from the origin (or all, with a trusted manifest) are vouched for.
    for (const i of done?.setBits() ?? []) if (init.manifest != null || fromPeer?.get(i) !== true) this.#vouched.set(i)
    init.registry.add(this)
  }

  get keys (): string[] {
    return this.manifestCid == null ? [this.contentKey] : [this.contentKey, this.manifestCid]
  }

  get pieceSize (): number {
    return this.#init.file.record.pieceSize
  }

  get pieceCount (): number {
    return this.#init.file.done?.length ?? 0
  }

  get subscribers (): number {
    return this.#subscribers.size
  }

  get manifestBytes (): Uint8Array | null {
    return this.#init.manifest?.bytes ?? null
  }

  /** Served now: whole (on disk or in memory) and vouched for, passed on, or checked. */
  servable (index: number): boolean {
    if (!this.#vouched.get(index) && !this.#relayable.get(index)) return false
    return this.#init.file.done?.get(index) === true || this.#init.memory.has(this.contentKey, index) || this.#arriving.get(index)?.complete === true
  }

  have (): Bitfield {
    const bits = new Bitfield(this.pieceCount)
    for (let i = 0; i < bits.length; i++) if (this.servable(i)) bits.set(i)
    return bits
  }

  // ---- serving ----------------------------------------------------------------------------------------------

  subscribe (key: string, onEntries: (entries: ContentEntry[]) => void, onEnd: () => void): ContentSubscription | null {
    if (this.#closed || !this.keys.includes(key)) return null
    const subscriber: Subscriber = { key, vouching: key === this.contentKey, onEntries, onEnd }
    this.#subscribers.add(subscriber)
    const have = this.have()
    const entries: ContentEntry[] = []
    for (const i of have.setBits()) {
      if (subscriber.vouching && this.#vouched.get(i)) entries.push(this.#vouch(i))
    }
    for (const i of this.#claimed) entries.push({ kind: EntryKind.INTENT, index: i })
    return {
      pieceSize: this.pieceSize,
      pieceCount: this.pieceCount,
      complete: have.full,
      have: have.toBytes(),
      entries,
      close: () => { this.#subscribers.delete(subscriber) }
    }
  }

  async readPiece (index: number): Promise<PieceData | null> {
    const arriving = this.#arriving.get(index)
    if (arriving !== undefined) return arriving.complete ? arriving.bytes : arriving
    if (this.#closed || !this.servable(index)) return null
    const kept = this.#init.memory.get(this.contentKey, index)
    if (kept !== undefined) return kept
    const { file } = this.#init
    const { start, end } = pieceRange(index, file.record.size ?? 0, this.pieceSize)
    const bytes = Buffer.allocUnsafe(end - start)
    this.#reader ??= new PieceReader(file.temporaryName, this.#init.directReads)
    try {
      if (await this.#reader.read(bytes, start) !== bytes.byteLength) return null
    } catch {
      return null
    }
    return bytes
  }

  /** A piece of this file went out whole to a peer. */
  served (bytes: number): void {
    this.#init.file.addUploaded(bytes)
  }

  // ---- driven by the download -------------------------------------------------------------------------------

  /**
   * Pieces this node starts fetching from the origin: peers are told (so they ask this node rather than the
   * origin), and while anyone subscribes the bytes are kept as they arrive, to serve them on the way in.
   */
  claim (indices: number[]): void {
    const entries: ContentEntry[] = []
    for (const i of indices) {
      this.#claimed.add(i)
      if (this.#subscribers.size > 0) {
        const { start, end } = pieceRange(i, this.#init.file.record.size ?? 0, this.pieceSize)
        this.#arriving.set(i, new LivePiece(end - start))
      }
      entries.push({ kind: EntryKind.INTENT, index: i })
    }
    this.#tell(() => entries)
  }

  /** Bytes of a claimed piece as they arrive from the origin (`offset` within the piece). */
  arriving (index: number, offset: number, chunk: Uint8Array): void {
    this.#arriving.get(index)?.append(chunk, offset)
  }

  /** Claimed pieces the origin will not send (the fetch failed or was stopped). */
  unclaim (indices: number[]): void {
    const entries: ContentEntry[] = []
    for (const i of indices) {
      if (!this.#claimed.delete(i)) continue
      this.#arriving.get(i)?.fail()
      this.#arriving.delete(i)
      entries.push({ kind: EntryKind.UNINTENT, index: i })
    }
    if (entries.length > 0) this.#tell(() => entries)
  }

  /** A piece arrived whole from the origin, with its hash: this node vouches for it. */
  fromOrigin (index: number, hash: Uint8Array): void {
    this.#init.hashes.set(index, hash)
    this.#claimed.delete(index)
    const arriving = this.#arriving.get(index)
    this.#arriving.delete(index)
    if (arriving?.complete === true) this.#init.memory.put(this.contentKey, index, arriving.bytes)
    this.#vouched.set(index)
    this.#tell(s => [s.vouching ? this.#vouch(index) : { kind: EntryKind.HAVE, index }])
  }

  /**
   * A piece arrived from a peer and passed its check. `relayable`: its hash is one a peer vouched for (or the
   * manifest's), so it may be passed on; `bytes` is copied when someone may ask for it soon.
   */
  fromPeer (index: number, bytes: Uint8Array, relayable: boolean): void {
    if (this.#init.manifest != null) this.#vouched.set(index)
    else if (relayable) this.#relayable.set(index)
    else return
    if (this.#subscribers.size > 0) this.#init.memory.put(this.contentKey, index, copyOf(bytes))
    this.#tell(s => [s.vouching && this.#vouched.get(index) ? this.#vouch(index) : { kind: EntryKind.HAVE, index }])
  }

  /** The file passed its end-to-end check: this node vouches for every piece now. */
  checked (): void {
    const entries: Array<{ index: number, was: boolean }> = []
    for (const i of this.#init.file.done?.setBits() ?? []) {
      if (this.#vouched.get(i)) continue
      entries.push({ index: i, was: this.#relayable.get(i) })
      this.#vouched.set(i)
    }
    this.#tell(s => entries.filter(e => s.vouching || !e.was).map(e => s.vouching ? this.#vouch(e.index) : { kind: EntryKind.HAVE, index: e.index }))
  }

  /** Pieces no longer held (the file was reset, or pieces dropped to be fetched again). */
  lost (indices: number[]): void {
    const entries: ContentEntry[] = []
    for (const i of indices) {
      const was = this.servable(i)
      this.#vouched.set(i, false)
      this.#relayable.set(i, false)
      this.#init.memory.delete(this.contentKey, i)
      if (was) entries.push({ kind: EntryKind.LOST, index: i })
    }
    if (entries.length > 0) this.#tell(() => entries)
  }

  /**
   * Stops serving. `cached`: the seeding cache holds the file now and answers for it (subscribers keep their
   * subscription, quiet from now on); `gone`: nobody here has it any more (subscriptions end).
   */
  async close (how: 'cached' | 'gone'): Promise<void> {
    if (this.#closed) return
    this.unclaim([...this.#claimed])
    this.#closed = true
    this.#init.registry.remove(this)
    const subscribers = [...this.#subscribers]
    this.#subscribers.clear()
    if (how === 'gone') {
      this.#init.memory.drop(this.contentKey)
      for (const s of subscribers) s.onEnd()
    }
    await this.#reader?.close()
    this.#reader = null
  }

  /** The bytes of a recent piece kept in memory (an immutable copy), if any. */
  kept (index: number): Uint8Array | undefined {
    return this.#init.memory.get(this.contentKey, index)
  }

  #vouch (index: number): ContentEntry {
    const hash = this.#init.hashes.get(index)
    return hash === undefined ? { kind: EntryKind.HAVE, index } : { kind: EntryKind.VOUCH, index, hash }
  }

  #tell (entriesFor: (s: Subscriber) => ContentEntry[]): void {
    for (const s of this.#subscribers) {
      const entries = entriesFor(s)
      if (entries.length > 0) s.onEntries(entries)
    }
  }
}

/** The running downloads this node serves from, by the keys peers name them with. One per node. */
export class LiveRegistry {
  readonly #byKey = new Map<string, LiveContent>()

  add (content: LiveContent): void {
    for (const key of content.keys) this.#byKey.set(key, content)
  }

  remove (content: LiveContent): void {
    for (const key of content.keys) if (this.#byKey.get(key) === content) this.#byKey.delete(key)
  }

  get (key: string): LiveContent | undefined {
    return this.#byKey.get(key)
  }
}
