import {
  EntryKind, FrameDecoder, MAX_PAYLOAD, MessageType, RefuseReason, decodeKey, decodePieceRequest, encodeDataHeader, encodeEntries,
  encodeFrame, encodeHeader, encodeRefuse, encodeState, receivable
} from './codec.js'
import { PeerProtocolError } from './errors.js'
import { FairSlots, RateLimiter } from './limits.js'
import type { Entry, Frame, ProtocolVersion } from './codec.js'
import type { ContentProvider, PieceData, StreamingPiece } from './types.js'
import type { Connection, Stream } from '@libp2p/interface'

/**
 * Milliseconds a subscription's changes wait to go out together (each frame costs every peer it goes to): HAVE, the
 * common one (every piece a node passes on, to every subscriber), waits longest; claims, vouches and losses, which
 * peers act on at once, hardly at all.
 */
const HAVE_DELAY = 100
const URGENT_DELAY = 2

export const PROTOCOL_VERSIONS: readonly ProtocolVersion[] = ['1.1.0', '1.0.0']

/** The piece protocol's id for a group: nodes of different groups do not share a protocol, so never talk. */
export function pieceProtocol (groupId: string, version: ProtocolVersion = '1.0.0'): string {
  return `/dopt/${groupId}/pieces/${version}`
}

/** The version in a piece protocol id. */
export function versionOf (protocol: string): ProtocolVersion {
  return protocol.endsWith('/1.1.0') ? '1.1.0' : '1.0.0'
}

export interface PieceServerInit {
  /** Pieces served at once over all streams; the rest wait, peers taking turns. */
  maxConcurrentUploads: number
  /** Pieces served at once to one peer. @default 4 */
  maxUploadsPerPeer?: number
  /** Upload limit in bytes per second, 0 for none. */
  uploadRate: number
  /** Requests one stream may have open at once (subscriptions included); more are refused with BUSY. @default 256 */
  maxRequestsPerStream?: number
  /** Milliseconds a stream may take no bytes before it is reset. @default 10000 */
  writeTimeout?: number
  /** Bytes of a piece per DATA frame (1.1.0), so answers and updates on one stream take turns. @default 256 KiB */
  partSize?: number
  /** Called when a peer subscribes to content (1.1.0). */
  onSubscribe?(peerId: string, key: string): void
}

/**
 * The serving side of the piece protocol: answers requests from the ContentProvider and nothing else, a limited
 * number of pieces at once (and per peer) and at a limited rate. On 1.1.0 a piece goes out as DATA parts, as fast as
 * its bytes are there: a piece still arriving from the origin is served while it arrives.
 */
export class PieceServer {
  readonly #content: ContentProvider
  readonly #uploads: FairSlots
  readonly #rate: RateLimiter
  readonly #maxRequests: number
  readonly #writeTimeout: number
  readonly #partSize: number
  readonly #onSubscribe: ((peerId: string, key: string) => void) | undefined
  readonly #streams = new Set<Stream>()
  /** Piece bytes handed to streams so far, and how many pieces. */
  bytesUploaded = 0
  piecesUploaded = 0

  /** Changes the upload limit of a running server (0: none). */
  setUploadRate (bytesPerSecond: number): void {
    this.#rate.rate = bytesPerSecond
  }

  constructor (content: ContentProvider, init: PieceServerInit) {
    this.#content = content
    this.#uploads = new FairSlots(init.maxConcurrentUploads, init.maxUploadsPerPeer ?? 4)
    this.#rate = new RateLimiter(init.uploadRate)
    this.#maxRequests = init.maxRequestsPerStream ?? 256
    this.#writeTimeout = init.writeTimeout ?? 10_000
    this.#partSize = init.partSize ?? 256 * 1024
    this.#onSubscribe = init.onSubscribe
  }

