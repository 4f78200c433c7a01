// Every use dopt makes of other packages' private fields, in one place.
//
// dopt's fast paths reach past the public API of the packages under it: tls.ts takes @libp2p/tcp's net.Socket
// (`socket`, Node's `_handle`), the bytes @libp2p/utils' message stream read ahead (`readBuffer`, protected), and
// the connection's close and reset (`sendClose`/`sendReset`, patched on the instance), and listens for node:tls'
// internal `_tlsError` event; encryption.ts calls @chainsafe/libp2p-noise's private handshake methods and keeps
// their result; muxer.ts wraps @chainsafe/libp2p-yamux's `_newStream` and each stream's `sendWindowUpdate`; node.ts
// stops a timer on libp2p's address manager. The packages are pinned to exact versions (packages/p2p/package.json),
// but an embedder's install may still resolve others, and a pin gets bumped one day.
//
// So the accessors below are the only code that touches those fields, and `checkInternals` checks, when a node
// starts, that every shape they rely on is still there: on real objects made by those packages (a TCP connection
// on 127.0.0.1, a noise handshake and a yamux stream over an in-memory connection pair), the same calls the fast
// paths make, and on prototypes where only a prototype can be seen. node.ts then leaves out any fast path whose shape
// moved (TLS: noise alone; noise and yamux: the stock packages) and says once in the node's log what moved.
// A TLS takeover that found a moved shape on a live connection could only fail it: /tls/1.0.0 is negotiated by then.
import { once } from 'node:events'
import { Socket, createServer } from 'node:net'
import { TLSSocket } from 'node:tls'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'
import { generateKeyPair, publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { tcp } from '@libp2p/tcp'
import { lpStream, multiaddrConnectionPair } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Uint8ArrayList } from 'uint8arraylist'
import type { AddressInfo } from 'node:net'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type {
  AbortOptions, ComponentLogger, Connection, ConnectionEncrypter, Libp2p, Logger, MessageStream, PrivateKey, PublicKey,
  StreamMuxer, StreamMuxerFactory, Upgrader
} from '@libp2p/interface'

/** Which fast path a shape belongs to. `libp2p` is the address manager's timer (stopNode). */
export type InternalsPart = 'tls' | 'noise' | 'yamux' | 'libp2p'

/** A shape a fast path relies on that is not as expected. */
export interface MovedShape {
  part: InternalsPart
  /** The shape, named by package and field: `@libp2p/tcp connection.sendClose`. */
  shape: string
  /** What was found instead. */
  found: string
}

/** What `checkInternals` found: the fast paths that can be used, and every shape that moved. */
export interface InternalsReport {
  /** node:tls on @libp2p/tcp's own socket (tls.ts). */
  tls: boolean
  /** noise's handshake with dopt's transport framing (encryption.ts). */
  noise: boolean
  /** yamux with half-window window updates (muxer.ts). */
  yamux: boolean
  moved: MovedShape[]
}

export interface CheckInternalsOptions {
  /** Milliseconds each probe may take before its shapes count as moved. @default 2000 */
  timeoutMs?: number
  logger?: ComponentLogger
}

// --- @libp2p/tcp and @libp2p/utils: the connection under TLS (tls.ts) ------------------------------------------

/** The net.Socket under @libp2p/tcp's connection, still owning its native handle; undefined for any other stream. */
export function nativeSocketOf (connection: MessageStream): Socket | undefined {
  return socketProblem(connection) === undefined && 'socket' in connection && connection.socket instanceof Socket ? connection.socket : undefined
}

function socketProblem (connection: MessageStream): MovedShape | undefined {
  if (!('socket' in connection) || !(connection.socket instanceof Socket)) {
    return tlsShape('@libp2p/tcp connection.socket', 'socket' in connection ? describe(connection.socket) : 'no such field')
  }
  const socket = connection.socket
  // A socket made on a JavaScript duplex (or already closed) has no handle, and node:tls could not take it over.
  if (!('_handle' in socket) || socket._handle == null) {
    return tlsShape('node:net Socket._handle', '_handle' in socket ? describe(socket._handle) : 'no such field')
  }
  return undefined
}

