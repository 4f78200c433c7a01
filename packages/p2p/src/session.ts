import { AbortedError, PeerRefusedError, PeerUnavailableError } from '@dopt/interface'
import { FrameDecoder, MessageType, RefuseReason, decodeEntries, decodeRefuse, decodeState, encodeFrame, receivable } from './codec.js'
import { PeerProtocolError } from './errors.js'
import type { ContentStateFrame, Entry, Frame, ProtocolVersion } from './codec.js'
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

export interface RequestOptions {
  signal?: AbortSignal
  /**
   * Milliseconds: for a piece on 1.1.0, the longest the peer may stay silent (each part of the piece restarts the
   * clock: a piece streamed as its bytes arrive from the origin may take long but never goes quiet); for anything
   * else, the longest the answer may take.
   */
  timeout: number
  /** A buffer for the answer's payload (see FetchPieceOptions.into); the session lets go of it when the request settles. */
  into?: Uint8Array
}

/** What a subscriber is told after the state: changes, and the end (an error, or a refusal when the sender stops). */
export interface SubscriptionHandlers {
  onUpdate(entries: Entry[]): void
  onEnd(reason: Error | Refusal): void
}

/** A subscription's start, and the way to end it from this side. */
export interface SubscriptionStart {
  state: ContentStateFrame
  cancel(): void
}

interface Pending {
  kind: 'answer' | 'piece' | 'subscription'
  /** The answer type expected (besides REFUSE); DATA for 1.1.0 pieces, STATE then UPDATE for subscriptions. */
  expect: MessageType
  into: Uint8Array | undefined
  /** Piece assembly (1.1.0). */
  total: number
  received: number
  buffer: Uint8Array | null
  /** Restarts the inactivity clock of a piece request. */
  touch(): void
  resolve(payload: Uint8Array | Refusal): void
  reject(err: Error): void
  /** Subscriptions, once started. */
  handlers?: SubscriptionHandlers
  started: boolean
  onState?(state: ContentStateFrame): void
}

/**
 * The asking side of the piece protocol with one peer: one long-lived stream, many requests in flight on it
 * (pipelining), answers matched by request id. When the stream ends for any reason, every open request fails at
 * once with PEER_UNAVAILABLE (and every subscription ends).
 */
export class PeerSession {
  readonly peerId: string
  /** The protocol version multistream-select settled on for this stream. */
  readonly version: ProtocolVersion
  readonly #stream: Stream
  readonly #pending = new Map<number, Pending>()
  readonly #onClosed: (session: PeerSession) => void
  readonly #decoder: FrameDecoder
  #nextId = 1
  #closedWith: Error | null = null

  constructor (peerId: string, stream: Stream, onClosed: (session: PeerSession) => void, version: ProtocolVersion = '1.0.0') {
    this.peerId = peerId
    this.version = version
    this.#stream = stream
    this.#onClosed = onClosed
    const decoder = this.#decoder = new FrameDecoder(frame => { this.#onAnswer(frame) }, receivable('client', version), (type, id, length, total, offset) => {
      const pending = this.#pending.get(id)
      if (pending === undefined) return undefined
      if (type === MessageType.DATA) return this.#partTarget(pending, length, total ?? 0, offset ?? 0)
      return type === pending.expect ? pending.into : undefined
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
    if (type === MessageType.PIECE_REQ && this.version === '1.1.0') return await this.#open('piece', type, payload, options)
    return await this.#open('answer', type, payload, options)
  }

