import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createP2P } from '@dopt/p2p'
import type { ContentProvider, P2P, P2PInit } from '@dopt/p2p'
import { EntryKind } from '@dopt/interface'
import { Bitfield, contentKey, decodeManifest, encodeManifest, manifestCid, pieceCount, pieceRange, sha256 } from '@dopt/content'
import { digest, digestOf } from './helpers/harness.js'
import { fetchFile, swarm } from './helpers/swarm.js'
import type { Swarm } from './helpers/swarm.js'

const MiB = 1 << 20
let s: Swarm
let rogues: P2P[] = []
let dir: string
beforeEach(async () => {
  s = await swarm()
  dir = await mkdtemp(join(tmpdir(), 'dopt-rogue-'))
})
afterEach(async () => {
  await Promise.allSettled(rogues.map(async r => { await r.stop() }))
  rogues = []
  await s.close()
  await rm(dir, { recursive: true, force: true })
})

/**
 * A real libp2p node that speaks dopt's protocol with a hostile content provider (the one fake here: a real node
 * cannot be made to lie on demand). It offers `manifest` under the content key and its CID, vouches for the
 * manifest's piece hashes to subscribers (as a seed does), and serves `piece(i)` bytes under either key.
 */
async function rogue (manifest: Uint8Array, key: string, piece: (index: number) => Uint8Array | null, init: Partial<P2PInit> = {}): Promise<P2P> {
  const cid = manifestCid(manifest).toString()
  const { pieceHashes, pieceSize } = decodeManifest(manifest)
  const all = new Bitfield(pieceHashes.length)
  for (let i = 0; i < all.length; i++) all.set(i)
  const provider: ContentProvider = {
    async getManifest (k) { return k === key || k === cid ? manifest : null },
    async getHave (k) { return k === cid || k === key ? all.toBytes() : null },
    async readPiece (k, index) { return k === cid || k === key ? piece(index) : null },
    async subscribe (k) {
      if (k !== key && k !== cid) return null
      const entries = k === key ? pieceHashes.map((hash, index) => ({ kind: EntryKind.VOUCH, index, hash })) : []
      return { pieceSize, pieceCount: pieceHashes.length, complete: true, have: all.toBytes(), entries, close: () => {} }
    }
  }
  const p2p = await createP2P({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ...init }, { content: provider })
  rogues.push(p2p)
  return p2p
}

/** The honest manifest of `data` as served at `url` by the test origin (first version's ETag). */
function honestManifest (data: Uint8Array, url: string, etag: string): { bytes: Uint8Array, key: string } {
  const pieceSize = MiB
  const hashes = []
  for (let i = 0; i < pieceCount(data.byteLength, pieceSize); i++) {
    const { start, end } = pieceRange(i, data.byteLength, pieceSize)
    hashes.push(sha256(data.subarray(start, end)))
  }
  const bytes = encodeManifest({ size: data.byteLength, pieceSize, pieceHashes: hashes, sha256: null, source: { url, etag, lastModified: null } })
  return { bytes, key: contentKey(url, etag, data.byteLength).toString() }
}