/** What a byte list must offer to hand its bytes over: @libp2p/utils' read buffer is a Uint8ArrayList. */
interface ByteList {
  byteLength: number
  subarray: () => Uint8Array
  consume: (bytes: number) => void
}

function isByteList (value: unknown): value is ByteList {
  return typeof value === 'object' && value !== null && 'byteLength' in value && typeof value.byteLength === 'number' &&
    'subarray' in value && typeof value.subarray === 'function' && 'consume' in value && typeof value.consume === 'function'
}

function readBufferOf (connection: MessageStream): ByteList | undefined {
  // AbstractMessageStream keeps what it read while nobody listens for messages in its protected `readBuffer`.
  return 'readBuffer' in connection && isByteList(connection.readBuffer) ? connection.readBuffer : undefined
}

/**
 * Takes the bytes `connection` read that nobody consumed (the start of a TLS handshake sent right after the
 * protocol choice): they are the caller's from now on. Undefined when there are none.
 */
export function takeUnread (connection: MessageStream): Buffer | undefined {
  const buffered = readBufferOf(connection)
  if (buffered === undefined || buffered.byteLength === 0) return undefined
  const unread = Buffer.from(buffered.subarray())
  buffered.consume(buffered.byteLength)
  return unread
}

/**
 * Routes `connection`'s close and reset to `close` and `reset`. libp2p closes a connection by closing its muxer and
 * then this TCP connection (AbstractMultiaddrConnection.close calls `sendClose`, `abort` calls `sendReset`), whose
 * own close would shut the socket under TLS. False when the connection has no such methods.
 */
export function redirectClose (connection: MessageStream, close: (options?: AbortOptions) => Promise<void>, reset: () => void): boolean {
  if (!('sendClose' in connection) || typeof connection.sendClose !== 'function' ||
    !('sendReset' in connection) || typeof connection.sendReset !== 'function') return false
  connection.sendClose = close
  connection.sendReset = reset
  return true
}

/**
 * A server-side TLSSocket made outside a tls.Server never has "control released": node:tls then reports its TLS
 * errors (a record that fails its authentication, say) only as the internal '_tlsError' event (emitted by
 * `TLSSocket.prototype._tlsError`), never as 'error'. `listener` hears them.
 */
export function onTlsError (socket: TLSSocket, listener: (err: Error) => void): void {
  socket.on('_tlsError', listener)
}

// --- @chainsafe/libp2p-noise: the handshake (encryption.ts) ----------------------------------------------------

