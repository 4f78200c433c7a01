import { EntryKind } from '@dopt/interface'
import type { ContentEntry } from '@dopt/interface'
import { PeerProtocolError } from './errors.js'

export { EntryKind }

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
  /** 1.1.0: subscribe to the live state of some content (STATE, then UPDATEs, until CANCEL). */
  SUBSCRIBE: 0x05,
  MANIFEST: 0x81,
  HAVE: 0x82,
  /** 1.0.0's piece answer: the whole piece in one frame. */
  PIECE: 0x83,
  /** 1.1.0: the state a subscription starts from: piece size, piece count, and the bitfield of pieces served. */
  STATE: 0x84,
  /** 1.1.0: changes to a subscription's content (entries). */
  UPDATE: 0x85,
  /** 1.1.0's piece answer: part of a piece (total length, offset, bytes); a piece is one or more, in order. */
  DATA: 0x86,
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

/** An UPDATE entry (kinds and meaning: @dopt/interface's EntryKind). */
export type Entry = ContentEntry

export const KiB = 1024
export const MiB = 1024 * KiB

/** Bytes before the payload: length (4) + type (1) + request id (4). */
export const HEADER_LENGTH = 9
/** A DATA frame's payload starts with u32 total length of the piece, u32 offset of this part. */
export const DATA_HEADER = 8
/** A STATE payload starts with u32 piece size, u32 piece count, u8 flags; the bitfield follows. */
export const STATE_HEADER = 9
/** Bytes of one entry in an UPDATE: u8 kind, u32 index, and for VOUCH the 32-byte hash. */
const ENTRY_LENGTH = 5
const HASH_LENGTH = 32
/** Longest key or CID string a request may carry. */
export const MAX_KEY_LENGTH = 256
/** Largest payload of each message type; anything larger aborts the stream. */
export const MAX_PAYLOAD: Record<MessageType, number> = {
  [MessageType.MANIFEST_REQ]: MAX_KEY_LENGTH,
  [MessageType.HAVE_REQ]: MAX_KEY_LENGTH,
  [MessageType.PIECE_REQ]: 4 + MAX_KEY_LENGTH,
  [MessageType.CANCEL]: 0,
  [MessageType.SUBSCRIBE]: MAX_KEY_LENGTH,
  [MessageType.MANIFEST]: 8 * MiB,
  [MessageType.HAVE]: 2 * MiB,
  [MessageType.PIECE]: 16 * MiB,
  [MessageType.STATE]: STATE_HEADER + 2 * MiB,
  [MessageType.UPDATE]: 1 * MiB,
  [MessageType.DATA]: DATA_HEADER + 1 * MiB,
  [MessageType.REFUSE]: 1 + KiB
}

const REQUESTS = new Set<number>([MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.CANCEL, MessageType.SUBSCRIBE])
/** Types only protocol 1.1.0 has: on a 1.0.0 stream they are violations. */
const V11_ONLY = new Set<number>([MessageType.SUBSCRIBE, MessageType.STATE, MessageType.UPDATE, MessageType.DATA])

export function isRequest (type: MessageType): boolean {
  return REQUESTS.has(type)
}

/** Which types one side of a stream of `version` may receive: requests on the serving side, answers on the asking side. */
export function receivable (side: 'server' | 'client', version: ProtocolVersion): (type: MessageType) => boolean {
  return type => (side === 'server') === isRequest(type) && (version === '1.1.0' || !V11_ONLY.has(type))
}

export type ProtocolVersion = '1.0.0' | '1.1.0'

