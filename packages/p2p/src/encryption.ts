// Connection encryption: libp2p's noise (XX handshake, chacha20-poly1305, 2-byte length-prefixed messages of at
// most 65535 bytes) with our own transport-phase stream. The bytes on the wire are exactly noise's, so dopt
// nodes stay compatible with any libp2p noise peer; what changes is how they are produced and consumed:
//
// - sending: every noise message of one send is encrypted straight into a single buffer (length prefix, cipher
//   text, tag), so the transport writes once per send instead of twice per 64 KiB message. @libp2p/tcp writes each
//   buffer of a list separately, without cork, so a 1 MiB piece cost ~32 socket writes (system calls) before;
// - receiving: messages are decrypted with node:crypto directly from the received chunks (no copy into the
//   contiguous `dst` buffer that noise prepares for its WebAssembly cipher and node:crypto never uses), and all the
//   messages completed by one socket read go up to the muxer as one chunk, one event instead of one per message.
//
// The handshake, the key schedule and the nonces are noise's own (we call its handshake and keep its cipher
// states); only the framing loop around them is ours. See docs/protocol.md and benchmarks/peer.
import { noise } from '@chainsafe/libp2p-noise'
import { serviceCapabilities } from '@libp2p/interface'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import { AbstractMessageStream, lpStream } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { noiseHandshaker } from './internals.js'
import type { NoiseHandshake } from './internals.js'
import type { NoiseComponents } from '@chainsafe/libp2p-noise'
import type { AbortOptions, ConnectionEncrypter, MessageStream, SecureConnectionOptions, SecuredConnection } from '@libp2p/interface'

/** Largest noise message (length prefix excluded), and its payload without the 16-byte tag. */
const MAX_MESSAGE = 65535
const TAG = 16
const MAX_PLAINTEXT = MAX_MESSAGE - TAG

/** What libp2p gives a connection encrypter: noise's own components. */
export type EncryptionComponents = NoiseComponents

const uint16Encode = (value: number): Uint8Array => Uint8Array.of(value >> 8, value & 0xff)
uint16Encode.bytes = 2
const uint16Decode = (data: Uint8Array | Uint8ArrayList): number => {
  if (data.length < 2) throw new RangeError('Could not decode int16BE')
  return data instanceof Uint8Array ? ((data[0] ?? 0) << 8) | (data[1] ?? 0) : data.getUint16(0)
}
uint16Decode.bytes = 2

/**
 * noise, with dopt's transport-phase framing (see the file comment). Drop-in for `noise()` in `connectionEncrypters`.
 */
export function doptNoise (): (components: EncryptionComponents) => ConnectionEncrypter {
  const factory = noise()
  return (components) => {
    const inner = factory(components)
    const handshaker = noiseHandshaker(inner)
    // A noise release that moved its internals (checkInternals tells node.ts, which then uses stock noise): use it
    // as it is rather than fail.
    if (handshaker === undefined) return inner
    const secure = async (connection: MessageStream, outbound: boolean, options?: SecureConnectionOptions): Promise<SecuredConnection> => {
      const log = connection.log?.newScope('noise') ?? components.logger.forComponent('libp2p:noise')
      const framed = lpStream(connection, { lengthEncoder: uint16Encode, lengthDecoder: uint16Decode, maxDataLength: MAX_MESSAGE })
      const perform = outbound ? handshaker.initiate : handshaker.respond
      const handshake = await perform(framed, components.privateKey, log, options?.remotePeer?.publicKey, options)
      return {
        connection: new EncryptedStream(framed.unwrap(), handshake),
        remoteExtensions: handshake.payload.extensions,
        remotePeer: peerIdFromPublicKey(publicKeyFromProtobuf(handshake.payload.identityKey)),
        streamMuxer: options?.skipStreamMuxerNegotiation === true ? undefined : handshaker.streamMuxer(handshake.payload.extensions?.streamMuxers)
      }
    }
    return {
      protocol: inner.protocol,
      [Symbol.toStringTag]: '@dopt/p2p noise',
      [serviceCapabilities]: ['@libp2p/connection-encryption', '@chainsafe/libp2p-noise'],
      secureOutbound: async (connection: MessageStream, options?: SecureConnectionOptions) => secure(connection, true, options),
      secureInbound: async (connection: MessageStream, options?: SecureConnectionOptions) => secure(connection, false, options)
    }
  }
}

class EncryptedStream extends AbstractMessageStream {
  readonly #stream: MessageStream
  readonly #handshake: NoiseHandshake
  readonly #pending = new Uint8ArrayList()

  constructor (stream: MessageStream, handshake: NoiseHandshake) {
    super({
      log: stream.log,
      inactivityTimeout: stream.inactivityTimeout,
      maxReadBufferLength: stream.maxReadBufferLength,
      direction: stream.direction
    })
    this.#stream = stream
    this.#handshake = handshake
    stream.addEventListener('message', (evt) => {
      try {
        const plain = this.#decrypt(evt.data)
        if (plain !== undefined) this.onData(plain)
      } catch (err) {
        this.abort(err as Error)
      }
    })
    stream.addEventListener('close', (evt) => {
      if (evt.error != null) {
        if (evt.local === true) this.abort(evt.error)
        else this.onRemoteReset()
      } else {
        this.onTransportClosed()
      }
    })
    stream.addEventListener('drain', () => { this.safeDispatchEvent('drain') })
    stream.addEventListener('remoteCloseWrite', () => { this.onRemoteCloseWrite() })
  }

  /**
   * Every whole message in what has arrived, decrypted into one list; undefined while none is whole. What stays
   * pending is at most one unfinished message: the 2-byte length bounds it to 64 KiB.
   */
  #decrypt (data: Uint8Array | Uint8ArrayList): Uint8ArrayList | undefined {
    const pending = this.#pending
    pending.append(data)
    let out: Uint8ArrayList | undefined
    while (pending.byteLength >= 2) {
      const length = pending.getUint16(0)
      if (pending.byteLength < 2 + length) break
      if (length < TAG) throw new Error('noise: message shorter than its tag')
      // A list in, a list out: node:crypto deciphers each received chunk in place of gathering them first.
      const plain = this.#handshake.decrypt(pending.sublist(2, 2 + length))
      pending.consume(2 + length)
      if (plain.byteLength > 0) (out ??= new Uint8ArrayList()).append(plain)
    }
    return out
  }

  /** `data` as noise messages of at most 65535 bytes, length prefixes included, in one buffer. */
  #encrypt (data: Uint8ArrayList): Uint8Array {
    const total = data.byteLength
    const out = Buffer.allocUnsafe(total + Math.max(1, Math.ceil(total / MAX_PLAINTEXT)) * (2 + TAG))
    let offset = 0
    let start = 0
    do {
      const end = Math.min(start + MAX_PLAINTEXT, total)
      const sealed = this.#handshake.encrypt(data.sublist(start, end))
      out.writeUInt16BE(sealed.byteLength, offset)
      offset += 2
      if (sealed instanceof Uint8Array) {
        out.set(sealed, offset)
        offset += sealed.byteLength
      } else {
        for (const buf of sealed) {
          out.set(buf, offset)
          offset += buf.byteLength
        }
      }
      start = end
    } while (start < total)
    return out.subarray(0, offset)
  }

  async close (options?: AbortOptions): Promise<void> {
    await this.#stream.close(options)
  }

  sendPause (): void { this.#stream.pause() }
  sendResume (): void { this.#stream.resume() }
  sendReset (err: Error): void { this.#stream.abort(err) }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    return { sentBytes: data.byteLength, canSendMore: this.#stream.send(this.#encrypt(data)) }
  }
}