/** What noise's handshake gives: the peer's payload, and encrypt/decrypt bound to its cipher states and nonces. */
export interface NoiseHandshake {
  payload: { identityKey: Uint8Array, extensions?: { streamMuxers?: string[] } }
  encrypt: (plaintext: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList
  decrypt: (ciphertext: Uint8Array | Uint8ArrayList, dst?: Uint8Array) => Uint8Array | Uint8ArrayList
}

/** noise's private handshake methods (version 17), called on the encrypter they belong to. */
export interface NoiseHandshaker {
  initiate: (framed: LengthPrefixedStream, privateKey: PrivateKey, log: Logger, remoteKey: PublicKey | undefined, options?: AbortOptions) => Promise<NoiseHandshake>
  respond: (framed: LengthPrefixedStream, privateKey: PrivateKey, log: Logger, remoteKey: PublicKey | undefined, options?: AbortOptions) => Promise<NoiseHandshake>
  /** The muxer both ends named in the handshake's extensions, if any. */
  streamMuxer: (protocols?: string[]) => StreamMuxerFactory | undefined
}

/** Thrown when noise's handshake result is not what the fast path reads: the connection fails. */
export class NoiseShapeError extends Error {
  static readonly code = 'NOISE_SHAPE'
  readonly code = NoiseShapeError.code
}

function isNoiseHandshake (value: unknown): value is NoiseHandshake {
  return typeof value === 'object' && value !== null &&
    'payload' in value && typeof value.payload === 'object' && value.payload !== null &&
    'identityKey' in value.payload && value.payload.identityKey instanceof Uint8Array &&
    'encrypt' in value && typeof value.encrypt === 'function' && 'decrypt' in value && typeof value.decrypt === 'function'
}

/** The handshake methods of a noise encrypter, or undefined when it has not all of them. */
export function noiseHandshaker (encrypter: ConnectionEncrypter): NoiseHandshaker | undefined {
  if (!('performHandshakeInitiator' in encrypter) || typeof encrypter.performHandshakeInitiator !== 'function' ||
    !('performHandshakeResponder' in encrypter) || typeof encrypter.performHandshakeResponder !== 'function' ||
    !('getStreamMuxer' in encrypter) || typeof encrypter.getStreamMuxer !== 'function') return undefined
  const { performHandshakeInitiator: initiate, performHandshakeResponder: respond, getStreamMuxer } = encrypter
  const handshake = async (perform: unknown, args: unknown[]): Promise<NoiseHandshake> => {
    const result: unknown = await Reflect.apply(perform as (...a: unknown[]) => unknown, encrypter, args)
    if (!isNoiseHandshake(result)) throw new NoiseShapeError(`noise's handshake result has moved: ${describe(result)}`)
    return result
  }
  return {
    initiate: async (...args) => await handshake(initiate, args),
    respond: async (...args) => await handshake(respond, args),
    streamMuxer: (protocols) => {
      const muxer: unknown = Reflect.apply(getStreamMuxer, encrypter, [protocols])
      return isMuxerFactory(muxer) ? muxer : undefined
    }
  }
}

function isMuxerFactory (value: unknown): value is StreamMuxerFactory {
  return typeof value === 'object' && value !== null && 'protocol' in value && typeof value.protocol === 'string' &&
    'createStreamMuxer' in value && typeof value.createStreamMuxer === 'function'
}

// --- @chainsafe/libp2p-yamux: window updates (muxer.ts) --------------------------------------------------------

/** The fields of @chainsafe/libp2p-yamux's `YamuxStream` the window policy reads (version 8). */
export interface YamuxStreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

function isYamuxStreamWindow (value: unknown): value is YamuxStreamWindow {
  return typeof value === 'object' && value !== null && 'state' in value && typeof value.state === 'number' &&
    'recvWindow' in value && typeof value.recvWindow === 'number' && 'recvWindowCapacity' in value &&
    typeof value.recvWindowCapacity === 'number' && 'sendWindowUpdate' in value && typeof value.sendWindowUpdate === 'function'
}

/**
 * Calls `hook` with every stream `muxer` makes from now on, inbound and outbound (yamux makes them all in its
 * private `_newStream`), that has the window fields. False when the muxer has no `_newStream`.
 */
export function onYamuxStream (muxer: StreamMuxer, hook: (stream: YamuxStreamWindow) => void): boolean {
  if (!('_newStream' in muxer) || typeof muxer._newStream !== 'function') return false
  const newStream = muxer._newStream
  muxer._newStream = function (this: unknown, ...args: unknown[]): unknown {
    const stream: unknown = Reflect.apply(newStream, this, args)
    if (isYamuxStreamWindow(stream)) hook(stream)
    return stream
  }
  return true
}

// --- libp2p: the address manager's timer (node.ts) -------------------------------------------------------------

/** libp2p's address manager's debounced peer-store update, which nothing cancels when a node stops (libp2p 3.x). */
function addressManagerTimer (node: Libp2p): { stop: () => void } | MovedShape {
  const shape = 'libp2p components.addressManager._updatePeerStoreAddresses.stop'
  // libp2p's components are a Proxy that answers reads only (an `in` test finds nothing; reading a component it
  // lacks throws), and the timer is a debounced function with a `stop`.
  const timer = field(field(field(node, 'components'), 'addressManager'), '_updatePeerStoreAddresses')
  const stop = field(timer, 'stop')
  if (typeof stop !== 'function') return { part: 'libp2p', shape, found: timer === undefined ? 'no timer' : `stop: ${describe(stop)}` }
  return { stop: () => { Reflect.apply(stop, timer, []) } }
}

/** `value[name]` when `value` is an object or function and the read does not throw, else undefined. */
function field (value: unknown, name: string): unknown {
  if ((typeof value !== 'object' || value === null) && typeof value !== 'function') return undefined
  try {
    return Reflect.get(value, name)
  } catch {
    return undefined
  }
}

/** Stops the address manager's timer of a stopped `node`; false when it is not where libp2p 3.x keeps it. */
export function stopAddressManagerTimer (node: Libp2p): boolean {
  const timer = addressManagerTimer(node)
  if ('shape' in timer) return false
  timer.stop()
  return true
}

/** The shapes of a running libp2p node that dopt uses (checked on the node itself, once it is made). */
export function checkNode (node: Libp2p): MovedShape[] {
  const timer = addressManagerTimer(node)
  return 'shape' in timer ? [timer] : []
}

// --- The check at start-up --------------------------------------------------------------------------------------

/**
 * Checks every shape the fast paths rely on, on real objects of the installed packages: a TCP connection to a
 * listener on 127.0.0.1, a noise handshake and a yamux stream over an in-memory connection pair. Never throws:
 * what fails, or does not finish within `timeoutMs`, is reported as moved.
 */
export async function checkInternals (options: CheckInternalsOptions = {}): Promise<InternalsReport> {
  const timeoutMs = options.timeoutMs ?? 2000
  const logger = options.logger ?? defaultLogger()
  const [tls, noiseShapes, yamuxShapes] = await Promise.all([
    probe('tls', '@libp2p/tcp connection', timeoutMs, async (signal) => await probeTls(logger, signal)),
    probe('noise', '@chainsafe/libp2p-noise handshake', timeoutMs, async (signal) => await probeNoise(logger, signal)),
    probe('yamux', '@chainsafe/libp2p-yamux stream', timeoutMs, async (signal) => await probeYamux(signal))
  ])
  const moved = [...tls, ...noiseShapes, ...yamuxShapes]
  return { tls: tls.length === 0, noise: noiseShapes.length === 0, yamux: yamuxShapes.length === 0, moved }
}

/** One line for the log: what moved, and what the node does instead. */
export function describeMoved (moved: MovedShape[]): string {
  const instead: Record<InternalsPart, string> = {
    tls: 'TLS left out, noise only',
    noise: 'stock noise framing',
    yamux: 'stock yamux window updates',
    libp2p: 'a stopped node may keep its process alive for a second'
  }
  const parts = [...new Set(moved.map(m => m.part))]
  return `libp2p internals moved (${moved.map(m => `${m.shape}: ${m.found}`).join('; ')}); ${parts.map(p => instead[p]).join(', ')}`
}

async function probe (part: InternalsPart, what: string, timeoutMs: number, run: (signal: AbortSignal) => Promise<MovedShape[]>): Promise<MovedShape[]> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<MovedShape[]>(resolve => {
    timer = setTimeout(() => {
      controller.abort()
      resolve([{ part, shape: what, found: `no answer within ${timeoutMs} ms` }])
    }, timeoutMs)
  })
  try {
    return await Promise.race([run(controller.signal), timeout])
  } catch (err) {
    return [{ part, shape: what, found: `the probe failed: ${(err as Error).message}` }]
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
}

const PROBE_BYTES = Buffer.from('dopt-probe')

/**
 * A real @libp2p/tcp connection (its own dial, to a listener on 127.0.0.1 that sends a few bytes at once), and on
 * it the accessors tls.ts uses: its socket and handle, the bytes it read ahead, its close and its reset.
 */
async function probeTls (logger: ComponentLogger, signal: AbortSignal): Promise<MovedShape[]> {
  const moved: MovedShape[] = []
  if (!('_tlsError' in TLSSocket.prototype) || typeof TLSSocket.prototype._tlsError !== 'function') {
    moved.push(tlsShape('node:tls TLSSocket.prototype._tlsError', '_tlsError' in TLSSocket.prototype ? describe(TLSSocket.prototype._tlsError) : 'no such method'))
  }
  const accepted: Socket[] = []
  const server = createServer(socket => {
    accepted.push(socket)
    socket.on('error', () => {})
    socket.write(PROBE_BYTES)
  })
  const dialled: MessageStream[] = []
  try {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening', { signal })
    const { port } = server.address() as AddressInfo
    const transport = tcp()({ logger })
    // The upgrader is libp2p's: here it only hands back the connection the transport made.
    const upgrader = { upgradeOutbound: async (maConn: MessageStream) => maConn } as unknown as Upgrader
    const dial = async (): Promise<MessageStream> => {
      const conn: unknown = await transport.dial(multiaddr(`/ip4/127.0.0.1/tcp/${port}`), { upgrader, signal })
      const stream = conn as Connection & MessageStream
      dialled.push(stream)
      return stream
    }
    const [first, second] = await Promise.all([dial(), dial()])
    const socket = nativeSocketOf(first)
    if (socket === undefined) return [...moved, socketProblem(first) ?? tlsShape('@libp2p/tcp connection.socket', 'not a native socket')]

    // What the connection read while nobody listened is in its read buffer, for the TLS handshake to take.
    if (readBufferOf(first) === undefined) {
      moved.push(tlsShape('@libp2p/utils AbstractMessageStream.readBuffer', 'readBuffer' in first ? describe(first.readBuffer) : 'no such field'))
    } else {
      while ((readBufferOf(first)?.byteLength ?? 0) < PROBE_BYTES.byteLength) await once(socket, 'data', { signal })
      const unread = takeUnread(first)
      if (unread === undefined || !unread.equals(PROBE_BYTES) || readBufferOf(first)?.byteLength !== 0) {
        moved.push(tlsShape('@libp2p/utils AbstractMessageStream.readBuffer', `read ahead: ${describe(unread)}`))
      }
    }

    // close() ends in sendClose, abort() in sendReset: patched, they must be the ones called.
    let closed = 0
    let reset = 0
    const missing = ['sendClose', 'sendReset'].filter(name => typeof Reflect.get(first, name) !== 'function')
    if (missing.length > 0 || !redirectClose(first, async () => { closed++ }, () => {}) || !redirectClose(second, async () => {}, () => { reset++ })) {
      for (const name of missing) moved.push(tlsShape(`@libp2p/tcp connection.${name}`, describe(Reflect.get(first, name))))
    } else {
      await first.close({ signal })
      second.abort(new Error('probe done'))
      if (closed !== 1) moved.push(tlsShape('@libp2p/tcp connection.sendClose', `called ${closed} times by close()`))
      if (reset !== 1) moved.push(tlsShape('@libp2p/tcp connection.sendReset', `called ${reset} times by abort()`))
    }
    return moved
  } finally {
    for (const conn of dialled) {
      if ('socket' in conn && conn.socket instanceof Socket) conn.socket.destroy()
    }
    for (const socket of accepted) socket.destroy()
    server.close()
  }
}

/** A noise handshake between two noise encrypters over an in-memory pair, with the calls encryption.ts makes. */
async function probeNoise (logger: ComponentLogger, signal: AbortSignal): Promise<MovedShape[]> {
  const [a, b] = multiaddrConnectionPair()
  try {
    const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const sides = keys.map(privateKey => {
      // noise reads the upgrader only for the muxers to offer, which skipStreamMuxerNegotiation leaves out.
      const encrypter = noise()({ privateKey, logger } as unknown as Parameters<ReturnType<typeof noise>>[0])
      return { privateKey, handshaker: noiseHandshaker(encrypter), encrypter }
    })
    const [initiator, responder] = sides as [typeof sides[0], typeof sides[0]]
    if (initiator.handshaker === undefined || responder.handshaker === undefined) {
      const e = initiator.encrypter
      return ['performHandshakeInitiator', 'performHandshakeResponder', 'getStreamMuxer']
        .filter(name => !(name in e) || typeof Reflect.get(e, name) !== 'function')
        .map(name => ({ part: 'noise', shape: `@chainsafe/libp2p-noise Noise.${name}`, found: describe(Reflect.get(e, name)) }))
    }
    const log = logger.forComponent('dopt:p2p:internals')
    const options = { signal, skipStreamMuxerNegotiation: true }
    const [mine, theirs] = await Promise.all([
      initiator.handshaker.initiate(lpStream(a), initiator.privateKey, log, keys[1]?.publicKey, options),
      responder.handshaker.respond(lpStream(b), responder.privateKey, log, undefined, options)
    ])
    const moved: MovedShape[] = []
    // encryption.ts names the peer by the identity key of its payload.
    if (!publicKeyFromProtobuf(theirs.payload.identityKey).equals(keys[0]?.publicKey)) {
      moved.push({ part: 'noise', shape: '@chainsafe/libp2p-noise handshake payload.identityKey', found: 'not the initiator\'s key' })
    }
    // encryption.ts encrypts lists and decrypts sublists of what arrived: the same calls, both ways.
    for (const [from, to] of [[mine, theirs], [theirs, mine]] as const) {
      const sealed = from.encrypt(new Uint8ArrayList(PROBE_BYTES.subarray(0, 4), PROBE_BYTES.subarray(4)))
      const opened = to.decrypt(new Uint8ArrayList(sealed.subarray()))
      if (!Buffer.from(opened.subarray()).equals(PROBE_BYTES)) {
        moved.push({ part: 'noise', shape: '@chainsafe/libp2p-noise handshake encrypt/decrypt', found: `a round trip gave ${describe(opened)}` })
        break
      }
    }
    return moved
  } catch (err) {
    const shape = err instanceof NoiseShapeError ? 'handshake result' : 'handshake'
    return [{ part: 'noise', shape: `@chainsafe/libp2p-noise ${shape}`, found: (err as Error).message }]
  } finally {
    a.abort(new Error('probe done'))
    b.abort(new Error('probe done'))
  }
}

/** A yamux stream opened over an in-memory pair: made by `_newStream`, with the fields the window policy reads. */
async function probeYamux (signal: AbortSignal): Promise<MovedShape[]> {
  const [a, b] = multiaddrConnectionPair()
  const factory = yamux()()
  const local: StreamMuxer = factory.createStreamMuxer(a)
  const remote: StreamMuxer = factory.createStreamMuxer(b)
  try {
    const seen: YamuxStreamWindow[] = []
    let made = 0
    if (!('_newStream' in local) || typeof local._newStream !== 'function') {
      return [{ part: 'yamux', shape: '@chainsafe/libp2p-yamux YamuxMuxer._newStream', found: describe('_newStream' in local ? local._newStream : undefined) }]
    }
    const newStream = local._newStream
    local._newStream = function (this: unknown, ...args: unknown[]): unknown {
      made++
      return Reflect.apply(newStream, this, args)
    }
    onYamuxStream(local, stream => { seen.push(stream) })
    signal.throwIfAborted()
    const stream = await local.createStream()
    const moved: MovedShape[] = []
    if (made !== 1) moved.push({ part: 'yamux', shape: '@chainsafe/libp2p-yamux YamuxMuxer._newStream', found: `called ${made} times for one stream` })
    else if (seen.length !== 1) moved.push({ part: 'yamux', shape: '@chainsafe/libp2p-yamux YamuxStream state/recvWindow/recvWindowCapacity/sendWindowUpdate', found: describeFields(stream, ['state', 'recvWindow', 'recvWindowCapacity', 'sendWindowUpdate']) })
    else if (typeof StreamState.Established !== 'number') moved.push({ part: 'yamux', shape: '@chainsafe/libp2p-yamux StreamState.Established', found: describe(StreamState.Established) })
    return moved
  } finally {
    for (const muxer of [local, remote]) muxer.abort(new Error('probe done'))
    a.abort(new Error('probe done'))
    b.abort(new Error('probe done'))
  }
}

function tlsShape (shape: string, found: string): MovedShape {
  return { part: 'tls', shape, found }
}

function describeFields (value: object, names: string[]): string {
  return names.map(name => `${name}: ${describe(Reflect.get(value, name))}`).join(', ')
}

/** A short description of what was found where a shape was expected. */
function describe (value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value === null) return 'null'
  if (typeof value === 'function') return 'a function'
  if (Buffer.isBuffer(value)) return `${value.byteLength} bytes`
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`
  return typeof value
}
