import { PeerProtocolError } from './errors.js'

/**
 * Framing of the piece protocol (spec: docs/protocol.md). Every frame is
 *   u32 BE length of what follows | u8 type | u32 BE request id | payload
 * so several requests can be in flight on one stream and answers can come back in any order.
 */

export const MessageType = {
  MANIFEST_REQ: 0x01,
  HAVE_REQ: 0x02,
  PIECE_REQ: 0x03,
  CANCEL: 0x04,
  MANIFEST: 0x81,
  HAVE: 0x82,
  PIECE: 0x83,
  REFUSE: 0x8f
} as const
export type MessageType = typeof MessageType[keyof typeof MessageType]

/** Why a peer refused a request (the u8 in a REFUSE frame). */
export const RefuseReason = {
  NOT_FOUND: 1,
  BUSY: 2,
  BAD_REQUEST: 3,
  TOO_LARGE: 4,
  INTERNAL: 5
} as const
export type RefuseReason = typeof RefuseReason[keyof typeof RefuseReason]

export const KiB = 1024
export const MiB = 1024 * KiB

/** Bytes before the payload: length (4) + type (1) + request id (4). */
export const HEADER_LENGTH = 9
/** Longest key or CID string a request may carry. */
export const MAX_KEY_LENGTH = 256
/** Largest payload of each message type; anything larger aborts the stream. */
export const MAX_PAYLOAD: Record<MessageType, number> = {
  [MessageType.MANIFEST_REQ]: MAX_KEY_LENGTH,
  [MessageType.HAVE_REQ]: MAX_KEY_LENGTH,
  [MessageType.PIECE_REQ]: 4 + MAX_KEY_LENGTH,
  [MessageType.CANCEL]: 0,
  [MessageType.MANIFEST]: 8 * MiB,
  [MessageType.HAVE]: 2 * MiB,
  [MessageType.PIECE]: 16 * MiB,
  [MessageType.REFUSE]: 1 + KiB
}

const REQUESTS = new Set<number>([MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.CANCEL])

export function isRequest (type: MessageType): boolean {
  return REQUESTS.has(type)
}

export interface Frame {
  type: MessageType
  id: number
  payload: Uint8Array
}

/** The header of a frame whose payload is `payloadLength` bytes. */
export function encodeHeader (type: MessageType, id: number, payloadLength: number): Uint8Array {
  const header = new Uint8Array(HEADER_LENGTH)
  const view = new DataView(header.buffer)
  view.setUint32(0, 5 + payloadLength)
  view.setUint8(4, type)
  view.setUint32(5, id)
  return header
}

/** A whole small frame in one buffer. */
export function encodeFrame (type: MessageType, id: number, payload: Uint8Array = EMPTY): Uint8Array {
  const frame = new Uint8Array(HEADER_LENGTH + payload.byteLength)
  frame.set(encodeHeader(type, id, payload.byteLength), 0)
  frame.set(payload, HEADER_LENGTH)
  return frame
}

const EMPTY = new Uint8Array(0)
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

export function encodeKey (key: string): Uint8Array {
  const bytes = utf8.encode(key)
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_KEY_LENGTH) throw new RangeError(`key must be 1..${MAX_KEY_LENGTH} bytes`)
  return bytes
}

export function decodeKey (bytes: Uint8Array): string {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_KEY_LENGTH) throw new PeerProtocolError('bad key length')
  try {
    return utf8Decoder.decode(bytes)
  } catch (err) {
    throw new PeerProtocolError('key is not UTF-8', { cause: err })
  }
}

export function encodePieceRequest (manifestCid: string, index: number): Uint8Array {
  const key = encodeKey(manifestCid)
  const payload = new Uint8Array(4 + key.byteLength)
  new DataView(payload.buffer).setUint32(0, index)
  payload.set(key, 4)
  return payload
}

export function decodePieceRequest (payload: Uint8Array): { manifestCid: string, index: number } {
  if (payload.byteLength < 5) throw new PeerProtocolError('short PIECE_REQ')
  const index = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0)
  return { manifestCid: decodeKey(payload.subarray(4)), index }
}

export function encodeRefuse (reason: RefuseReason, message = ''): Uint8Array {
  const text = utf8.encode(message).subarray(0, KiB)
  const payload = new Uint8Array(1 + text.byteLength)
  payload[0] = reason
  payload.set(text, 1)
  return payload
}

export function decodeRefuse (payload: Uint8Array): { reason: number, message: string } {
  if (payload.byteLength < 1) throw new PeerProtocolError('empty REFUSE')
  return { reason: payload[0] ?? 0, message: new TextDecoder().decode(payload.subarray(1)) }
}

/** What streams deliver: a buffer, or a list of buffers (Uint8ArrayList is iterable over its parts). */
export type Chunk = Uint8Array | { byteLength: number, [Symbol.iterator]: () => Iterator<Uint8Array> }

