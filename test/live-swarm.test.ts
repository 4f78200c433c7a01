import { writeFile } from 'node:fs/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { manifestOfFile } from '@dopt/content'
import { waitUntil } from '@dopt/lab'
import type { DoptNode, Job } from '@dopt/node'
import { digest, digestOf } from './helpers/harness.js'
import { fetchFile, swarm } from './helpers/swarm.js'
import type { Swarm } from './helpers/swarm.js'

const MiB = 1 << 20
let s: Swarm
beforeEach(async () => { s = await swarm() })
afterEach(async () => { await s.close() })

async function started (node: DoptNode, url: string, path: string, sha256: string): Promise<Job> {
  const job = await node.jobs.createJob(`get ${path}`, 'download')
  await job.addFile(url, path, { sha256 })
  await job.resume()
  return job
}

describe('the live swarm', () => {
  it('8 nodes started together on a plain URL with a SHA-256: the origin sends at most 1.3 copies, and each node counts what it sent', async () => {
    const size = 16 * MiB
    const { url, data } = s.serve('fleet.bin', size)
    // A slow origin (per response), as the swarm's reason to exist: pieces are shared while they arrive.
    s.origin.setFault('/fleet.bin', { rate: 8 * MiB })
    const nodes = await s.mesh('n', 8, { uploadRate: 40 * MiB })
    const jobs = await Promise.all(nodes.map(async (node, i) => await fetchFile(node, url, s.path(`out${i}.bin`), { sha256: digest(data) })))
    for (let i = 0; i < nodes.length; i++) expect(await digestOf(s.path(`out${i}.bin`))).toBe(digest(data))
    expect(s.origin.bytesSent).toBeLessThanOrEqual(1.3 * size)
    // Honest accounting: what the nodes say the origin sent them is what the origin sent.
    const fromOrigin = jobs.reduce((n, j) => n + j.getProgress().bytesFromOrigin, 0)
    expect(fromOrigin).toBe(s.origin.bytesSent)
    // Peers traded pieces: everyone got most of the file from the others, and sent about as much.
    for (const job of jobs) expect(job.getProgress().bytesFromPeers).toBeGreaterThan(size / 2)
    const uploaded = nodes.reduce((n, node) => n + node.getStats().bytesUploaded, 0)
    const fromPeers = jobs.reduce((n, j) => n + j.getProgress().bytesFromPeers, 0)
    expect(uploaded).toBeGreaterThanOrEqual(fromPeers)
  })

  it('a peer keeps its workers when more peers join: workers woken together do not all retire', async () => {
    const size = 8 * MiB
    const { url, data } = s.serve('crowd.bin', size)
    s.origin.setFault('/crowd.bin', { rate: 4 * MiB })
    const first = await s.node('first')
    const firstJob = await started(first, url, s.path('first.bin'), digest(data))
    await waitUntil('the first node is under way', () => firstJob.getProgress().bytesTransferred >= MiB, { timeoutMs: 20_000 })
    // Alone with `first`, `a` asks it with 8 workers, idle between the pieces `first` gets from the origin.
    const a = await s.node('a', { peers: first.getMultiaddrs() })
    const aJob = await started(a, url, s.path('a.bin'), digest(data))
    await waitUntil('a takes pieces from first', () => aJob.getProgress().bytesFromPeers >= MiB, { timeoutMs: 20_000 })
    // Three more peers: a's share per peer drops to 6 requests, and first's next update wakes all its 8 workers at
    // once. They once all retired (each saw the count before any left), and the pieces only `first` fetched from
    // the origin were never asked for: the origin leaves to a peer what it holds, so `a` waited forever.
    const late = await Promise.all(['b', 'c', 'd'].map(async name => await s.node(name, { peers: a.getMultiaddrs() })))
    const lateJobs = await Promise.all(late.map(async (node, i) => await started(node, url, s.path(`late${i}.bin`), digest(data))))
    for (const job of [firstJob, aJob, ...lateJobs]) {
      expect(await job.waitFor()).toBe('transferred')
      await job.complete()
    }
    expect(await digestOf(s.path('a.bin'))).toBe(digest(data))
    expect(aJob.getProgress().bytesFromPeers).toBeGreaterThan(0)
  })

  it('a slow peer does not hold the end of a download: its requests are raced at a fast one, and called off', async () => {
    const size = 16 * MiB
    const { url, data } = s.serve('race.bin', size)
    // Two peers hold the file: one uploads at 8 MiB/s, one at 256 KiB/s (its share of the getter's requests would
    // take it half a minute).
    const fast = await s.node('fast', { uploadRate: 8 * MiB })
    await fetchFile(fast, url, s.path('fast.bin'), { sha256: digest(data) })
    const slow = await s.node('slow', { uploadRate: 256 * 1024 })
    await fetchFile(slow, url, s.path('slow.bin'), { sha256: digest(data) })
    // The origin all but stops: the file comes from the two peers.
    s.origin.setFault('/race.bin', { rate: 1024 })
    const getter = await s.node('getter', { peers: [...fast.getMultiaddrs(), ...slow.getMultiaddrs()] })
    const began = Date.now()
    const job = await fetchFile(getter, url, s.path('got.bin'), { sha256: digest(data) })
    expect(await digestOf(s.path('got.bin'))).toBe(digest(data))
    // About the fast peer's time for the whole file (2 s), not the slow one's for its share.
    expect(Date.now() - began).toBeLessThan(12_000)
    expect(fast.getStats().bytesUploaded).toBeGreaterThan(size * 0.75)
    // Races called off leave no whole duplicates behind.
    expect(job.getProgress().bytesFromPeers).toBeLessThan(size + 2 * MiB)
  })

  it('a node joining mid-download takes pieces from nodes still downloading', async () => {
    const size = 24 * MiB
    const { url, data } = s.serve('join.bin', size)
    s.origin.setFault('/join.bin', { rate: 6 * MiB })
    const [a, b] = await s.mesh('early', 2)
    const jobs = await Promise.all([a!, b!].map(async (node, i) => await started(node, url, s.path(`early${i}.bin`), digest(data))))
    await waitUntil('both early nodes have a quarter', () => jobs.every(j => j.getProgress().bytesTransferred >= 6 * MiB), { timeoutMs: 20_000 })
    // Nobody holds the whole file: the late node can only have pieces from downloads still running.
    expect(jobs.map(j => j.getState())).toEqual(['transferring', 'transferring'])
    const late = await s.node('late', { peers: [...a!.getMultiaddrs(), ...b!.getMultiaddrs()] })
    const lateJob = await started(late, url, s.path('late.bin'), digest(data))
    await waitUntil('the late node has pieces from peers', () => lateJob.getProgress().bytesFromPeers >= 4 * MiB, { timeoutMs: 20_000 })
    expect(jobs.filter(j => j.getState() === 'transferred')).toHaveLength(0)
    for (const job of [...jobs, lateJob]) {
      expect(await job.waitFor()).toBe('transferred')
      await job.complete()
    }
    expect(await digestOf(s.path('late.bin'))).toBe(digest(data))
    expect(s.origin.bytesSent).toBeLessThanOrEqual(1.3 * size)
  })

  it('a pinned manifest comes from the origin\'s sidecar when no peer holds it, and its bytes are counted', async () => {
    const size = 6 * MiB
    const { url, data } = s.serve('pinned.bin', size)
    await writeFile(s.path('publisher.bin'), data)
    const published = await manifestOfFile(s.path('publisher.bin'))
    s.origin.setFile('/pinned.bin.dopt-manifest', { data: published.bytes })
    const node = await s.node('solo')
    const job = await fetchFile(node, url, s.path('pinned.bin'), { manifest: published.cid })
    expect(await digestOf(s.path('pinned.bin'))).toBe(digest(data))
    expect(s.origin.requests.some(r => r.path === '/pinned.bin.dopt-manifest' && r.status === 200)).toBe(true)
    expect(job.getProgress().bytesFromOrigin).toBe(size + published.bytes.byteLength)
    expect(job.getProgress().bytesFromOrigin).toBe(s.origin.bytesSent)
    expect(job.toJSON().files[0]!.manifestCid).toBe(published.cid)
  })

  it('a pinned manifest from a file the caller gives, in another piece size than the node\'s (it takes the manifest\'s)', async () => {
    const size = 3 * MiB + 123
    const { url, data } = s.serve('given.bin', size)
    await writeFile(s.path('publisher.bin'), data)
    const published = await manifestOfFile(s.path('publisher.bin'), { pieceSize: 256 * 1024 })
    await writeFile(s.path('given.manifest'), published.bytes)
    const node = await s.node('given')
    const job = await fetchFile(node, url, s.path('given.bin'), { manifest: published.cid, manifestFrom: s.path('given.manifest') })
    expect(await digestOf(s.path('given.bin'))).toBe(digest(data))
    expect(s.origin.requests.some(r => r.path.endsWith('.dopt-manifest'))).toBe(false)
    expect(job.getProgress().bytesFromOrigin).toBe(size)
    const node2 = await s.node('given2', { peers: node.getMultiaddrs() })
    // The next node gets it from the first (by CID, from its cache), with no file and no sidecar.
    const job2 = await fetchFile(node2, url, s.path('given2.bin'), { manifest: published.cid })
    expect(job2.getProgress().bytesFromPeers).toBe(size)
    expect(job2.getProgress().bytesFromOrigin).toBe(0)
  })

  it('refuses manifestFrom without a pinned manifest, or as a relative path', async () => {
    const { url } = s.serve('bad.bin', MiB)
    const node = await s.node('bad')
    const job = await node.jobs.createJob('bad', 'download')
    await expect(job.addFile(url, s.path('b1.bin'), { manifestFrom: '/tmp/x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('CID') })
    await expect(job.addFile(url, s.path('b2.bin'), { manifest: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', manifestFrom: 'x.manifest' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })

  it('with a pinned manifest and no sidecar nor peer, the job waits (MANIFEST_UNAVAILABLE, transient)', async () => {
    const { url, data } = s.serve('nowhere.bin', 2 * MiB)
    await writeFile(s.path('p.bin'), data)
    const { cid } = await manifestOfFile(s.path('p.bin'))
    const node = await s.node('waiting', { minimumRetryDelay: 30 })
    const job = await node.jobs.createJob('pinned, nowhere', 'download')
    await job.addFile(url, s.path('nowhere.bin'), { manifest: cid })
    await job.resume()
    expect(await job.waitFor(['transient-error', 'transferred', 'error'])).toBe('transient-error')
    expect(job.getError()?.code).toBe('MANIFEST_UNAVAILABLE')
  })

  it('without an end-to-end check, peers are used in a private group (PSK) or with trustGroup, and not otherwise', async () => {
    const size = 4 * MiB
    const { url } = s.serve('trust.bin', size)
    const psk = new Uint8Array(32).fill(9)
    const privateSeed = await s.node('private-seed', { psk })
    await fetchFile(privateSeed, url, s.path('private-seed.bin'))
    const member = await s.node('member', { psk, peers: privateSeed.getMultiaddrs() })
    expect((await fetchFile(member, url, s.path('member.bin'))).getProgress().bytesFromPeers).toBe(size)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    const trusting = await s.node('trusting', { trustGroup: true, peers: seed.getMultiaddrs() })
    expect((await fetchFile(trusting, url, s.path('trusting.bin'))).getProgress().bytesFromPeers).toBe(size)
    const careful = await s.node('careful', { peers: seed.getMultiaddrs() })
    expect((await fetchFile(careful, url, s.path('careful.bin'))).getProgress().bytesFromPeers).toBe(0)
  })

  it('nodes of 1.0.0 serve, and are served, alongside 1.1.0 ones', async () => {
    const size = 8 * MiB
    const { url, data } = s.serve('old.bin', size)
    const old = await s.node('old', { protocolVersions: ['1.0.0'] })
    await fetchFile(old, url, s.path('old.bin'))
    const sent = s.origin.bytesSent
    const fresh = await s.mesh('fresh', 2, { peers: old.getMultiaddrs() })
    const jobs = await Promise.all(fresh.map(async (node, i) => await fetchFile(node, url, s.path(`fresh${i}.bin`), { sha256: digest(data) })))
    for (let i = 0; i < 2; i++) expect(await digestOf(s.path(`fresh${i}.bin`))).toBe(digest(data))
    expect(s.origin.bytesSent).toBe(sent) // all from peers
    expect(old.getStats().bytesUploaded).toBeGreaterThan(0)
    expect(jobs.every(j => j.getProgress().bytesFromPeers >= size)).toBe(true)
    // And the old node is served by the new ones: it asks by 1.0.0 (manifest for the content key, then pieces).
    const oldPeer = await s.node('old-peer', { protocolVersions: ['1.0.0'], peers: fresh[0]!.getMultiaddrs() })
    const served = await fetchFile(oldPeer, url, s.path('old-peer.bin'), { sha256: digest(data) })
    expect(served.getProgress().bytesFromPeers).toBe(size)
    expect(s.origin.bytesSent).toBe(sent)
  })
})
