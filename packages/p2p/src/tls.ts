// Connection encryption: the libp2p TLS handshake (/tls/1.0.0, libp2p/specs tls/tls.md) run by node:tls natively on
// the TCP socket.
//
// Why: on these machines the bulk path was CPU-bound in encryption. noise encrypts in JavaScript-driven calls to
// node:crypto, one cipher object and two freshly allocated buffers per 64 KiB message (Node 20 copies every cipher
// output once more internally), ~1.0-1.2 CPU-s per GiB per side. node:tls encrypts and decrypts inside Node's C++
// stream (OpenSSL, AES-GCM with AES-NI) with no JavaScript per record; measured in benchmarks/peer it took about a
// sixth off the wall time of a 1 GiB piece transfer. @libp2p/tls speaks the same protocol but feeds node:tls through a
// JavaScript duplex (every encrypted byte crosses into JavaScript and back), which measured no faster than noise.
//
// How: after multistream-select has chosen /tls/1.0.0 on the raw connection, the net.Socket under @libp2p/tcp's
// connection is handed to a TLSSocket, which takes over its handle; bytes the connection had already read (the start
// of the handshake) are put back in front. The secured stream libp2p gets is a thin AbstractMessageStream over the
// TLSSocket. Each side presents a certificate built by certificate.ts; the peer's certificate is verified as the
// specification asks (one self-signed certificate, in its validity period, with the libp2p extension signed by the
// host key, no unknown critical extension, and the expected peer ID when dialling one).
//
// Only connections on a native TCP socket can be secured this way (our only transport). With a pre-shared key the
// socket sits under libp2p's connection protector, so node.ts offers noise alone then.
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { TLSSocket, connect, createSecureContext } from 'node:tls'
import type { SecureContext } from 'node:tls'
import { InvalidCryptoExchangeError, TimeoutError, serviceCapabilities } from '@libp2p/interface'
import { AbstractMessageStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { createCertificate, verifyCertificate } from './certificate.js'
import { nativeSocketOf, onTlsError, redirectClose, takeUnread } from './internals.js'
import type { AbortOptions, ComponentLogger, ConnectionEncrypter, MessageStream, PrivateKey, SecureConnectionOptions, SecuredConnection, StreamMuxerFactory } from '@libp2p/interface'

export const TLS_PROTOCOL = '/tls/1.0.0'
/** TLS 1.3 suites, AES-128-GCM first: the cheapest with AES-NI; the server's order decides (honorCipherOrder). */
const CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'
/** @libp2p/tcp's default inactivity timeout, for a connection that has none. */
const DEFAULT_INACTIVITY_MS = 2 * 60 * 1000

export interface TlsComponents {
  privateKey: PrivateKey
  logger: ComponentLogger
  /** libp2p's upgrader: its stream muxers are offered in the handshake (inlined muxer negotiation). */
  upgrader?: { getStreamMuxers?: () => Map<string, StreamMuxerFactory> }
  [key: string]: unknown
}

/** ALPN value of a peer that takes no muxer in the handshake (the specification's "libp2p"). */
const ALPN_LIBP2P = 'libp2p'

/** Drop-in for a libp2p `connectionEncrypters` entry. */
export function doptTls (): (components: TlsComponents) => ConnectionEncrypter {
  return (components) => {
    // The specification allows one certificate for many connections: made once, on first use, with its context.
    let context: Promise<SecureContext> | undefined
    const secure = async (connection: MessageStream, isServer: boolean, options?: SecureConnectionOptions): Promise<SecuredConnection> => {
      const raw = nativeSocketOf(connection)
      if (raw === undefined) {
        const err = new InvalidCryptoExchangeError('tls: this connection has no native TCP socket to secure')
        connection.abort(err)
        throw err
      }
      // Inlined muxer negotiation (the specification's ALPN section): our muxers, in order, then "libp2p". When
      // both ends have one, the handshake picks it and the round trip of multistream-select for it is saved.
      const muxers = (options?.skipStreamMuxerNegotiation === true ? undefined : components.upgrader?.getStreamMuxers?.()) ?? new Map<string, StreamMuxerFactory>()
      const alpn = [...muxers.keys(), ALPN_LIBP2P]
      // Stop the connection reading the socket now, so nothing lands in JavaScript while the context is made.
      const unread = detach(connection, raw)
      let socket: TLSSocket | undefined
      const onAbort = (): void => { (socket ?? raw).destroy(new InvalidCryptoExchangeError('tls: handshake aborted')) }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        context ??= createCertificate(components.privateKey).then(({ cert, key }) => createSecureContext({
          cert,
          key,
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
          ciphers: CIPHERSUITES,
          honorCipherOrder: true
        }))
        const secureContext = await context.catch((err: unknown) => {
          context = undefined // the next connection tries again
          throw err
        })
        options?.signal?.throwIfAborted()
        // A socket that died meanwhile would leave a TLSSocket that never reports anything.
        if (raw.destroyed) throw new InvalidCryptoExchangeError('tls: the connection closed before the handshake')
        socket = wrap(connection, raw, unread, isServer, secureContext, alpn)
        // Until TlsStream listens: an error after 'secure' (while the certificate is checked) must not go unheard.
        let failure: Error | undefined
        const onError = (err: Error): void => { failure ??= err }
        socket.on('error', onError)
        await once(socket, 'secure')
        const peer = socket.getPeerCertificate(true)
        if (peer.raw === undefined) throw new InvalidCryptoExchangeError('tls: the peer sent no certificate')
        if (peer.issuerCertificate !== undefined && peer.issuerCertificate.fingerprint256 !== peer.fingerprint256) {
          throw new InvalidCryptoExchangeError('tls: the peer sent a certificate chain (one self-signed certificate expected)')
        }
        const remotePeer = await verifyCertificate(peer.raw, options?.remotePeer)
        options?.signal?.throwIfAborted()
        if (failure !== undefined) throw failure
        if (socket.destroyed) throw new InvalidCryptoExchangeError('tls: the connection closed during the handshake')
        const chosen = socket.alpnProtocol
        const streamMuxer = typeof chosen === 'string' && chosen !== ALPN_LIBP2P ? muxers.get(chosen) : undefined
        if (typeof chosen === 'string' && chosen !== ALPN_LIBP2P && streamMuxer === undefined) {
          throw new InvalidCryptoExchangeError(`tls: the handshake chose ${chosen}, which is not a muxer of this node`)
        }
        const secured = new TlsStream(connection, raw, socket)
        socket.off('error', onError)
        return { remotePeer, connection: secured, streamMuxer }
      } catch (err) {
        socket?.destroy()
        connection.abort(err as Error)
        throw err
      } finally {
        options?.signal?.removeEventListener('abort', onAbort)
      }
    }
    return {
      protocol: TLS_PROTOCOL,
      [Symbol.toStringTag]: '@dopt/p2p tls',
      [serviceCapabilities]: ['@libp2p/connection-encryption'],
      secureOutbound: async (connection: MessageStream, options?: SecureConnectionOptions) => secure(connection, false, options),
      secureInbound: async (connection: MessageStream, options?: SecureConnectionOptions) => secure(connection, true, options)
    }
  }
}