export interface Frame {
  type: MessageType
  id: number
  payload: Uint8Array
  /** DATA frames: the piece's whole length and where this part starts in it. */
  total?: number
  offset?: number
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
// ignoreBOM: a key is exactly its bytes (a leading BOM was dropped, and three bytes of one decoded as the empty key).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

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

/** The state a subscription starts from. */
export interface ContentStateFrame {
  pieceSize: number
  pieceCount: number
  /** Bit 0: the sender holds the whole content. */
  flags: number
  /** Bitfield of the pieces served now, MSB first. */
  have: Uint8Array
}

export function encodeState (state: ContentStateFrame): Uint8Array {
  const bytes = Math.ceil(state.pieceCount / 8)
  if (state.have.byteLength < bytes) throw new RangeError('bitfield shorter than the piece count')
  const payload = new Uint8Array(STATE_HEADER + bytes)
  const view = new DataView(payload.buffer)
  view.setUint32(0, state.pieceSize)
  view.setUint32(4, state.pieceCount)
  view.setUint8(8, state.flags)
  payload.set(state.have.subarray(0, bytes), STATE_HEADER)
  return payload
}

export function decodeState (payload: Uint8Array): ContentStateFrame {
  if (payload.byteLength < STATE_HEADER) throw new PeerProtocolError('short STATE')
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const pieceSize = view.getUint32(0)
  const pieceCount = view.getUint32(4)
  if (payload.byteLength !== STATE_HEADER + Math.ceil(pieceCount / 8)) throw new PeerProtocolError('STATE bitfield does not match its piece count')
  // Copies (not `slice`, a view on a Buffer): the received chunk's memory is not ours to keep.
  return { pieceSize, pieceCount, flags: view.getUint8(8), have: new Uint8Array(payload.subarray(STATE_HEADER)) }
}

/** Entries as UPDATE payloads of at most the UPDATE limit each. */
export function encodeEntries (entries: Entry[]): Uint8Array[] {
  const out: Uint8Array[] = []
  const limit = MAX_PAYLOAD[MessageType.UPDATE]
  let at = 0
  while (at < entries.length) {
    let length = 0
    let end = at
    while (end < entries.length) {
      const n = ENTRY_LENGTH + (entries[end]!.kind === EntryKind.VOUCH ? HASH_LENGTH : 0)
      if (length + n > limit) break
      length += n
      end++
    }
    const payload = new Uint8Array(length)
    const view = new DataView(payload.buffer)
    let o = 0
    for (let i = at; i < end; i++) {
      const e = entries[i]!
      view.setUint8(o, e.kind)
      view.setUint32(o + 1, e.index)
      o += ENTRY_LENGTH
      if (e.kind === EntryKind.VOUCH) {
        if (e.hash?.byteLength !== HASH_LENGTH) throw new RangeError('a VOUCH entry needs a 32-byte hash')
        payload.set(e.hash, o)
        o += HASH_LENGTH
      }
    }
    out.push(payload)
    at = end
  }
  return out
}

const ENTRY_KINDS = new Set<number>(Object.values(EntryKind))

export function decodeEntries (payload: Uint8Array): Entry[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const entries: Entry[] = []
  let o = 0
  while (o < payload.byteLength) {
    if (o + ENTRY_LENGTH > payload.byteLength) throw new PeerProtocolError('UPDATE ends inside an entry')
    const kind = view.getUint8(o) as EntryKind
    if (!ENTRY_KINDS.has(kind)) throw new PeerProtocolError(`unknown UPDATE entry kind ${kind}`)
    const index = view.getUint32(o + 1)
    o += ENTRY_LENGTH
    if (kind === EntryKind.VOUCH) {
      if (o + HASH_LENGTH > payload.byteLength) throw new PeerProtocolError('UPDATE ends inside a hash')
      entries.push({ kind, index, hash: new Uint8Array(payload.subarray(o, o + HASH_LENGTH)) })
      o += HASH_LENGTH
    } else {
      entries.push({ kind, index })
    }
  }
  return entries
}

/** The header of a DATA frame carrying `length` bytes at `offset` of a piece of `total` bytes. */
export function encodeDataHeader (id: number, total: number, offset: number, length: number): Uint8Array {
  const header = new Uint8Array(HEADER_LENGTH + DATA_HEADER)
  const view = new DataView(header.buffer)
  view.setUint32(0, 5 + DATA_HEADER + length)
  view.setUint8(4, MessageType.DATA)
  view.setUint32(5, id)
  view.setUint32(9, total)
  view.setUint32(13, offset)
  return header
}

/** What streams deliver: a buffer, or a list of buffers (Uint8ArrayList is iterable over its parts). */
export type Chunk = Uint8Array | { byteLength: number, [Symbol.iterator]: () => Iterator<Uint8Array> }

/**
 * Where a frame's payload should go, asked once its header is in: a buffer of at least `length` bytes to copy the
 * payload into (the frame then carries a view of it), or undefined for the decoder's own buffering. For a DATA
 * frame, asked once its part header is in too: `length` is the part's, `total` and `offset` say where it goes, and
 * the buffer returned is the region for exactly this part.
 */
export type PayloadTarget = (type: MessageType, id: number, length: number, total?: number, offset?: number) => Uint8Array | undefined

/**
 * Incremental frame decoder. Checks each frame's size against its type's limit as soon as the 9-byte header is in,
 * before buffering any payload, and throws `PeerProtocolError` on a violation (the caller aborts the stream).
 * A payload goes into the buffer its `target` names, if any (a receiver's reusable piece buffer: no allocation per
 * piece); else a payload inside one received buffer is passed on without copying and one spread over buffers is
 * copied once into a new buffer. A DATA frame's 8-byte part header is read first and given to `target`, so its bytes
 * go straight to their place in the piece.
 */
export class FrameDecoder {
  readonly #onFrame: (frame: Frame) => void
  readonly #accept: (type: MessageType) => boolean
  readonly #target: PayloadTarget | undefined
  readonly #header = new Uint8Array(HEADER_LENGTH + DATA_HEADER)
  #headerFill = 0
  /** Header bytes of the frame being read: 9, or 17 for DATA once its type is known. */
  #headerLength = HEADER_LENGTH
  #type: MessageType = MessageType.CANCEL
  #id = 0
  #total: number | undefined
  #offset: number | undefined
  #payloadLength = 0
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
        const take = Math.min(this.#headerLength - this.#headerFill, buf.byteLength - offset)
        this.#header.set(buf.subarray(offset, offset + take), this.#headerFill)
        this.#headerFill += take
        offset += take
        if (this.#headerFill < this.#headerLength) return
        if (this.#headerLength === HEADER_LENGTH) {
          this.#startFrame()
          if (this.#type === MessageType.DATA) {
            this.#headerLength = HEADER_LENGTH + DATA_HEADER
            continue
          }
        } else {
          this.#startPart()
        }
        const payloadLength = this.#payloadLength
        if (payloadLength === 0) {
          this.#emit(EMPTY)
          continue
        }
        const into = this.#target?.(this.#type, this.#id, payloadLength, this.#total, this.#offset)
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

  /** Validates the header just read and notes the payload length. */
  #startFrame (): void {
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
    this.#payloadLength = length - 5
    this.#total = undefined
    this.#offset = undefined
    if (type === MessageType.DATA && this.#payloadLength < DATA_HEADER) throw new PeerProtocolError('DATA frame shorter than its part header')
  }

  /** A DATA frame's part header: the part must lie inside a piece of at most the PIECE limit. */
  #startPart (): void {
    const view = new DataView(this.#header.buffer)
    const total = view.getUint32(9)
    const offset = view.getUint32(13)
    const length = this.#payloadLength - DATA_HEADER
    if (total > MAX_PAYLOAD[MessageType.PIECE] || offset + length > total) {
      throw new PeerProtocolError(`DATA part ${offset}+${length} does not fit a piece of ${total} bytes`)
    }
    this.#total = total
    this.#offset = offset
    this.#payloadLength = length
  }

  #emit (payload: Uint8Array): void {
    const frame: Frame = { type: this.#type, id: this.#id, payload }
    if (this.#total !== undefined) { frame.total = this.#total; frame.offset = this.#offset }
    this.#payload = null
    this.#targeted = false
    this.#payloadFill = 0
    this.#headerFill = 0
    this.#headerLength = HEADER_LENGTH
    this.#onFrame(frame)
  }
}
