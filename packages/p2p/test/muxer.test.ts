import '../src/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { doptNoise } from '../src/encryption.js'
import { doptYamux } from '../src/muxer.js'
import type { Libp2p, Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

const SINK = '/dopt-test/sink/1.0.0'
/** Yamux's frame type of a window update (the spec's 0x1). */
const WINDOW_UPDATE = 1
const started: Libp2p[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map(async n => { await n.stop() }))
})

/** A muxer factory whose muxers count the window-update frames they send, in `counter.updates`. */
function counting (factory: () => StreamMuxerFactory, counter: { updates: number }): () => StreamMuxerFactory {
  return () => {
    const inner = factory()
    const create = inner.createStreamMuxer.bind(inner)
    inner.createStreamMuxer = (maConn) => {
      const muxer = create(maConn) as StreamMuxer & { sendFrame: (header: { type: number }, data?: unknown) => boolean }
      const send = muxer.sendFrame.bind(muxer)
      // Streams bind the muxer's sendFrame when they are made, so this sees every frame.
      muxer.sendFrame = (header, data) => {
        if (header.type === WINDOW_UPDATE) counter.updates++
        return send(header, data)
      }
      return muxer
    }
    return inner
  }
}

/** A node whose SINK protocol reads a whole stream and answers with its SHA-256 (hex). */
async function start (muxer: () => StreamMuxerFactory): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [doptNoise()],
    streamMuxers: [muxer]
  })
  started.push(node)
  await node.handle(SINK, async (stream: Stream) => {
    const hash = createHash('sha256')
    for await (const chunk of stream) hash.update(chunk.subarray())
    stream.send(new TextEncoder().encode(hash.digest('hex')))
    await stream.close()
  })
  return node
}

/** Sends `data` from `a` to `b`'s SINK in 64 KiB writes, honouring backpressure; returns the hash `b` saw. */
async function send (a: Libp2p, b: Libp2p, data: Uint8Array): Promise<string> {
  const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, SINK)
  const answer: Uint8Array[] = []
  const reading = (async () => { for await (const chunk of stream) answer.push(chunk.subarray()) })()
  for (let off = 0; off < data.byteLength; off += 65536) {
    if (!stream.send(data.subarray(off, off + 65536))) {
      await new Promise(resolve => {
        stream.addEventListener('drain', resolve, { once: true })
        stream.addEventListener('close', resolve, { once: true })
      })
    }
  }
  await stream.close()
  await reading
  return Buffer.concat(answer).toString()
}

const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('doptYamux', () => {
  it('receives a bulk stream whole with a fraction of the window updates stock yamux sends', async () => {
    const data = randomBytes(24 * (1 << 20) + 4321)
    const stock = { updates: 0 }
    const dopt = { updates: 0 }
    const sender = await start(yamux())
    const stockReceiver = await start(counting(yamux(), stock))
    const doptReceiver = await start(counting(doptYamux(), dopt))

    expect(await send(sender, stockReceiver, data)).toBe(hex(data))
    expect(await send(sender, doptReceiver, data)).toBe(hex(data))
    // Stock yamux answers every data frame; half-window updates answer at most one per 128 KiB (the initial window
    // is 256 KiB and only grows), plus the stream's opening and closing frames.
    expect(stock.updates).toBeGreaterThan(data.byteLength / (256 * 1024))
    expect(dopt.updates).toBeLessThanOrEqual(data.byteLength / (128 * 1024) + 4)
    expect(dopt.updates * 2).toBeLessThan(stock.updates)
  })

  it('interoperates with stock yamux both ways, many streams at once', async () => {
    const dopt = await start(doptYamux())
    const stock = await start(yamux())
    const payloads = Array.from({ length: 6 }, (_, i) => randomBytes((i + 1) * 700_000 + i))
    const results = await Promise.all(payloads.flatMap(p => [send(dopt, stock, p), send(stock, dopt, p)]))
    expect(results).toEqual(payloads.flatMap(p => [hex(p), hex(p)]))
  })
})