  /** The libp2p stream handler (for every version: the stream's protocol says which). */
  readonly handle = (stream: Stream, connection?: Connection): void => {
    this.#streams.add(stream)
    const version = versionOf(stream.protocol ?? '')
    const peerId = connection?.remotePeer.toString() ?? ''
    const open = new Map<number, AbortController>()
    let ending = false
    const maybeClose = (): void => {
      if (ending && open.size === 0 && stream.status === 'open') stream.close().catch(err => stream.abort(err))
    }

    const onRequest = (frame: Frame): void => {
      if (frame.type === MessageType.CANCEL) {
        open.get(frame.id)?.abort()
        return
      }
      if (open.has(frame.id)) throw new PeerProtocolError(`request id ${frame.id} reused while open`)
      if (open.size >= this.#maxRequests) {
        void this.#write(stream, [encodeFrame(MessageType.REFUSE, frame.id, encodeRefuse(RefuseReason.BUSY, 'too many requests'))])
        return
      }
      // Decode now, so a malformed request aborts the stream from the message handler.
      const request = frame.type === MessageType.PIECE_REQ
        ? decodePieceRequest(frame.payload)
        : { manifestCid: decodeKey(frame.payload), index: 0 }
      const controller = new AbortController()
      open.set(frame.id, controller)
      const serving = frame.type === MessageType.SUBSCRIBE
        ? this.#subscription(stream, peerId, frame.id, request.manifestCid, controller.signal)
        : this.#serve(stream, version, peerId, frame.type, frame.id, request.manifestCid, request.index, controller.signal)
      serving
        .catch(err => { stream.log.error('serving request %d failed - %e', frame.id, err) })
        .finally(() => { open.delete(frame.id); maybeClose() })
    }

    const decoder = new FrameDecoder(onRequest, receivable('server', version))
    stream.addEventListener('message', evt => {
      try {
        decoder.push(evt.data)
      } catch (err) {
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('remoteCloseWrite', () => { ending = true; maybeClose() })
    stream.addEventListener('close', () => {
      this.#streams.delete(stream)
      for (const controller of open.values()) controller.abort()
    })
  }

  /** Aborts every stream being served. */
  stop (): void {
    for (const stream of this.#streams) stream.abort(new Error('node stopping'))
    this.#streams.clear()
  }

  async #serve (stream: Stream, version: ProtocolVersion, peerId: string, type: MessageType, id: number, key: string, index: number, signal: AbortSignal): Promise<void> {
    const refuse = async (reason: RefuseReason, message: string): Promise<void> => {
      await this.#write(stream, [encodeFrame(MessageType.REFUSE, id, encodeRefuse(reason, message))])
    }
    let slot = false
    try {
      if (type === MessageType.PIECE_REQ) {
        await this.#uploads.acquire(peerId, signal)
        slot = true
        const data = await this.#content.readPiece(key, index, peerId)
        if (signal.aborted) return
        if (data === null) return await refuse(RefuseReason.NOT_FOUND, 'not held')
        if (data.length > MAX_PAYLOAD[MessageType.PIECE]) return await refuse(RefuseReason.TOO_LARGE, 'answer over the size limit')
        const sent = version === '1.1.0' ? await this.#sendParts(stream, id, data, signal) : await this.#sendWhole(stream, id, data, signal)
        if (sent) {
          this.bytesUploaded += data.length
          this.piecesUploaded++
          this.#content.served?.(key, index, data.length, peerId)
        }
        return
      }
      const answerType = type === MessageType.HAVE_REQ ? MessageType.HAVE : MessageType.MANIFEST
      const bytes = type === MessageType.HAVE_REQ ? await this.#content.getHave(key, peerId) : await this.#content.getManifest(key, peerId)
      if (signal.aborted) return
      if (bytes === null) return await refuse(RefuseReason.NOT_FOUND, 'not held')
      if (bytes.byteLength > MAX_PAYLOAD[answerType]) return await refuse(RefuseReason.TOO_LARGE, 'answer over the size limit')
      // Header and payload go out in two synchronous sends, so frames from concurrent answers never interleave.
      await this.#write(stream, [encodeHeader(answerType, id, bytes.byteLength), bytes])
    } catch (err) {
      if (signal.aborted) return
      await refuse(RefuseReason.INTERNAL, 'content provider failed')
      // A piece that will not complete (its download failed) is the content's business, not a fault here.
      if (!(err instanceof PieceUnavailableError)) throw err
    } finally {
      if (slot) this.#uploads.release(peerId)
    }
  }

  /** 1.0.0: the whole piece in one PIECE frame (a piece still arriving is waited for); false if it did not go. */
  async #sendWhole (stream: Stream, id: number, data: PieceData, signal: AbortSignal): Promise<boolean> {
    const bytes = data instanceof Uint8Array ? data : await readWhole(data, signal)
    await this.#rate.take(bytes.byteLength, signal)
    return await this.#write(stream, [encodeHeader(MessageType.PIECE, id, bytes.byteLength), bytes])
  }

  /** 1.1.0: DATA parts of at most `partSize`, each sent as soon as its bytes are there and the rate allows. */
  async #sendParts (stream: Stream, id: number, data: PieceData, signal: AbortSignal): Promise<boolean> {
    const total = data.length
    let offset = 0
    do {
      // A piece still arriving goes out in parts of a useful size, not in every small chunk the origin sends: each
      // part costs a frame (and its encryption and handling) at every peer it goes to.
      const available = data instanceof Uint8Array ? data.subarray(offset) : await data.read(offset, signal, this.#partSize)
      const part = available.subarray(0, Math.min(this.#partSize, total - offset))
      await this.#rate.take(part.byteLength, signal)
      if (signal.aborted || !(await this.#write(stream, [encodeDataHeader(id, total, offset, part.byteLength), part]))) return false
      offset += part.byteLength
    } while (offset < total)
    return true
  }

  /** 1.1.0: STATE, the entries that go with it, then UPDATEs as the content changes, until CANCEL or the end. */
  async #subscription (stream: Stream, peerId: string, id: number, key: string, signal: AbortSignal): Promise<void> {
    const { promise: ended, resolve: end } = Promise.withResolvers<'cancelled' | 'gone'>()
    signal.addEventListener('abort', () => { end('cancelled') }, { once: true })
    let queued: Entry[] = []
    let flushing = false
    let started = false
    const flush = async (): Promise<void> => {
      if (flushing || !started) return
      flushing = true
      try {
        while (queued.length > 0 && !signal.aborted) {
          const entries = queued
          queued = []
          for (const payload of encodeEntries(entries)) {
            if (!(await this.#write(stream, [encodeFrame(MessageType.UPDATE, id, payload)]))) return
          }
        }
      } finally {
        flushing = false
      }
    }
    let timer: ReturnType<typeof setTimeout> | null = null
    let due = Infinity
    const onEntries = (entries: Entry[]): void => {
      if (signal.aborted) return
      queued.push(...entries)
      // Changes of a short while go out together: one frame per subscriber, not one per piece event.
      const at = Date.now() + (entries.every(e => e.kind === EntryKind.HAVE) ? HAVE_DELAY : URGENT_DELAY)
      if (at >= due) return
      if (timer !== null) clearTimeout(timer)
      due = at
      timer = setTimeout(() => { timer = null; due = Infinity; void flush() }, at - Date.now())
    }
    signal.addEventListener('abort', () => { if (timer !== null) clearTimeout(timer) }, { once: true })
    const subscription = await this.#content.subscribe?.(key, peerId, onEntries, () => { end('gone') }) ?? null
    if (subscription === null || signal.aborted) {
      subscription?.close()
      if (!signal.aborted) await this.#write(stream, [encodeFrame(MessageType.REFUSE, id, encodeRefuse(RefuseReason.NOT_FOUND, 'not held'))])
      return
    }
    try {
      this.#onSubscribe?.(peerId, key)
      const state = encodeState({ pieceSize: subscription.pieceSize, pieceCount: subscription.pieceCount, flags: subscription.complete ? 1 : 0, have: subscription.have })
      if (!(await this.#write(stream, [encodeFrame(MessageType.STATE, id, state)]))) return
      started = true
      queued = [...subscription.entries, ...queued]
      await flush()
      if (await ended === 'gone' && !signal.aborted) {
        await flush()
        await this.#write(stream, [encodeFrame(MessageType.REFUSE, id, encodeRefuse(RefuseReason.NOT_FOUND, 'no longer held'))])
      }
    } finally {
      subscription.close()
    }
  }

  /**
   * Sends the parts of one frame back to back, after waiting for the stream to drain (backpressure); false if it
   * could not. A stream that takes no bytes for `writeTimeout` is reset: a peer that stops reading must not hold
   * upload slots (nor this node's memory) for good.
   */
  async #write (stream: Stream, parts: Uint8Array[]): Promise<boolean> {
    while (stream.writableNeedsDrain) {
      try {
        await waitForDrain(stream, this.#writeTimeout)
      } catch (err) {
        if (err instanceof WriteTimeoutError) stream.abort(err)
        return false // the stream closed (or was reset): nobody to answer
      }
    }
    if (stream.writeStatus !== 'writable') return false
    for (const part of parts) stream.send(part)
    return true
  }
}

/** Thrown by a StreamingPiece whose bytes will not all arrive; the asker gets REFUSE and looks elsewhere. */
export class PieceUnavailableError extends Error {
  override readonly name = 'PieceUnavailableError'
}

class WriteTimeoutError extends PeerProtocolError {}

async function readWhole (piece: StreamingPiece, signal: AbortSignal): Promise<Uint8Array> {
  const whole = new Uint8Array(piece.length)
  let offset = 0
  while (offset < piece.length) {
    const part = await piece.read(offset, signal)
    whole.set(part.subarray(0, piece.length - offset), offset)
    offset += part.byteLength
  }
  return whole
}

/**
 * Resolves at the stream's next 'drain' event, rejects when it closes first or when `timeout` ms pass without one.
 * Not `stream.onDrain()`: in @libp2p/utils 7.4 its promise is never reset after the first drain, so later calls
 * resolve at once while `writableNeedsDrain` is still true — a busy loop with no backpressure at all.
 */
export async function waitForDrain (stream: Stream, timeout = Infinity): Promise<void> {
  if (!stream.writableNeedsDrain) return
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new Error('stream closed')) }
    const timer = Number.isFinite(timeout)
      ? setTimeout(() => { cleanup(); reject(new WriteTimeoutError(`the peer took no bytes for ${timeout} ms`)) }, timeout)
      : undefined
    const cleanup = (): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}
