import { afterEach, describe, expect, it } from 'vitest'
import { MemoryContent, Nodes, cidOf, makeFile, sha256Hex } from './helpers.js'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

describe('piece protocol between two nodes', () => {
  it('exchanges manifest, have and pieces; refuses unknown content', async () => {
    const content = new MemoryContent()
    const file = await makeFile(10, 64 * 1024)
    const contentKey = await cidOf(new TextEncoder().encode('https://example.com/f.bin'))
    content.add(file, contentKey)
    const a = await nodes.start({}, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })

    expect(await b.fetchManifest(a.peerId, file.manifestCid)).toEqual(file.manifest)
    expect(await b.fetchManifest(a.peerId, contentKey)).toEqual(file.manifest)
    const have = await b.fetchHave(a.peerId, file.manifestCid)
    expect(have).toEqual(new Uint8Array([0xff, 0xc0]))
    for (let i = 0; i < file.pieces.length; i++) {
      expect(sha256Hex(await b.fetchPiece(a.peerId, file.manifestCid, i))).toBe(sha256Hex(file.pieces[i]!))
    }

    const unknown = await cidOf(new TextEncoder().encode('nothing'))
    expect(await b.fetchManifest(a.peerId, unknown)).toBeNull()
    expect(await b.fetchHave(a.peerId, unknown)).toBeNull()
    await expect(b.fetchPiece(a.peerId, unknown, 0)).rejects.toMatchObject({ code: 'PEER_REFUSED' })
    await expect(b.fetchPiece(a.peerId, file.manifestCid, 10)).rejects.toMatchObject({ code: 'PEER_REFUSED' })

    expect(b.getPeers().map(p => p.peerId)).toContain(a.peerId)
    expect(b.getPeers().find(p => p.peerId === a.peerId)?.source).toBe('static')
    expect(a.getPeers().find(p => p.peerId === b.peerId)?.source).toBe('inbound')
  })

  it('pipelines 64 x 1 MiB pieces on one stream, bytes intact', async () => {
    const content = new MemoryContent()
    const file = await makeFile(64, 1024 * 1024)
    content.add(file)
    const a = await nodes.start({ maxConcurrentUploads: 8 }, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const addr = a.getMultiaddrs()[0]!
    expect(addr).toContain('/p2p/')
    const got = await Promise.all(file.pieces.map(async (_, i) => await b.fetchPiece(a.peerId, file.manifestCid, i)))
    got.forEach((piece, i) => { expect(sha256Hex(piece)).toBe(sha256Hex(file.pieces[i]!)) })
  })

  it('receives a piece into a given buffer, and lets go of it when the fetch is aborted mid-piece', async () => {
    const content = new MemoryContent()
    const file = await makeFile(2, 16 * 1024 * 1024)
    content.add(file)
    const a = await nodes.start({}, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })

    const into = new Uint8Array(16 * 1024 * 1024 + 5)
    const piece = await b.fetchPiece(a.peerId, file.manifestCid, 0, { into })
    expect(piece.buffer).toBe(into.buffer)
    expect(sha256Hex(piece)).toBe(sha256Hex(file.pieces[0]!))

    // Abort as soon as the first bytes of piece 1 land in the buffer (16 MiB take many socket reads, and libuv
    // reads at most 2 MiB per loop turn). Outcomes are compared as strings: a 16 MiB array in a failure message
    // would exhaust the test worker's heap.
    const blank = ~file.pieces[1]![0]! & 0xff
    into.fill(blank)
    const controller = new AbortController()
    const fetching = b.fetchPiece(a.peerId, file.manifestCid, 1, { into, signal: controller.signal })
      .then(() => 'resolved', (err: { code?: string }) => err.code)
    let polls = 0
    await new Promise<void>(resolve => {
      const poll = (): void => {
        if (into[0] !== blank || ++polls > 100_000) { controller.abort(); resolve() } else setImmediate(poll)
      }
      poll()
    })
    expect(await fetching).toBe('ABORTED')
    const snapshot = Buffer.from(into)
    expect(snapshot.at(-6)).toBe(blank) // the abort came before the piece was whole
    // The rest of piece 1 still arrives on the session (the next answer comes after it) but not into the buffer.
    expect(sha256Hex(await b.fetchPiece(a.peerId, file.manifestCid, 0))).toBe(sha256Hex(file.pieces[0]!))
    expect(Buffer.from(into).equals(snapshot)).toBe(true)
  })

  it('paces uploads to uploadRate', async () => {
    const content = new MemoryContent()
    const file = await makeFile(4, 256 * 1024)
    content.add(file)
    const a = await nodes.start({ uploadRate: 2 * 1024 * 1024 }, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    await b.fetchManifest(a.peerId, file.manifestCid) // connect first, time only the transfer
    const started = Date.now()
    await Promise.all([0, 1, 2, 3].map(async i => await b.fetchPiece(a.peerId, file.manifestCid, i)))
    // 1 MiB at 2 MiB/s: the first piece goes at once, the last after ~375 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
  })

  it('rejects a fetch whose signal aborts, and a timed-out one', async () => {
    const content = new MemoryContent()
    const file = await makeFile(1, 1024)
    content.add(file)
    const slow = {
      getManifest: async () => await new Promise<Uint8Array | null>(resolve => setTimeout(() => { resolve(null) }, 2_000)),
      getHave: content.getHave.bind(content),
      readPiece: content.readPiece.bind(content)
    }
    const a = await nodes.start({}, slow)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    await expect(b.fetchManifest(a.peerId, file.manifestCid, { timeout: 200 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
    await expect(b.fetchManifest(a.peerId, file.manifestCid, { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({ code: 'ABORTED' })
    // The session survives both: the next request on the same stream works.
    expect(await b.fetchHave(a.peerId, file.manifestCid)).not.toBeNull()
  })
})
