import { AbortedError, PeerRefusedError, PeerUnavailableError } from '@dopt/interface'
import { FrameDecoder, MessageType, RefuseReason, decodeRefuse, encodeFrame, isRequest } from './codec.js'
import { PeerProtocolError } from './errors.js'
import type { Frame } from './codec.js'
import type { Stream } from '@libp2p/interface'

const ANSWER_TO: Partial<Record<MessageType, MessageType>> = {
  [MessageType.MANIFEST_REQ]: MessageType.MANIFEST,
  [MessageType.HAVE_REQ]: MessageType.HAVE,
  [MessageType.PIECE_REQ]: MessageType.PIECE
}

const REASONS: Record<number, string> = {
  [RefuseReason.NOT_FOUND]: 'not-found',
  [RefuseReason.BUSY]: 'busy',
  [RefuseReason.BAD_REQUEST]: 'bad-request',
  [RefuseReason.TOO_LARGE]: 'too-large',
  [RefuseReason.INTERNAL]: 'internal'
}

/** A refusal, with the peer's reason. */
export interface Refusal {
  refused: true
  reason: string
  message: string
}

interface Pending {
  expect: MessageType
  into: Uint8Array | undefined
  resolve: (payload: Uint8Array | Refusal) => void
  reject: (err: Error) => void
}

export interface RequestOptions {
  signal?: AbortSignal
  timeout: number
  /** A buffer for the answer's payload (see FetchPieceOptions.into); the session lets go of it when the request settles. */
  into?: Uint8Array
}

/**
 * The asking side of the piece protocol with one peer: one long-lived stream, many requests in flight on it
 * (pipelining), answers matched by request id. When the stream ends for any reason, every open request fails at
 * once with PEER_UNAVAILABLE.
 */
export class PeerSession {
  readonly peerId: string
  readonly #stream: Stream
  readonly #pending = new Map<number, Pending>()
  readonly #onClosed: (session: PeerSession) => void
  readonly #decoder: FrameDecoder
  #nextId = 1
  #closedWith: Error | null = null

  constructor (peerId: string, stream: Stream, onClosed: (session: PeerSession) => void) {
    this.peerId = peerId
    this.#stream = stream
    this.#onClosed = onClosed
    const decoder = this.#decoder = new FrameDecoder(frame => { this.#onAnswer(frame) }, type => !isRequest(type), (type, id) => {
      const pending = this.#pending.get(id)
      return pending !== undefined && type === pending.expect ? pending.into : undefined
    })
    stream.addEventListener('message', evt => {
      try {
        decoder.push(evt.data)
      } catch (err) {
        this.#fail(err as Error)
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('close', evt => {
      this.#fail(evt.error ?? new Error('stream closed'))
    })
    stream.addEventListener('remoteCloseWrite', () => {
      this.#fail(new Error('peer closed the stream'))
      stream.close().catch(err => stream.abort(err))
    })
  }

  get closed (): boolean {
    return this.#closedWith !== null
  }

  get inFlight (): number {
    return this.#pending.size
  }

  /** Sends one request; resolves with the answer's payload or a refusal. */
  async request (type: MessageType, payload: Uint8Array, options: RequestOptions): Promise<Uint8Array | Refusal> {
    if (this.#closedWith !== null) throw this.#unavailable(this.#closedWith)
    if (options.signal?.aborted === true) throw new AbortedError('request aborted')
    const id = this.#nextId
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1
    const { promise, resolve, reject } = Promise.withResolvers<Uint8Array | Refusal>()
    const { signal, timeout } = options
    const cancel = (err: Error): void => {
      if (!this.#pending.delete(id)) return
      this.#decoder.detach(id) // the caller takes `into` back now
      cleanup()
      reject(err)
      this.#send(encodeFrame(MessageType.CANCEL, id))
    }
    const onAbort = (): void => { cancel(new AbortedError('request aborted')) }
    const timer = setTimeout(() => {
      cancel(new PeerUnavailableError(`peer ${this.peerId} did not answer within ${timeout} ms`, { context: 'general-transport' }))
    }, timeout)
    const cleanup = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.#pending.set(id, {
      expect: ANSWER_TO[type] ?? MessageType.REFUSE,
      into: options.into,
      resolve: value => { cleanup(); resolve(value) },
      reject: err => { cleanup(); reject(err) }
    })
    this.#send(encodeFrame(type, id, payload))
    return await promise
  }

  /** Ends the session: open requests fail with PEER_UNAVAILABLE. */
  close (err: Error = new Error('session closed')): void {
    this.#fail(err)
    if (this.#stream.status === 'open') this.#stream.abort(err)
  }

  #send (frame: Uint8Array): void {
    if (this.#closedWith !== null || this.#stream.writeStatus !== 'writable') return
    try {
      // Requests are tiny and bounded by the caller's in-flight limit, so they are not held back for drain.
      this.#stream.send(frame)
    } catch (err) {
      this.close(err as Error)
    }
  }

  #onAnswer (frame: Frame): void {
    const pending = this.#pending.get(frame.id)
    if (pending === undefined) return // cancelled or timed out: the late answer is dropped
    if (frame.type !== pending.expect && frame.type !== MessageType.REFUSE) {
      throw new PeerProtocolError(`answer of type 0x${frame.type.toString(16)} to a request expecting 0x${pending.expect.toString(16)}`)
    }
    this.#pending.delete(frame.id)
    if (frame.type === MessageType.REFUSE) {
      const { reason, message } = decodeRefuse(frame.payload)
      pending.resolve({ refused: true, reason: REASONS[reason] ?? `reason-${reason}`, message })
    } else {
      pending.resolve(frame.payload)
    }
  }

  #fail (cause: Error): void {
    if (this.#closedWith !== null) return
    this.#closedWith = cause
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    this.#decoder.detach()
    for (const p of pending) p.reject(this.#unavailable(cause))
    this.#onClosed(this)
  }

  #unavailable (cause: Error): PeerUnavailableError {
    return new PeerUnavailableError(`peer ${this.peerId} is unavailable: ${cause.message}`, { cause, context: 'general-transport' })
  }
}

export function isRefusal (value: Uint8Array | Refusal): value is Refusal {
  return !(value instanceof Uint8Array)
}

export function refusedError (peerId: string, what: string, refusal: Refusal): PeerRefusedError {
  return new PeerRefusedError(`peer ${peerId} refused ${what}: ${refusal.reason}${refusal.message === '' ? '' : ` (${refusal.message})`}`, {
    context: 'remote-application'
  })
}