/**
 * Takes `raw` from @libp2p/tcp's connection: the connection stops reading it and its inactivity timer stops (the
 * raw socket sees no traffic of its own from now on). Returns the bytes it had read that nobody consumed: the start
 * of the handshake, if the peer was quick.
 */
function detach (connection: MessageStream, raw: Socket): Buffer | undefined {
  raw.removeAllListeners('data')
  raw.pause()
  raw.setTimeout(0)
  return takeUnread(connection)
}

/**
 * A TLSSocket on `raw`'s handle offering `alpn`, with `unread` put back in front (node:tls feeds a socket's
 * buffered bytes to the handshake first) and the connection's inactivity timeout.
 */
function wrap (connection: MessageStream, raw: Socket, unread: Buffer | undefined, isServer: boolean, secureContext: SecureContext, alpn: string[]): TLSSocket {
  if (unread !== undefined) raw.unshift(unread)
  const common = {
    secureContext,
    // Certificates are self-signed by design: verifyCertificate checks them instead of a CA chain.
    rejectUnauthorized: false,
    ALPNProtocols: alpn
  }
  // No servername: the specification forbids SNI from clients of this version of the handshake.
  const socket = isServer ? new TLSSocket(raw, { ...common, isServer: true, requestCert: true }) : connect({ ...common, socket: raw })
  if (isServer) {
    // node:tls reports a server-side TLSSocket's record errors only internally (internals.ts): without this the
    // connection would stay open until its next write failed. Make them errors.
    onTlsError(socket, (err: Error) => { socket.destroy(err) })
  }
  // Like @libp2p/tcp: the connection's inactivity timeout (0: none), two minutes when it has none.
  const timeout = Number.isFinite(connection.inactivityTimeout) ? connection.inactivityTimeout : DEFAULT_INACTIVITY_MS
  socket.setTimeout(timeout)
  return socket
}

