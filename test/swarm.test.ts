import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotifyFlags } from '@dopt/node'
import { digest, digestOf, until } from './helpers/harness.js'
import { fetchFile, swarm } from './helpers/swarm.js'
import type { Swarm } from './helpers/swarm.js'

const MiB = 1 << 20
let s: Swarm
beforeEach(async () => { s = await swarm() })
afterEach(async () => { await s.close() })

describe('peers first', () => {
  it('one seed and four others: the origin sends about one copy', async () => {
    const { url, data } = s.serve('f.bin', 16 * MiB)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    const sentBySeed = s.origin.bytesSent
    expect(sentBySeed).toBe(data.byteLength)
    const others = await Promise.all([1, 2, 3, 4].map(async i => await s.node(`n${i}`, { peers: seed.getMultiaddrs() })))
    const jobs = await Promise.all(others.map(async (n, i) => await fetchFile(n, url, s.path(`n${i}.bin`), { sha256: digest(data) })))
    for (let i = 0; i < others.length; i++) expect(await digestOf(s.path(`n${i}.bin`))).toBe(digest(data))
    const fromPeers = jobs.reduce((n, j) => n + j.getProgress().bytesFromPeers, 0)
    expect(fromPeers).toBeGreaterThanOrEqual(3 * data.byteLength)
    // What the nodes count as sent covers what they counted as received from peers.
    const uploaded = [seed, ...others].reduce((n, node) => n + node.getStats().bytesUploaded, 0)
    expect(uploaded).toBeGreaterThanOrEqual(fromPeers)
    expect(jobs.every(j => j.enumFiles()[0]!.isDownloadedFromPeer)).toBe(true)
    // One copy for the seed, plus a spot-check piece per node and whatever no peer could serve in time.
    expect(s.origin.bytesSent).toBeLessThan(2 * data.byteLength)
  })

  it('mode http never touches peers', async () => {
    const { url, data } = s.serve('h.bin', 4 * MiB)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    const plain = await s.node('plain', { mode: 'http', peers: seed.getMultiaddrs() })
    expect(plain.peerId).toBeNull()
    const job = await fetchFile(plain, url, s.path('plain.bin'), { sha256: digest(data) })
    expect(job.getProgress().bytesFromPeers).toBe(0)
    expect(job.getProgress().bytesFromOrigin).toBe(4 * MiB)
  })

  it('nodes of different groups never share', async () => {
    const { url, data } = s.serve('g.bin', 4 * MiB)
    const seed = await s.node('seed', { groupId: 'red' })
    await fetchFile(seed, url, s.path('seed.bin'))
    const other = await s.node('other', { groupId: 'blue', peers: seed.getMultiaddrs() })
    const job = await fetchFile(other, url, s.path('other.bin'), { sha256: digest(data) })
    expect(job.getProgress().bytesFromPeers).toBe(0)
  })

  it('serves a download it holds before the job is completed, and from the cache after', async () => {
    const { url, data } = s.serve('u.bin', 4 * MiB)
    const seed = await s.node('seed')
    const job = await seed.jobs.createJob('not yet', 'download')
    await job.addFile(url, s.path('seed.bin'))
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    expect(await seed.getCacheItems()).toEqual([])
    // Not completed, not in the cache: the pieces it fetched from the origin itself, it serves and vouches for.
    const early = await s.node('early', { peers: seed.getMultiaddrs() })
    const earlyJob = await fetchFile(early, url, s.path('early.bin'), { sha256: digest(data) })
    expect(earlyJob.getProgress().bytesFromPeers).toBe(data.byteLength)
    expect(job.getProgress().bytesUploaded).toBe(data.byteLength)
    await job.complete()
    const items = await seed.getCacheItems()
    expect(items).toHaveLength(1)
    // The cache serves it, so its manifest stays although the job is gone.
    expect(items[0]!.cid).toBe(job.toJSON().files[0]!.manifestCid)
  })

  it('rejected peer content is fetched again from the origin only, and fileTransferred fires again', async () => {
    const { url, data } = s.serve('v.bin', 4 * MiB)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    const node = await s.node('picky', { peers: seed.getMultiaddrs() })
    // Connected before the job starts, so that the first copy comes from the seed (else it may all come from the origin).
    await until(() => node.getPeers().some(p => p.peerId === seed.peerId))
    const job = await node.jobs.createJob('picky', 'download')
    await job.addFile(url, s.path('picky.bin'))
    const verdicts: Array<{ fromPeer: boolean, bytesFromOrigin: number }> = []
    job.setNotifyFlags(NotifyFlags.FileTransferred | NotifyFlags.JobTransferred)
    job.setNotifyInterface({
      async fileTransferred (_job, file) {
        const fromPeer = file.isDownloadedFromPeer
        verdicts.push({ fromPeer, bytesFromOrigin: file.getProgress().bytesFromOrigin })
        await file.setValidationState(!fromPeer)
      },
      async jobTransferred (j) { await j.complete() }
    })
    await job.resume()
    expect(await job.waitFor(['acknowledged', 'error'])).toBe('acknowledged')
    expect(verdicts).toHaveLength(2)
    expect(verdicts[0]!.fromPeer).toBe(true)
    expect(verdicts[1]).toEqual({ fromPeer: false, bytesFromOrigin: 4 * MiB })
    expect(await digestOf(s.path('picky.bin'))).toBe(digest(data))
  })
})

