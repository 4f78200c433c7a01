import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { SseHub } from '../src/sse.js'
import { until } from './fixture.js'

// The hub is internal (not exported); tested from its source, on a real HTTP server and real sockets.
let server: Server | null = null
let hub: SseHub | null = null
afterEach(async () => {
  hub?.close()
  await new Promise(resolve => server?.close(resolve) ?? resolve(undefined))
  server = null
})

async function serve (maxBufferedBytes: number): Promise<{ hub: SseHub, port: number }> {
  const h = new SseHub({ maxClients: 4, maxBufferedBytes, keepAlive: 60_000 })
  hub = h
  server = createServer((_req, res) => { h.add(res, []) })
  await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
  return { hub: h, port: (server.address() as AddressInfo).port }
}

/** A client that sends a request and then never reads (`pause`): the server's writes pile up. */
async function stalled (port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await new Promise(resolve => socket.once('connect', resolve))
  socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  socket.once('data', () => { socket.pause() })
  return socket
}

describe('SseHub', () => {
  it('drops a client that does not read, and keeps one that does', async () => {
    const { hub, port } = await serve(256 * 1024)
    const slow = await stalled(port)
    let fastBytes = 0
    const fast = connect(port, '127.0.0.1')
    fast.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    fast.on('data', (c: Buffer) => { fastBytes += c.length })
    await until('both streams are open', () => hub.size === 2 ? true : undefined)
    const big = 'x'.repeat(256 * 1024)
    // The kernel's socket buffers take some megabytes first; then the stalled one's backlog grows past the bound.
    for (let i = 0; i < 400 && hub.dropped === 0; i++) {
      hub.broadcast('snapshot', big)
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    expect(hub.dropped).toBe(1)
    expect(hub.size).toBe(1)
    const before = fastBytes
    hub.broadcast('snapshot', 'still here')
    await until('the reading client gets the next event', () => fastBytes > before ? true : undefined)
    slow.destroy()
    fast.destroy()
  })

  it('refuses a client past maxClients without writing to it', async () => {
    const h = new SseHub({ maxClients: 1, maxBufferedBytes: 1024, keepAlive: 60_000 })
    hub = h
    const answers: boolean[] = []
    server = createServer((_req, res) => {
      const taken = h.add(res, ['event: hello\ndata: 1\n\n'])
      answers.push(taken)
      if (!taken) { res.statusCode = 503; res.end() }
    })
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    const a = await stalled(port)
    const b = await stalled(port)
    await until('both answered', () => answers.length === 2 ? true : undefined)
    expect(answers).toEqual([true, false])
    expect(h.size).toBe(1)
    a.destroy()
    b.destroy()
  })
})
