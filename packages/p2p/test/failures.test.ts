import '../src/index.js'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { MessageType, pieceProtocol } from '../src/index.js'
import { encodeFrame, encodeHeader } from '../src/codec.js'
import { MemoryContent, Nodes, makeFile, sha256Hex } from './helpers.js'
import type { Libp2p } from '@libp2p/interface'

const nodes = new Nodes()
let raw: Libp2p | undefined
let proxy: Server | undefined
afterEach(async () => {
  await nodes.stopAll()
  await raw?.stop()
  raw = undefined
  proxy?.close()
  proxy = undefined
})

/** A TCP proxy to `port` that can stop reading what the server sends (a peer that never reads its answers). */
async function stallingProxy (port: number): Promise<{ port: number, stall: () => void }> {
  const pairs: Array<[Socket, Socket]> = []
  let stalled = false
  proxy = createServer(client => {
    const server = connect(port, '127.0.0.1')
    pairs.push([client, server])
    client.on('data', d => server.write(d))
    server.on('data', d => { if (!stalled) client.write(d) })
    for (const s of [client, server]) s.on('error', () => { client.destroy(); server.destroy() })
    client.on('close', () => server.destroy())
    server.on('close', () => client.destroy())
  })
  await new Promise<void>(resolve => proxy!.listen(0, '127.0.0.1', resolve))
  return {
    port: (proxy.address() as AddressInfo).port,
    // Stop reading from the server: its socket fills, then its streams, then its writes wait for a drain.
    stall: () => { stalled = true; for (const [, server] of pairs) server.pause() }
  }
}