describe('hostile and failing peers', () => {
  it('a peer serving corrupt pieces is detected, banned, and routed around', async () => {
    const size = 8 * MiB
    const { url, data } = s.serve('c.bin', size)
    const etag = `"${size}-v1"`
    const { bytes, key } = honestManifest(data, url, etag)
    let served = 0
    const bad = await rogue(bytes, key, index => {
      served++
      const { start, end } = pieceRange(index, size, MiB)
      const copy = data.slice(start, end)
      copy[0] = copy[0]! ^ 0xff
      return copy
    })
    const node = await s.node('victim', { peers: bad.getMultiaddrs(), maxPeerStrikes: 2, peerRequestsInFlight: 4 })
    const job = await fetchFile(node, url, s.path('c.bin'), { sha256: digest(data) })
    expect(await digestOf(s.path('c.bin'))).toBe(digest(data))
    // Every byte it sent is counted, and none was used: the file is all the origin's.
    expect(job.toJSON().files[0]!.isDownloadedFromPeer).toBe(false)
    expect(job.getProgress().bytesFromPeers).toBe(served * MiB)
    expect(job.getProgress().bytesFromOrigin).toBe(size)
    // Banned after two strikes (its other workers may have had a request in flight each).
    expect(served).toBeGreaterThanOrEqual(2)
    expect(served).toBeLessThanOrEqual(2 + 4)
    expect(node.getBannedPeers().map(b => b.peerId)).toEqual([bad.peerId])
  })

  it('a forged manifest and no end-to-end check: no peer byte is used, the right file is delivered, and why is said once', async () => {
    const size = 4 * MiB
    const { url, data } = s.serve('m.bin', size)
    const etag = `"${size}-v1"`
    // The liar's hashes match the bytes it serves: only one forged piece among the honest ones.
    const forged = data.slice()
    forged[2 * MiB + 5] = forged[2 * MiB + 5]! ^ 1
    const { bytes, key } = honestManifest(forged, url, etag)
    let served = 0
    const liar = await rogue(bytes, key, index => {
      served++
      const { start, end } = pieceRange(index, size, MiB)
      return forged.slice(start, end)
    })
    const node = await s.node('victim', { peers: liar.getMultiaddrs() })
    const job = await node.jobs.createJob('no check', 'download')
    await job.addFile(url, s.path('m.bin'))
    const notices: string[] = []
    job.addEventListener('notice', evt => { notices.push(evt.detail.code) })
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    expect(await digestOf(s.path('m.bin'))).toBe(digest(data))
    expect(served).toBe(0)
    expect(job.getProgress().bytesFromPeers).toBe(0)
    expect(job.getProgress().bytesFromOrigin).toBe(size)
    expect(notices).toEqual(['ORIGIN_ONLY'])
  })

  it('a peer vouching for wrong pieces with matching fake hashes: the file is fetched again from the origin, the liar banned, the right file delivered', async () => {
    const size = 4 * MiB
    const { url, data } = s.serve('v.bin', size)
    const etag = `"${size}-v1"`
    const forged = data.slice()
    forged[MiB + 17] = forged[MiB + 17]! ^ 0x80
    const { bytes, key } = honestManifest(forged, url, etag)
    const liar = await rogue(bytes, key, index => {
      const { start, end } = pieceRange(index, size, MiB)
      return forged.slice(start, end)
    })
    const node = await s.node('victim', { peers: liar.getMultiaddrs() })
    const job = await fetchFile(node, url, s.path('v.bin'), { sha256: digest(data) })
    expect(await digestOf(s.path('v.bin'))).toBe(digest(data))
    const p = job.getProgress()
    // Everything came from the liar first; what came from it was fetched again from the origin.
    expect(p.bytesFromPeers).toBe(size)
    expect(p.bytesFromOrigin).toBe(size)
    expect(job.toJSON().files[0]!.isDownloadedFromPeer).toBe(false)
    expect(node.getBannedPeers().map(b => b.peerId)).toEqual([liar.peerId])
    expect(node.getStats()).toMatchObject({ peersBanned: 1, piecesRejected: 1 })
    // Banned: a second download of the same content takes nothing from it.
    const again = await fetchFile(node, url, s.path('v2.bin'), { sha256: digest(data) })
    expect(again.getProgress().bytesFromPeers).toBe(0)
  })

  it('a peer that disconnects mid-transfer loses its pieces to the origin', async () => {
    const size = 16 * MiB
    const { url, data } = s.serve('d.bin', size)
    const seed = await s.node('seed', { uploadRate: 4 * MiB })
    await fetchFile(seed, url, s.path('seed.bin'))
    const node = await s.node('leech', { peers: seed.getMultiaddrs() })
    const job = await node.jobs.createJob('leech', 'download')
    await job.addFile(url, s.path('leech.bin'), { sha256: digest(data) })
    await job.resume()
    const deadline = Date.now() + 10_000
    while (job.getProgress().bytesFromPeers < 2 * MiB && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
    await seed.stop()
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    expect(await digestOf(s.path('leech.bin'))).toBe(digest(data))
    const p = job.getProgress()
    expect(p.bytesFromPeers).toBeGreaterThanOrEqual(2 * MiB)
    expect(p.bytesFromOrigin).toBeGreaterThan(0)
    // Pieces cut off mid-way by the stop are counted by neither side; every byte that came is.
    expect(p.bytesFromPeers + p.bytesFromOrigin).toBeGreaterThanOrEqual(size)
    expect(p.bytesFromOrigin).toBe(s.origin.bytesSent - size) // the seed's own download was the first copy
  })
})