describe('discovery', () => {
  it('finds a LAN peer by mDNS alone (on the loopback interface), with no address given', async () => {
    const { url, data } = s.serve('lan.bin', 4 * MiB)
    const lo = { mdns: true, mdnsInterface: '127.0.0.1' }
    const seed = await s.node('seed', lo)
    await fetchFile(seed, url, s.path('seed.bin'))
    const other = await s.node('other', { ...lo, discoveryTimeout: 10, originDelay: 10 })
    const deadline = Date.now() + 10_000
    while (!other.getPeers().some(p => p.peerId === seed.peerId) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    expect(other.getPeers().find(p => p.peerId === seed.peerId)?.source).toBe('mdns')
    const job = await fetchFile(other, url, s.path('other.bin'), { sha256: digest(data) })
    expect(job.getProgress().bytesFromPeers).toBe(data.byteLength)
  })

  it('finds a provider through the group DHT, via a third node', async () => {
    const { url, data } = s.serve('dht.bin', 4 * MiB)
    // mDNS off: the only way for `other` to learn of `seed` is the DHT that `hub` takes part in.
    const config = { mode: 'group' as const, groupId: 'fleet-7', mdns: false }
    const hub = await s.node('hub', config)
    const seed = await s.node('seed', { ...config, peers: hub.getMultiaddrs() })
    await fetchFile(seed, url, s.path('seed.bin'))
    const other = await s.node('other', { ...config, peers: hub.getMultiaddrs(), discoveryTimeout: 10, originDelay: 10 })
    const job = await fetchFile(other, url, s.path('other.bin'), { sha256: digest(data) })
    expect(job.getProgress().bytesFromPeers).toBe(data.byteLength)
    expect(other.getPeers().find(p => p.peerId === seed.peerId)?.source).toBe('dht')
  })
})

describe('whole-file SHA-256 with peers', () => {
  it('a correct sha256 passes when the pieces came from a peer', async () => {
    const { url, data } = s.serve('sha.bin', 4 * MiB)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    const other = await s.node('other', { peers: seed.getMultiaddrs() })
    const job = await other.jobs.createJob('sha from peers', 'download')
    await job.addFile(url, s.path('other.bin'), { sha256: digest(data) })
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    expect(job.getProgress().bytesFromPeers).toBe(data.byteLength)
  })
})

describe('origin down', () => {
  it('a job with a pinned manifest downloads from peers while the origin answers 503', async () => {
    const { url, data } = s.serve('down.bin', 4 * MiB)
    const seed = await s.node('seed')
    const seeded = await fetchFile(seed, url, s.path('seed.bin'))
    const cid = seeded.toJSON().files[0]!.manifestCid!
    s.origin.setFault('/down.bin', { status: 503 })
    const other = await s.node('other', { peers: seed.getMultiaddrs(), origin: { retries: 0 } })
    const job = await other.jobs.createJob('origin down', 'download')
    await job.addFile(url, s.path('other.bin'), { manifest: cid })
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    expect(job.getProgress().bytesFromPeers).toBe(data.byteLength)
    expect(await digestOf(s.path('other.bin'))).toBe(digest(data))
  })

  it('without a pinned manifest the job waits for the origin (transient error)', async () => {
    const { url } = s.serve('wait.bin', 4 * MiB)
    const seed = await s.node('seed')
    await fetchFile(seed, url, s.path('seed.bin'))
    s.origin.setFault('/wait.bin', { status: 503 })
    const other = await s.node('other', { peers: seed.getMultiaddrs(), origin: { retries: 0 }, minimumRetryDelay: 10 })
    const job = await other.jobs.createJob('no pin', 'download')
    await job.addFile(url, s.path('other.bin'))
    await job.resume()
    expect(await job.waitFor(['transient-error', 'transferred'])).toBe('transient-error')
  })
})
