import '../src/polyfill.js'
import { format } from 'node:util'
import { createServer } from 'node:net'
import { TLSSocket } from 'node:tls'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { tcp } from '@libp2p/tcp'
import { AbstractMultiaddrConnection, multiaddrConnectionPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { checkInternals } from '../src/internals.js'
import { MemoryContent, Nodes, makeFile, sha256Hex } from './helpers.js'
import type { ComponentLogger, Logger, MessageStream, Upgrader } from '@libp2p/interface'

// A moved shape is simulated the way a release would move it: the member leaves the prototype (as if it became a
// #private member or was renamed), and the package's own code that calls it still reaches it. Everything is put
// back after each test.

const nodes = new Nodes()
const undo: Array<() => void> = []
afterEach(async () => {
  await nodes.stopAll()
  for (const restore of undo.splice(0).reverse()) restore()
})

type Method = (...args: unknown[]) => unknown

/**
 * Takes `name` off `proto`; each `[owner, method]` of `callers` (the package's own code that calls it) runs with a
 * `this` that still finds it, every other read and write going to the real object.
 */
function hide (proto: object, name: string, callers: Array<[object, string]>): void {
  const saved = [[proto, name] as const, ...callers].map(([owner, key]) => [owner, key, Object.getOwnPropertyDescriptor(owner, key)] as const)
  const hidden = Reflect.get(proto, name) as Method
  expect(typeof hidden).toBe('function')
  Reflect.deleteProperty(proto, name)
  for (const [owner, key] of callers) {
    const original = Reflect.get(owner, key) as Method
    expect(typeof original).toBe('function')
    Reflect.set(owner, key, function (this: object, ...args: unknown[]) {
      const self = new Proxy(this, {
        get: (target, prop) => {
          const value: unknown = prop === name && !(prop in target) ? hidden : Reflect.get(target, prop, target)
          // Methods run on the real object (native EventTarget refuses a proxy); own fields, a logger say, as they are.
          return typeof value === 'function' && !Object.hasOwn(target, prop) ? (value as Method).bind(target) : value
        },
        set: (target, prop, value) => Reflect.set(target, prop, value, target)
      })
      return Reflect.apply(original, self, args)
    })
  }
  undo.push(() => {
    for (const [owner, key, descriptor] of saved) {
      if (descriptor === undefined) Reflect.deleteProperty(owner, key)
      else Object.defineProperty(owner, key, descriptor)
    }
  })
}

/** The prototype of @libp2p/tcp's connection class (not exported): from a connection its own dial makes. */
async function tcpConnectionPrototype (): Promise<object> {
  const server = createServer(socket => { socket.destroy() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const upgrader = { upgradeOutbound: async (maConn: MessageStream) => maConn } as unknown as Upgrader
    const { port } = server.address() as AddressInfo
    const conn = await tcp()({ logger: defaultLogger() }).dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`), { upgrader, signal: AbortSignal.timeout(2000) })
    const proto = Object.getPrototypeOf(conn) as object
    ;(conn as unknown as MessageStream).abort(new Error('done'))
    return proto
  } finally {
    server.close()
  }
}

/** Prototypes of noise's and yamux's classes (neither is exported), from objects their factories make. */
async function noisePrototype (): Promise<object> {
  const encrypter = noise()({ privateKey: await generateKeyPair('Ed25519'), logger: defaultLogger() } as unknown as Parameters<ReturnType<typeof noise>>[0])
  return Object.getPrototypeOf(encrypter) as object
}

function yamuxPrototype (): object {
  const [a, b] = multiaddrConnectionPair()
  const muxer = yamux()().createStreamMuxer(a)
  const proto = Object.getPrototypeOf(muxer) as object
  muxer.abort(new Error('done'))
  a.abort(new Error('done'))
  b.abort(new Error('done'))
  return proto
}

/** A libp2p component logger that keeps every error line, as `component: message`. */
function keptLogger (lines: string[]): ComponentLogger {
  const make = (name: string): Logger => Object.assign((): void => {}, {
    enabled: false,
    trace: (): void => {},
    error: (formatter: unknown, ...args: unknown[]): void => { lines.push(`${name}: ${format(formatter, ...args)}`) },
    newScope: (scope: string) => make(`${name}:${scope}`)
  })
  return { forComponent: make }
}

const internalsLines = (lines: string[]): string[] => lines.filter(l => l.startsWith('dopt:p2p:internals: '))

/** Two nodes with kept logs; b fetches every piece of a file a serves. Returns b's view of a, and the logs. */
async function transfer (): Promise<{ encryption: string[], logs: string[][] }> {
  const logs: string[][] = [[], []]
  const content = new MemoryContent()
  const file = await makeFile(8, 256 * 1024)
  content.add(file)
  const a = await nodes.start({ logger: keptLogger(logs[0]!) }, content)
  const b = await nodes.start({ peers: a.getMultiaddrs(), logger: keptLogger(logs[1]!) })
  for (let i = 0; i < file.pieces.length; i++) {
    expect(sha256Hex(await b.fetchPiece(a.peerId, file.manifestCid, i))).toBe(sha256Hex(file.pieces[i]!))
  }
  const peer = b.getPeers().find(p => p.peerId === a.peerId)
  expect(peer).toBeDefined()
  expect(a.getPeers().find(p => p.peerId === b.peerId)?.encryption).toEqual(peer?.encryption)
  return { encryption: peer!.encryption, logs }
}

describe('libp2p internals (internals.ts)', () => {
  it('finds every shape in place with the pinned packages: TLS is used, and nothing is logged about it', async () => {
    const report = await checkInternals()
    expect(report).toEqual({ tls: true, noise: true, yamux: true, moved: [] })
    const { encryption, logs } = await transfer()
    expect(encryption).toEqual(['/tls/1.0.0'])
    expect(logs.flatMap(internalsLines)).toEqual([])
  })

  const tlsMoves: Array<[string, () => Promise<void>]> = [
    ['@libp2p/tcp connection.sendClose', async () => {
      // As if renamed: AbstractMultiaddrConnection.close still reaches it, dopt's takeover does not.
      hide(await tcpConnectionPrototype(), 'sendClose', [[AbstractMultiaddrConnection.prototype, 'close']])
    }],
    ['node:tls TLSSocket.prototype._tlsError', async () => {
      hide(TLSSocket.prototype, '_tlsError', [[TLSSocket.prototype, '_emitTLSError']])
    }]
  ]

  it.each(tlsMoves)('when %s has moved: reports it, leaves TLS out, says so once in the log, and peers still connect over noise and move pieces', async (shape, move) => {
    await move()
    const report = await checkInternals()
    expect(report.moved.map(m => [m.part, m.shape])).toEqual([['tls', shape]])
    expect(report).toMatchObject({ tls: false, noise: true, yamux: true })

    const warnings: Error[] = []
    const onWarning = (w: Error): void => { if ((w as Error & { code?: string }).code === 'DOPT_LIBP2P_INTERNALS') warnings.push(w) }
    process.on('warning', onWarning)
    const { encryption, logs } = await transfer()
    expect(encryption).toEqual(['/noise'])
    for (const log of logs) {
      const lines = internalsLines(log)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(shape)
      expect(lines[0]).toContain('TLS left out, noise only')
    }
    // And where an operator sees it: one process warning for the shape, however many nodes the process runs.
    await new Promise(resolve => setImmediate(resolve))
    process.off('warning', onWarning)
    expect(warnings.filter(w => w.message.includes(shape))).toHaveLength(1)
  })

  it('when noise\'s handshake methods have moved: reports them, uses stock noise (TLS still first), and says so once', async () => {
    const proto = await noisePrototype()
    hide(proto, 'performHandshakeInitiator', [[proto, 'secureOutbound']])
    const report = await checkInternals()
    expect(report.moved.map(m => [m.part, m.shape])).toEqual([['noise', '@chainsafe/libp2p-noise Noise.performHandshakeInitiator']])
    expect(report).toMatchObject({ tls: true, noise: false, yamux: true })

    const { encryption, logs } = await transfer()
    expect(encryption).toEqual(['/tls/1.0.0'])
    for (const log of logs) expect(internalsLines(log)).toEqual([expect.stringContaining('stock noise framing')])
  })

  it('when noise\'s handshake methods have moved and TLS too: two nodes connect with stock noise and move pieces', async () => {
    const proto = await noisePrototype()
    hide(proto, 'performHandshakeInitiator', [[proto, 'secureOutbound']])
    hide(proto, 'performHandshakeResponder', [[proto, 'secureInbound']])
    hide(await tcpConnectionPrototype(), 'sendClose', [[AbstractMultiaddrConnection.prototype, 'close']])
    const report = await checkInternals()
    expect(report).toMatchObject({ tls: false, noise: false, yamux: true })
    const { encryption, logs } = await transfer()
    expect(encryption).toEqual(['/noise'])
    for (const log of logs) expect(internalsLines(log)).toHaveLength(1)
  })

  it('when yamux\'s _newStream has moved: reports it, uses stock yamux, and pieces still move', async () => {
    const proto = yamuxPrototype()
    hide(proto, '_newStream', [[proto, 'onCreateStream'], [proto, 'incomingStream']])
    const report = await checkInternals()
    expect(report.moved.map(m => [m.part, m.shape])).toEqual([['yamux', '@chainsafe/libp2p-yamux YamuxMuxer._newStream']])
    expect(report).toMatchObject({ tls: true, noise: true, yamux: false })

    const { encryption, logs } = await transfer()
    expect(encryption).toEqual(['/tls/1.0.0'])
    for (const log of logs) expect(internalsLines(log)).toEqual([expect.stringContaining('stock yamux window updates')])
  })
})