  /**
   * Subscribes to the live state of some content (1.1.0 only): resolves with its state, or null when the peer does
   * not hold it; then `handlers` hear its updates until either side ends it.
   */
  async subscribe (payload: Uint8Array, handlers: SubscriptionHandlers, options: RequestOptions): Promise<SubscriptionStart | null> {
    if (this.version !== '1.1.0') throw new PeerProtocolError(`peer ${this.peerId} speaks ${this.version}: no subscriptions`)
    let state: ContentStateFrame | null = null
    let id = 0
    // Resolves with the STATE's payload (kept, decoded, by onState) or a refusal.
    await this.#open('subscription', MessageType.SUBSCRIBE, payload, options, pending => {
      pending.handlers = handlers
      pending.onState = s => { state = s }
    }, opened => { id = opened })
    if (state === null) return null
    return {
      state,
      cancel: () => {
        if (!this.#pending.delete(id)) return
        this.#send(encodeFrame(MessageType.CANCEL, id))
      }
    }
  }

  async #open (kind: Pending['kind'], type: MessageType, payload: Uint8Array, options: RequestOptions, setup?: (p: Pending) => void, opened?: (id: number) => void): Promise<Uint8Array | Refusal> {
    if (this.#closedWith !== null) throw this.#unavailable(this.#closedWith)
    if (options.signal?.aborted === true) throw new AbortedError('request aborted')
    const id = this.#nextId
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1
    opened?.(id)
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
    const onTimeout = (): void => {
      cancel(new PeerUnavailableError(`peer ${this.peerId} did not answer within ${timeout} ms`, { context: 'general-transport' }))
    }
    let timer = setTimeout(onTimeout, timeout)
    const cleanup = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const pending: Pending = {
      kind,
      expect: kind === 'piece' ? MessageType.DATA : kind === 'subscription' ? MessageType.STATE : ANSWER_TO[type] ?? MessageType.REFUSE,
      into: options.into,
      total: 0,
      received: 0,
      buffer: null,
      started: false,
      touch: () => {
        clearTimeout(timer)
        timer = setTimeout(onTimeout, timeout)
      },
      resolve: value => { cleanup(); resolve(value) },
      reject: err => { cleanup(); reject(err) }
    }
    setup?.(pending)
    this.#pending.set(id, pending)
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

  /** Where a part of a 1.1.0 piece goes: parts come in order, all of one piece of one length. */
  #partTarget (pending: Pending, length: number, total: number, offset: number): Uint8Array {
    if (pending.kind !== 'piece') throw new PeerProtocolError('DATA for a request that is not a piece')
    if (pending.buffer === null) {
      if (offset !== 0) throw new PeerProtocolError(`a piece's first DATA part starts at ${offset}`)
      pending.total = total
      pending.buffer = pending.into !== undefined && pending.into.byteLength >= total ? pending.into : new Uint8Array(total)
    } else if (total !== pending.total || offset !== pending.received) {
      throw new PeerProtocolError(`DATA part ${offset}+${length} of ${total} does not follow ${pending.received} of ${pending.total}`)
    }
    return pending.buffer.subarray(offset, offset + length)
  }

  #onAnswer (frame: Frame): void {
    const pending = this.#pending.get(frame.id)
    if (pending === undefined) return // cancelled or timed out: the late answer is dropped
    if (frame.type === MessageType.REFUSE) {
      // Decoded before the request is settled: a malformed refusal fails the session, and this request with it.
      const { reason, message } = decodeRefuse(frame.payload)
      this.#pending.delete(frame.id)
      const refusal: Refusal = { refused: true, reason: REASONS[reason] ?? `reason-${reason}`, message }
      if (pending.kind === 'subscription' && pending.started) pending.handlers?.onEnd(refusal)
      else pending.resolve(refusal)
      return
    }
    if (pending.kind === 'subscription') {
      if (!pending.started) {
        if (frame.type !== MessageType.STATE) throw new PeerProtocolError(`answer of type 0x${frame.type.toString(16)} before a subscription's STATE`)
        // Decoded before it counts as started: a malformed STATE must fail the subscribe call, not end a subscription
        // nobody has yet (which left the call waiting forever: its timeout finds the request gone).
        const state = decodeState(frame.payload)
        pending.started = true
        pending.onState?.(state)
        pending.resolve(frame.payload)
        return
      }
      if (frame.type !== MessageType.UPDATE) throw new PeerProtocolError(`answer of type 0x${frame.type.toString(16)} in a subscription`)
      pending.handlers?.onUpdate(decodeEntries(frame.payload))
      return
    }
    if (frame.type !== pending.expect) {
      throw new PeerProtocolError(`answer of type 0x${frame.type.toString(16)} to a request expecting 0x${pending.expect.toString(16)}`)
    }
    if (pending.kind === 'piece') {
      pending.received += frame.payload.byteLength
      pending.touch()
      if (pending.received < pending.total) return
      this.#pending.delete(frame.id)
      pending.resolve(pending.buffer!.subarray(0, pending.total))
      return
    }
    this.#pending.delete(frame.id)
    pending.resolve(frame.payload)
  }

  #fail (cause: Error): void {
    if (this.#closedWith !== null) return
    this.#closedWith = cause
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    this.#decoder.detach()
    const err = this.#unavailable(cause)
    for (const p of pending) {
      if (p.kind === 'subscription' && p.started) p.handlers?.onEnd(err)
      else p.reject(err)
    }
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
