import {
  FrameDecoder, MAX_PAYLOAD, MessageType, RefuseReason, decodeKey, decodePieceRequest, encodeFrame, encodeHeader,
  encodeRefuse, isRequest
} from './codec.js'
import { PeerProtocolError } from './errors.js'
import { RateLimiter, Semaphore } from './limits.js'
import type { Frame } from './codec.js'
import type { ContentProvider } from './types.js'
import type { Stream } from '@libp2p/interface'

/** The piece protocol's id for a group: nodes of different groups do not share a protocol, so never talk. */
export function pieceProtocol (groupId: string): string {
  return `/dopt/${groupId}/pieces/1.0.0`
}

export interface PieceServerInit {
  /** Pieces served at once over all streams; the rest wait in FIFO order. */
  maxConcurrentUploads: number
  /** Upload limit in bytes per second, 0 for none. */
  uploadRate: number
  /** Requests one stream may have open at once; more are refused with BUSY. @default 256 */
  maxRequestsPerStream?: number
}

/**
 * The serving side of the piece protocol: answers requests from the ContentProvider and nothing else, a limited
 * number of pieces at once and at a limited rate.
 */
export class PieceServer {
  readonly #content: ContentProvider
  readonly #uploads: Semaphore
  readonly #rate: RateLimiter
  readonly #maxRequests: number
  readonly #streams = new Set<Stream>()
  /** Piece bytes handed to streams so far, and how many pieces. */
  bytesUploaded = 0
  piecesUploaded = 0

  constructor (content: ContentProvider, init: PieceServerInit) {
    this.#content = content
    this.#uploads = new Semaphore(init.maxConcurrentUploads)
    this.#rate = new RateLimiter(init.uploadRate)
    this.#maxRequests = init.maxRequestsPerStream ?? 256
  }

  /** The libp2p stream handler. */
  readonly handle = (stream: Stream): void => {
    this.#streams.add(stream)
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
        this.#write(stream, [encodeFrame(MessageType.REFUSE, frame.id, encodeRefuse(RefuseReason.BUSY, 'too many requests'))])
        return
      }
      // Decode now, so a malformed request aborts the stream from the message handler.
      const request = frame.type === MessageType.PIECE_REQ
        ? decodePieceRequest(frame.payload)
        : { manifestCid: decodeKey(frame.payload), index: 0 }
      const controller = new AbortController()
      open.set(frame.id, controller)
      this.#serve(stream, frame.type, frame.id, request.manifestCid, request.index, controller.signal)
        .catch(err => { stream.log.error('serving request %d failed - %e', frame.id, err) })
        .finally(() => { open.delete(frame.id); maybeClose() })
    }

    const decoder = new FrameDecoder(onRequest, isRequest)
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

  async #serve (stream: Stream, type: MessageType, id: number, key: string, index: number, signal: AbortSignal): Promise<void> {
    const refuse = async (reason: RefuseReason, message: string): Promise<void> => {
      await this.#write(stream, [encodeFrame(MessageType.REFUSE, id, encodeRefuse(reason, message))])
    }
    let answerType: MessageType
    let bytes: Uint8Array | null
    let slot = false
    try {
      if (type === MessageType.PIECE_REQ) {
        await this.#uploads.acquire(signal)
        slot = true
        answerType = MessageType.PIECE
        bytes = await this.#content.readPiece(key, index)
      } else if (type === MessageType.HAVE_REQ) {
        answerType = MessageType.HAVE
        bytes = await this.#content.getHave(key)
      } else {
        answerType = MessageType.MANIFEST
        bytes = await this.#content.getManifest(key)
      }
      if (signal.aborted) return
      if (bytes === null) return await refuse(RefuseReason.NOT_FOUND, 'not held')
      if (bytes.byteLength > MAX_PAYLOAD[answerType]) return await refuse(RefuseReason.TOO_LARGE, 'answer over the size limit')
      if (answerType === MessageType.PIECE) await this.#rate.take(bytes.byteLength, signal)
      // Header and payload go out in two synchronous sends, so frames from concurrent answers never interleave.
      if (await this.#write(stream, [encodeHeader(answerType, id, bytes.byteLength), bytes]) && answerType === MessageType.PIECE) {
        this.bytesUploaded += bytes.byteLength
        this.piecesUploaded++
      }
    } catch (err) {
      if (signal.aborted) return
      await refuse(RefuseReason.INTERNAL, 'content provider failed')
      throw err
    } finally {
      if (slot) this.#uploads.release()
    }
  }

  /** Sends the parts of one frame back to back, after waiting for the stream to drain (backpressure); false if it could not. */
  async #write (stream: Stream, parts: Uint8Array[]): Promise<boolean> {
    while (stream.writableNeedsDrain) {
      try {
        await waitForDrain(stream)
      } catch {
        return false // the stream closed: nobody to answer
      }
    }
    if (stream.writeStatus !== 'writable') return false
    for (const part of parts) stream.send(part)
    return true
  }
}

/**
 * Resolves at the stream's next 'drain' event, rejects when it closes first. Not `stream.onDrain()`: in
 * @libp2p/utils 7.4 its promise is never reset after the first drain, so later calls resolve at once while
 * `writableNeedsDrain` is still true — a busy loop with no backpressure at all.
 */
export async function waitForDrain (stream: Stream): Promise<void> {
  if (!stream.writableNeedsDrain) return
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new Error('stream closed')) }
    const cleanup = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}