/**
 * Where a frame's payload should go, asked once its header is in: a buffer of at least `length` bytes to copy the
 * payload into (the frame then carries a view of it), or undefined for the decoder's own buffering.
 */
export type PayloadTarget = (type: MessageType, id: number, length: number) => Uint8Array | undefined

/**
 * Incremental frame decoder. Checks each frame's size against its type's limit as soon as the 9-byte header is in,
 * before buffering any payload, and throws `PeerProtocolError` on a violation (the caller aborts the stream).
 * A payload goes into the buffer its `target` names, if any (a receiver's reusable piece buffer: no allocation per
 * piece); else a payload inside one received buffer is passed on without copying and one spread over buffers is
 * copied once into a new buffer.
 */
export class FrameDecoder {
  readonly #onFrame: (frame: Frame) => void
  readonly #accept: (type: MessageType) => boolean
  readonly #target: PayloadTarget | undefined
  readonly #header = new Uint8Array(HEADER_LENGTH)
  #headerFill = 0
  #type: MessageType = MessageType.CANCEL
  #id = 0
  #payload: Uint8Array | null = null
  #payloadFill = 0
  /** Whether #payload is a target's buffer (see detach). */
  #targeted = false

  /** `accept` says which message types this side may receive (requests on the server, answers on the client). */
  constructor (onFrame: (frame: Frame) => void, accept: (type: MessageType) => boolean, target?: PayloadTarget) {
    this.#onFrame = onFrame
    this.#accept = accept
    this.#target = target
  }

  /**
   * Stops filling a target's buffer: if frame `id` (any frame, when `id` is undefined) is being received into one,
   * the rest of its payload goes to a scratch buffer instead, and the frame completes with a payload of no meaning.
   * For a request given up mid-answer, whose owner takes its buffer back (and drops the late answer).
   */
  detach (id?: number): void {
    if (this.#payload === null || !this.#targeted || (id !== undefined && id !== this.#id)) return
    this.#payload = new Uint8Array(this.#payload.byteLength)
    this.#targeted = false
  }

  push (chunk: Chunk): void {
    if (chunk instanceof Uint8Array) {
      this.#pushBuffer(chunk)
    } else {
      for (const buf of chunk) this.#pushBuffer(buf)
    }
  }

  #pushBuffer (buf: Uint8Array): void {
    let offset = 0
    while (offset < buf.byteLength) {
      if (this.#payload === null) {
        const take = Math.min(HEADER_LENGTH - this.#headerFill, buf.byteLength - offset)
        this.#header.set(buf.subarray(offset, offset + take), this.#headerFill)
        this.#headerFill += take
        offset += take
        if (this.#headerFill < HEADER_LENGTH) return
        const payloadLength = this.#startFrame()
        if (payloadLength === 0) {
          this.#emit(EMPTY)
          continue
        }
        const into = this.#target?.(this.#type, this.#id, payloadLength)
        if (into !== undefined && into.byteLength >= payloadLength) {
          this.#payload = into.subarray(0, payloadLength)
          this.#targeted = true
          this.#payloadFill = 0
        } else if (buf.byteLength - offset >= payloadLength) {
          // The whole payload is in this buffer: hand out a view, no copy.
          const payload = buf.subarray(offset, offset + payloadLength)
          offset += payloadLength
          this.#emit(payload)
          continue
        } else {
          this.#payload = new Uint8Array(payloadLength)
          this.#payloadFill = 0
        }
      }
      const payload = this.#payload
      const take = Math.min(payload.byteLength - this.#payloadFill, buf.byteLength - offset)
      payload.set(buf.subarray(offset, offset + take), this.#payloadFill)
      this.#payloadFill += take
      offset += take
      if (this.#payloadFill === payload.byteLength) this.#emit(payload)
    }
  }

  /** Validates the header just read; returns the payload length. */
  #startFrame (): number {
    const view = new DataView(this.#header.buffer)
    const length = view.getUint32(0)
    const type = view.getUint8(4) as MessageType
    const limit = MAX_PAYLOAD[type]
    if (limit === undefined || !this.#accept(type)) throw new PeerProtocolError(`unexpected message type 0x${type.toString(16)}`)
    if (length < 5 || length - 5 > limit) {
      throw new PeerProtocolError(`frame of type 0x${type.toString(16)} is ${length - 5} bytes, over its limit of ${limit}`)
    }
    this.#type = type
    this.#id = view.getUint32(5)
    return length - 5
  }

  #emit (payload: Uint8Array): void {
    this.#payload = null
    this.#targeted = false
    this.#payloadFill = 0
    this.#headerFill = 0
    this.#onFrame({ type: this.#type, id: this.#id, payload })
  }
}
