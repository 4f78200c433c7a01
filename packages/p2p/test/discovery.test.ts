import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { attempts } from '../../../test/setup/loopback-only.mjs'
import { expectOffMachineAttempts } from '../../../test/setup/vitest.js'
import { PEER_KEY_FILE } from '../src/index.js'
import { MemoryContent, Nodes, cidOf, makeFile } from './helpers.js'
import type { P2P, PeerInfo } from '../src/index.js'

const nodes = new Nodes()
afterEach(async () => { await nodes.stopAll() })

async function waitFor<T> (what: string, ms: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function collect (p2p: P2P, key: string, timeout: number): Promise<string[]> {
  const found: string[] = []
  for await (const peerId of p2p.findProviders(key, { timeout })) found.push(peerId)
  return found
}

describe('finding peers', () => {
  it('mDNS on the loopback interface: two nodes with no static peers find and connect to each other', async () => {
    const a = await nodes.start({ mdns: true, mdnsInterface: '127.0.0.1', groupId: 'mdns-test' })
    const connected = new Promise<PeerInfo>(resolve => {
      a.addEventListener('peer:connect', evt => { resolve(evt.detail) })
    })
    const started = Date.now()
    const b = await nodes.start({ mdns: true, mdnsInterface: '127.0.0.1', groupId: 'mdns-test' })
    const info = await Promise.race([
      connected,
      new Promise<never>((_resolve, reject) => setTimeout(() => { reject(new Error('no mDNS connection in 5 s')) }, 5_000))
    ])
    expect(info.peerId).toBe(b.peerId)
    expect(Date.now() - started).toBeLessThan(5_000)
    const source = await waitFor('b to see a', 3_000, () => b.getPeers().find(p => p.peerId === a.peerId)?.source)
    expect(['mdns', 'inbound']).toContain(source)
  })

  it('mDNS as configured by default (every interface) would leave the machine: the tests\' guard refuses it', async () => {
    // The guard (test/setup/loopback-only.mjs) throws on any multicast membership or send off the loopback
    // interface; this is what keeps tests, benchmarks and the lab on the machine.
    const before = attempts().length
    const node = await nodes.start({ mdns: true, groupId: 'mdns-default' })
    await waitFor('mDNS to try every interface', 3_000, () => attempts().length > before ? true : undefined)
    await node.stop()
    const tried = attempts().slice(before)
    expect(tried.join('\n')).toMatch(/every interface/)
    expectOffMachineAttempts(tried.length)
  })

  it('findProviders on a LAN without DHT: connected peers that hold the key', async () => {
    const content = new MemoryContent()
    const file = await makeFile(2, 1024)
    content.add(file)
    const a = await nodes.start({}, content)
    const empty = await nodes.start()
    const c = await nodes.start({ peers: [...a.getMultiaddrs(), ...empty.getMultiaddrs()] })
    await waitFor('two connections', 3_000, () => c.getPeers().length >= 2 ? true : undefined)
    expect(await collect(c, file.manifestCid, 2_000)).toEqual([a.peerId])
    expect(await collect(c, await cidOf(new Uint8Array([7])), 2_000)).toEqual([])
  })

  it('DHT: C finds the provider A through B', async () => {
    const content = new MemoryContent()
    const file = await makeFile(2, 1024)
    const key = await cidOf(new TextEncoder().encode('https://origin.example/file|etag|2048'))
    content.add(file, key)
    const a = await nodes.start({ dht: true, groupId: 'dht-test' }, content)
    const b = await nodes.start({ dht: true, groupId: 'dht-test', peers: a.getMultiaddrs() })
    const c = await nodes.start({ dht: true, groupId: 'dht-test', peers: b.getMultiaddrs() })
    await waitFor('B connected to A and C', 5_000, () => b.getPeers().length >= 2 ? true : undefined)
    expect(c.getPeers().map(p => p.peerId)).not.toContain(a.peerId)
    // Routing tables fill after identify; provide until the record lands where C looks.
    const found = await waitFor('C to find A', 8_000, async () => {
      await a.provide(key)
      const providers = await collect(c, key, 1_000)
      return providers.includes(a.peerId) ? providers : undefined
    })
    expect(found).toContain(a.peerId)
    expect(await c.fetchManifest(a.peerId, key)).toEqual(file.manifest)
    expect(c.getPeers().find(p => p.peerId === a.peerId)?.source).toBe('dht')
  })
})

describe('private networks and identity', () => {
  it('psk: nodes with different keys cannot connect, with the same key can', async () => {
    const key = new Uint8Array(randomBytes(32))
    const content = new MemoryContent()
    const file = await makeFile(1, 1024)
    content.add(file)
    const a = await nodes.start({ psk: key }, content)
    const stranger = await nodes.start({ psk: new Uint8Array(randomBytes(32)), peers: a.getMultiaddrs() })
    const open = await nodes.start({ peers: a.getMultiaddrs() })
    const member = await nodes.start({ psk: key, peers: a.getMultiaddrs() })
    expect(await member.fetchManifest(a.peerId, file.manifestCid)).toEqual(file.manifest)
    await expect(stranger.fetchManifest(a.peerId, file.manifestCid, { timeout: 5_000 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
    await expect(open.fetchManifest(a.peerId, file.manifestCid, { timeout: 5_000 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
  })

  it('keeps its peer id across restarts in dataDir', async () => {
    const dataDir = await nodes.tempDir()
    const first = await nodes.start({ dataDir })
    const id = first.peerId
    await first.stop()
    const key = await readFile(join(dataDir, PEER_KEY_FILE))
    expect(key.byteLength).toBeGreaterThan(32)
    const second = await nodes.start({ dataDir })
    expect(second.peerId).toBe(id)
    const other = await nodes.start({ dataDir: await nodes.tempDir() })
    expect(other.peerId).not.toBe(id)
  })
})