/**
 * The secured connection: libp2p's message stream over a TLSSocket. It also takes over closing and resetting the
 * TCP connection it came from: libp2p closes a connection by closing the muxer and then that TCP connection, whose
 * own close would shut the socket under TLS (dropping what TLS still had to write, and making the end an error).
 */
class TlsStream extends AbstractMessageStream {
  readonly #socket: TLSSocket
  readonly #raw: Socket
  #batch: Buffer[] = []
  #ending: Promise<void> | undefined

  constructor (tcp: MessageStream, raw: Socket, socket: TLSSocket) {
    super({ log: tcp.log, inactivityTimeout: tcp.inactivityTimeout, maxReadBufferLength: tcp.maxReadBufferLength, direction: tcp.direction })
    this.#socket = socket
    this.#raw = raw
    // checkInternals made sure at start-up that this works on @libp2p/tcp's connections (TLS is left out if not).
    redirectClose(tcp, async (options?: AbortOptions) => { await this.#end(options) }, () => { this.#destroy() })
    // node:tls hands over at most 16 KiB (one record) per 'data' event, several per socket read. They go up to the
    // muxer together, once per turn of the event loop: a quarter of the events through the layers above.
    socket.on('data', (chunk: Buffer) => {
      if (this.#batch.push(chunk) === 1) setImmediate(this.#flush)
    })
    socket.on('error', (err) => { this.#flush(); this.abort(err) })
    socket.on('timeout', () => { socket.destroy(new TimeoutError('TLS connection inactive')) })
    socket.once('end', () => { this.#flush(); this.onTransportClosed() })
    socket.once('close', (hadError: boolean) => {
      this.#flush()
      if (!raw.destroyed) raw.destroy()
      if (hadError) this.onTransportClosed(new Error('TLS connection closed with an error'))
      else this.onTransportClosed()
    })
    socket.on('drain', () => { this.safeDispatchEvent('drain') })
  }

  readonly #flush = (): void => {
    const batch = this.#batch
    if (batch.length === 0) return
    this.#batch = []
    this.onData(batch.length === 1 ? batch[0] as Buffer : new Uint8ArrayList(...batch))
  }

  /**
   * Ends TLS the orderly way: what is queued is written, then close_notify and the TCP FIN; resolves when the socket
   * has closed (the peer answered with its own end), or destroys it when `options.signal` gives up first.
   */
  async #end (options?: AbortOptions): Promise<void> {
    this.#ending ??= (async () => {
      const socket = this.#socket
      if (socket.destroyed) return
      const closed = once(socket, 'close')
      socket.end()
      const onAbort = (): void => { this.#destroy() }
      options?.signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await closed
      } finally {
        options?.signal?.removeEventListener('abort', onAbort)
      }
    })()
    await this.#ending
  }

  #destroy (): void {
    this.#socket.destroy()
    this.#raw.destroy()
  }

  async close (options?: AbortOptions): Promise<void> {
    if (this.status !== 'open') return
    if (this.sendingData || this.writeBuffer.byteLength > 0) await once(this, 'idle', { signal: options?.signal })
    await this.#end(options)
  }

  sendPause (): void { this.#socket.pause() }
  sendResume (): void { this.#socket.resume() }
  sendReset (): void { this.#destroy() }

  /** One write to the socket per send: every buffer of `data` in one encrypted batch (cork). */
  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    const socket = this.#socket
    let canSendMore = true
    socket.cork()
    for (const buf of data) canSendMore = socket.write(buf)
    socket.uncork()
    return { sentBytes: data.byteLength, canSendMore }
  }
}