describe('failures', () => {
  it('a peer stopping mid-transfer fails every pending fetch with PEER_UNAVAILABLE, promptly', async () => {
    const content = new MemoryContent()
    const file = await makeFile(8, 1024 * 1024)
    content.add(file)
    // 1 MiB/s: eight pieces would take ~8 s, so the stop lands mid-transfer.
    const a = await nodes.start({ uploadRate: 1024 * 1024 }, content)
    const b = await nodes.start({ peers: a.getMultiaddrs() })
    const fetches = file.pieces.map(async (_, i) => await b.fetchPiece(a.peerId, file.manifestCid, i).then(() => 'ok', (err: { code: string }) => err.code))
    await new Promise(resolve => setTimeout(resolve, 600))
    const stoppedAt = Date.now()
    await a.stop()
    const results = await Promise.all(fetches)
    expect(Date.now() - stoppedAt).toBeLessThan(3_000)
    expect(results.filter(r => r === 'ok').length).toBeLessThan(4)
    expect(results.filter(r => r !== 'ok').every(r => r === 'PEER_UNAVAILABLE')).toBe(true)
    // Later requests to the stopped peer fail too, without hanging.
    await expect(b.fetchPiece(a.peerId, file.manifestCid, 0, { timeout: 3_000 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
  })

  it('aborts the stream when a peer sends a frame over the size limit', async () => {
    raw = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    // A malicious server: whatever it is asked, it announces a 64 MiB piece.
    await raw.handle(pieceProtocol('default'), stream => {
      stream.addEventListener('message', () => {
        stream.send(encodeHeader(MessageType.PIECE, 1, 64 * 1024 * 1024))
        stream.send(new Uint8Array(64 * 1024))
      }, { once: true })
    })
    const b = await nodes.start({ peers: raw.getMultiaddrs().map(String) })
    const err = await b.fetchPiece(raw.peerId.toString(), 'bafkqaaa', 0, { timeout: 5_000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'PEER_UNAVAILABLE' })
    expect((err as Error).cause).toMatchObject({ code: 'PEER_PROTOCOL' })
  })

  it('an empty REFUSE fails its request at once instead of leaving it open forever', async () => {
    raw = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    // A broken server: it answers every request with a REFUSE that has no reason byte.
    await raw.handle(pieceProtocol('default'), stream => {
      stream.addEventListener('message', () => { stream.send(encodeFrame(MessageType.REFUSE, 1)) }, { once: true })
    })
    const b = await nodes.start({ peers: raw.getMultiaddrs().map(String) })
    const started = Date.now()
    const err = await b.fetchPiece(raw.peerId.toString(), 'bafkqaaa', 0, { timeout: 20_000 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'PEER_UNAVAILABLE' })
    expect((err as Error).cause).toMatchObject({ code: 'PEER_PROTOCOL' })
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('a peer that never reads holds no more than its share of upload slots, and loses its stream', async () => {
    const content = new MemoryContent()
    const file = await makeFile(16, 4 * 1024 * 1024)
    content.add(file)
    const seed = await nodes.start({ maxConcurrentUploads: 4, maxUploadsPerPeer: 2, writeTimeout: 1_500 }, content)
    const addr = seed.getMultiaddrs()[0]!
    const { port, stall } = await stallingProxy(Number(addr.split('/tcp/')[1]!.split('/')[0]))
    const bad = await nodes.start({ peers: [`/ip4/127.0.0.1/tcp/${port}/p2p/${seed.peerId}`] })
    await bad.fetchHave(seed.peerId, file.manifestCid) // connected, through the proxy
    stall()
    const badFetches = file.pieces.map(async (_, i) => await bad.fetchPiece(seed.peerId, file.manifestCid, i, { timeout: 4_000 })
      .then(() => 'ok', (e: { code?: string }) => e.code))
    await new Promise(resolve => setTimeout(resolve, 300))
    // Another peer is served at once: the bad one holds at most two of the four slots.
    const good = await nodes.start({ peers: seed.getMultiaddrs() })
    const started = Date.now()
    const piece = await good.fetchPiece(seed.peerId, file.manifestCid, 3, { timeout: 10_000 })
    expect(sha256Hex(piece)).toBe(sha256Hex(file.pieces[3]!))
    expect(Date.now() - started).toBeLessThan(1_000)
    // The stalled stream is reset once it has taken nothing for the write timeout (the reset cannot reach the bad
    // peer through the stalled proxy: its requests time out), and the seed serves everything to the good peer.
    const results = await Promise.all(badFetches)
    expect(results.filter(r => r === 'ok').length).toBeLessThan(4)
    const all = await Promise.all(file.pieces.map(async (_, i) => await good.fetchPiece(seed.peerId, file.manifestCid, i, { timeout: 10_000 })))
    expect(all.map(sha256Hex)).toEqual(file.pieces.map(sha256Hex))
  })

  it('nodes of different groups never exchange', async () => {
    const content = new MemoryContent()
    const file = await makeFile(1, 1024)
    content.add(file)
    const a = await nodes.start({ groupId: 'group-a' }, content)
    const b = await nodes.start({ groupId: 'group-b', peers: a.getMultiaddrs() })
    await expect(b.fetchManifest(a.peerId, file.manifestCid, { timeout: 5_000 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
    await expect(b.fetchPiece(a.peerId, file.manifestCid, 0, { timeout: 5_000 })).rejects.toMatchObject({ code: 'PEER_UNAVAILABLE' })
    const same = await nodes.start({ groupId: 'group-a', peers: a.getMultiaddrs() })
    expect(await same.fetchManifest(a.peerId, file.manifestCid)).toEqual(file.manifest)
  })

  it('checks peers and listen addresses before it starts, and names an address it cannot listen on', async () => {
    await expect(nodes.start({ peers: ['garbage'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('peers') })
    await expect(nodes.start({ peers: ['/ip4/127.0.0.1/tcp/1/p2p/notapeerid'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(nodes.start({ listen: ['garbage'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('listen') })
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      await expect(nodes.start({ listen: [`/ip4/127.0.0.1/tcp/${port}`] })).rejects.toMatchObject({
        code: 'LISTEN_FAILED', context: 'general-transport', message: expect.stringContaining(`/ip4/127.0.0.1/tcp/${port}`)
      })
    } finally {
      taken.close()
    }
  })

  it('rejects bad arguments', async () => {
    await expect(nodes.start({ groupId: 'has/slash' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(nodes.start({ peers: ['/ip4/127.0.0.1/tcp/1'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    const a = await nodes.start()
    await expect(a.provide('not a cid')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(a.fetchPiece('nope', 'bafkqaaa', 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await a.stop()
    await expect(a.fetchPiece(a.peerId, 'bafkqaaa', 0)).rejects.toMatchObject({ code: 'NODE_STOPPED' })
  })
})
