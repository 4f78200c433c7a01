import { afterEach, describe, expect, it } from 'vitest'
import { EntryKind, PieceUnavailableError } from '../src/index.js'
import type { ContentEntry, ContentProvider, ContentSubscription, PieceData, StreamingPiece } from '../src/index.js'
import { MemoryContent, Nodes, cidOf, makeFile, sha256Hex } from './helpers.js'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

/** A piece whose bytes the test releases bit by bit, as a download from the origin would. */
class ArrivingPiece implements StreamingPiece {
  readonly bytes: Uint8Array
  #available = 0
  #failed: Error | null = null
  #waiters: Array<() => void> = []

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  get length (): number { return this.bytes.byteLength }

  release (upTo: number): void {
    this.#available = Math.max(this.#available, upTo)
    for (const w of this.#waiters.splice(0)) w()
  }

  fail (): void {
    this.#failed = new PieceUnavailableError('origin gone')
    for (const w of this.#waiters.splice(0)) w()
  }

  async read (offset: number, signal: AbortSignal): Promise<Uint8Array> {
    while (this.#available <= offset) {
      if (this.#failed !== null) throw this.#failed
      signal.throwIfAborted()
      await new Promise<void>(resolve => this.#waiters.push(resolve))
    }
    return this.bytes.subarray(offset, this.#available)
  }
}

/** Serves one piece that is still arriving, and subscriptions whose entries the test pushes. */
class LiveContent extends MemoryContent implements ContentProvider {
  readonly arriving = new Map<string, ArrivingPiece>()
  readonly subscribers: Array<{ key: string, peerId: string, push: (e: ContentEntry[]) => void, end: () => void, closed: boolean }> = []

  override async readPiece (key: string, index: number): Promise<PieceData | null> {
    return this.arriving.get(`${key}/${index}`) ?? await super.readPiece(key, index)
  }

  async subscribe (key: string, peerId: string, push: (e: ContentEntry[]) => void, end: () => void): Promise<ContentSubscription | null> {
    const file = this.files.get(this.keys.get(key) ?? key)
    if (file === undefined) return null
    const sub = { key, peerId, push, end, closed: false }
    this.subscribers.push(sub)
    return {
      pieceSize: file.pieces[0]!.byteLength,
      pieceCount: file.pieces.length,
      complete: false,
      have: new Uint8Array([0x80]),
      entries: [{ kind: EntryKind.INTENT, index: 1 }],
      close: () => { sub.closed = true }
    }
  }
}

async function until (check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

describe('protocol 1.1.0', () => {
  it('serves a piece while its bytes arrive: the asker has the first part before the rest exists', async () => {
    const content = new LiveContent()
    const file = await makeFile(2, 1024 * 1024)
    content.add(file)
    const piece = new ArrivingPiece(file.pieces[1]!)
    content.arriving.set(`${file.manifestCid}/1`, piece)
    const a = await nodes.start({}, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const into = new Uint8Array(1024 * 1024)
    const fetching = b.fetchPiece(a.peerId, file.manifestCid, 1, { into, timeout: 5_000 })
    piece.release(300_000)
    // The first 256 KiB part reaches the asker's buffer while most of the piece has not arrived at the server.
    await until(() => into[255 * 1024] === file.pieces[1]![255 * 1024] && into[0] === file.pieces[1]![0])
    piece.release(1024 * 1024)
    const got = await fetching
    expect(got.buffer).toBe(into.buffer)
    expect(sha256Hex(got)).toBe(sha256Hex(file.pieces[1]!))
    expect(a.getStats()).toMatchObject({ bytesUploaded: 1024 * 1024, piecesUploaded: 1 })
  })

  it('refuses a piece that stops arriving, and the session goes on', async () => {
    const content = new LiveContent()
    const file = await makeFile(2, 64 * 1024)
    content.add(file)
    const piece = new ArrivingPiece(file.pieces[1]!)
    content.arriving.set(`${file.manifestCid}/1`, piece)
    const a = await nodes.start({}, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const fetching = b.fetchPiece(a.peerId, file.manifestCid, 1).catch((err: unknown) => err)
    piece.release(1000)
    await new Promise(resolve => setTimeout(resolve, 100))
    piece.fail()
    expect(await fetching).toMatchObject({ code: 'PEER_REFUSED' })
    expect(sha256Hex(await b.fetchPiece(a.peerId, file.manifestCid, 0))).toBe(sha256Hex(file.pieces[0]!))
  })

  it('subscribes: the state, its entries, pushed updates; the server hears of the subscriber; cancel lets go', async () => {
    const content = new LiveContent()
    const file = await makeFile(5, 64 * 1024)
    const key = await cidOf(new TextEncoder().encode('http://origin/f.bin'))
    content.add(file, key)
    const a = await nodes.start({}, content)
    const heard: Array<{ peerId: string, key: string }> = []
    a.addEventListener('subscribe', evt => { heard.push(evt.detail) })
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const updates: ContentEntry[] = []
    const ends: Error[] = []
    const sub = await b.subscribe(a.peerId, key, { onUpdate: e => updates.push(...e), onEnd: err => ends.push(err) })
    if (sub === null || sub === 'unsupported') throw new Error(`no subscription: ${String(sub)}`)
    expect(sub).toMatchObject({ pieceSize: 64 * 1024, pieceCount: 5, complete: false, have: new Uint8Array([0x80]) })
    await until(() => updates.length === 1)
    expect(updates[0]).toEqual({ kind: EntryKind.INTENT, index: 1 })
    expect(heard).toEqual([{ peerId: b.peerId, key }])
    const hash = new Uint8Array(32).fill(1)
    content.subscribers[0]!.push([{ kind: EntryKind.VOUCH, index: 1, hash }, { kind: EntryKind.HAVE, index: 2 }])
    content.subscribers[0]!.push([{ kind: EntryKind.LOST, index: 0 }])
    await until(() => updates.length === 4)
    expect(updates.slice(1)).toEqual([{ kind: EntryKind.VOUCH, index: 1, hash }, { kind: EntryKind.HAVE, index: 2 }, { kind: EntryKind.LOST, index: 0 }])
    sub.cancel()
    await until(() => content.subscribers[0]!.closed)
    expect(ends).toEqual([])
    // Unknown content: no subscription.
    expect(await b.subscribe(a.peerId, await cidOf(new Uint8Array([1])), { onUpdate: () => {}, onEnd: () => {} })).toBeNull()
  })

  it('ends a subscription when the server stops serving the content', async () => {
    const content = new LiveContent()
    const file = await makeFile(2, 16 * 1024)
    content.add(file)
    const a = await nodes.start({}, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const ends: Error[] = []
    const sub = await b.subscribe(a.peerId, file.manifestCid, { onUpdate: () => {}, onEnd: err => ends.push(err) })
    expect(sub).not.toBeNull()
    content.subscribers[0]!.end()
    await until(() => ends.length === 1)
    expect(ends[0]).toMatchObject({ code: 'PEER_REFUSED' })
  })

  it('talks 1.0.0 with a node that speaks only that, both ways', async () => {
    const content = new LiveContent()
    const file = await makeFile(3, 256 * 1024)
    content.add(file)
    const piece = new ArrivingPiece(file.pieces[2]!)
    content.arriving.set(`${file.manifestCid}/2`, piece)
    const fresh = await nodes.start({}, content)
    const oldContent = new MemoryContent()
    oldContent.add(file)
    const old = await nodes.start({ peers: fresh.getMultiaddrs(), protocolVersions: ['1.0.0'] }, oldContent)
    // The old node asks the new one: one PIECE frame per piece, a piece still arriving sent once it is whole.
    expect(sha256Hex(await old.fetchPiece(fresh.peerId, file.manifestCid, 0))).toBe(sha256Hex(file.pieces[0]!))
    const waiting = old.fetchPiece(fresh.peerId, file.manifestCid, 2)
    piece.release(100)
    await new Promise(resolve => setTimeout(resolve, 50))
    piece.release(256 * 1024)
    expect(sha256Hex(await waiting)).toBe(sha256Hex(file.pieces[2]!))
    expect(await old.subscribe(fresh.peerId, file.manifestCid, { onUpdate: () => {}, onEnd: () => {} })).toBe('unsupported')
    // The new node asks the old one: 1.0.0 is negotiated, no subscriptions.
    const other = await nodes.start({ peers: old.getMultiaddrs() })
    expect(await other.subscribe(old.peerId, file.manifestCid, { onUpdate: () => {}, onEnd: () => {} })).toBe('unsupported')
    expect(sha256Hex(await other.fetchPiece(old.peerId, file.manifestCid, 1))).toBe(sha256Hex(file.pieces[1]!))
  })
})
