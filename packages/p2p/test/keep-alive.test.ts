import '../src/index.js'
import { connect, createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryContent, Nodes, makeFile, sha256Hex } from './helpers.js'

const nodes = new Nodes()
let proxy: Server | undefined
afterEach(async () => {
  await nodes.stopAll()
  proxy?.close()
  proxy = undefined
})

/**
 * A TCP proxy to `port` that can go silent both ways for a while and then carry on, as a congested link or a
 * peer whose event loop is busy does: nothing is lost, it only arrives late.
 */
async function silentProxy (port: number): Promise<{ port: number, silence: (ms: number) => Promise<void> }> {
  const sockets: Socket[] = []
  proxy = createServer(client => {
    const server = connect(port, '127.0.0.1')
    sockets.push(client, server)
    client.pipe(server)
    server.pipe(client)
    for (const s of [client, server]) s.on('error', () => { client.destroy(); server.destroy() })
  })
  await new Promise<void>(resolve => proxy!.listen(0, '127.0.0.1', resolve))
  return {
    port: (proxy.address() as AddressInfo).port,
    silence: async (ms) => {
      for (const s of sockets) s.pause()
      await new Promise(resolve => setTimeout(resolve, ms))
      for (const s of sockets) s.resume()
    }
  }
}

/** A seed holding a 4-piece file and a node connected to it through a silent-able proxy, both with `keepAlive`. */
async function pair (keepAlive: { interval: number, timeout?: number }): Promise<{ disconnects: () => number, fetch: (i: number) => Promise<string>, silence: (ms: number) => Promise<void> }> {
  const content = new MemoryContent()
  const file = await makeFile(4, 64 * 1024)
  content.add(file)
  const seed = await nodes.start({ keepAlive }, content)
  const seedPort = Number(seed.getMultiaddrs()[0]!.split('/')[4])
  const link = await silentProxy(seedPort)
  const node = await nodes.start({ keepAlive, peers: [`/ip4/127.0.0.1/tcp/${link.port}/p2p/${seed.peerId}`] })
  let disconnects = 0
  node.addEventListener('peer:disconnect', () => { disconnects++ })
  return {
    disconnects: () => disconnects,
    fetch: async (i) => sha256Hex(await node.fetchPiece(seed.peerId, file.manifestCid, i, { timeout: 20_000 })) === sha256Hex(file.pieces[i]!) ? 'ok' : 'wrong',
    silence: link.silence
  }
}

describe('keep-alive', () => {
  it('a ping slower than libp2p\'s own 5 s timeout does not close the connection, and its session goes on', async () => {
    // One ping every 8 s, each given 8 s: the link goes silent from just before the first ping until 6.5 s after it.
    const started = Date.now()
    const p = await pair({ interval: 8_000 })
    expect(await p.fetch(0)).toBe('ok')
    await new Promise(resolve => setTimeout(resolve, Math.max(0, started + 7_500 - Date.now())))
    await p.silence(7_000)
    expect(await p.fetch(1)).toBe('ok')
    expect(p.disconnects()).toBe(0)
  }, 40_000)

  it('a connection whose ping gets no answer within the timeout is closed', async () => {
    const p = await pair({ interval: 500, timeout: 500 })
    expect(await p.fetch(0)).toBe('ok')
    await p.silence(2_500)
    expect(p.disconnects()).toBeGreaterThan(0)
  }, 30_000)

  it('a timeout longer than the interval is refused', async () => {
    await expect(nodes.start({ keepAlive: { interval: 1_000, timeout: 2_000 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
