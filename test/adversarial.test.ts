import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createP2P } from '@dopt/p2p'
import type { ContentProvider, P2P } from '@dopt/p2p'
import { Bitfield, contentKey, encodeManifest, manifestCid, pieceCount, pieceRange, sha256 } from '@dopt/content'
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
 * cannot be made to lie on demand). It offers `manifest` under the content key and its CID, and `piece(i)` bytes.
 */
async function rogue (manifest: Uint8Array, key: string, piece: (index: number) => Uint8Array | null): Promise<P2P> {
  const cid = manifestCid(manifest).toString()
  const provider: ContentProvider = {
    async getManifest (k) { return k === key || k === cid ? manifest : null },
    async getHave (c) {
      if (c !== cid) return null
      const bits = new Bitfield(1 << 12)
      for (let i = 0; i < bits.length; i++) bits.set(i)
      return bits.toBytes()
    },
    async readPiece (c, index) { return c === cid ? piece(index) : null }
  }
  const p2p = await createP2P({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false }, { content: provider })
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
    const job = await fetchFile(node, url, s.path('c.bin'))
    expect(await digestOf(s.path('c.bin'))).toBe(digest(data))
    expect(job.getProgress().bytesFromPeers).toBe(0)
    expect(job.getProgress().bytesFromOrigin).toBe(size)
    // Banned after two strikes (its other workers may have had a request in flight each).
    expect(served).toBeGreaterThanOrEqual(2)
    expect(served).toBeLessThanOrEqual(2 + 4)
  })

  it('a forged manifest fails its spot check against the origin and is not used', async () => {
    const size = 4 * MiB
    const { url, data } = s.serve('m.bin', size)
    const etag = `"${size}-v1"`
    const forged = new Uint8Array(size).fill(0x42)
    const { bytes, key } = honestManifest(forged, url, etag)
    let served = 0
    const liar = await rogue(bytes, key, index => {
      served++
      const { start, end } = pieceRange(index, size, MiB)
      return forged.slice(start, end)
    })
    const node = await s.node('victim', { peers: liar.getMultiaddrs() })
    const job = await fetchFile(node, url, s.path('m.bin'))
    expect(await digestOf(s.path('m.bin'))).toBe(digest(data))
    expect(served).toBe(0)
    expect(job.getProgress().bytesFromOrigin).toBe(size)
  })

  it('a peer that disconnects mid-transfer loses its pieces to the origin', async () => {
    const size = 16 * MiB
    const { url, data } = s.serve('d.bin', size)
    const seed = await s.node('seed', { uploadRate: 4 * MiB })
    await fetchFile(seed, url, s.path('seed.bin'))
    const node = await s.node('leech', { peers: seed.getMultiaddrs() })
    const job = await node.jobs.createJob('leech', 'download')
    await job.addFile(url, s.path('leech.bin'))
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
    expect(p.bytesFromPeers + p.bytesFromOrigin).toBe(size)
  })
})
