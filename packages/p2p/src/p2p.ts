import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { AbortedError, InvalidArgumentError, NodeStoppedError, PeerUnavailableError } from '@dopt/interface'
import { MessageType, encodeKey, encodePieceRequest } from './codec.js'
import { Discovery, parseMultiaddr, parseStaticPeers } from './discovery.js'
import { loadOrCreateKey } from './identity.js'
import { checkGroupId, createNode, mdnsServiceTag, stopNode } from './node.js'
import { LanDiscovery } from './lan-discovery.js'
import { PROTOCOL_VERSIONS, PieceServer, pieceProtocol, versionOf } from './piece-protocol.js'
import { PeerSession, isRefusal, refusedError } from './session.js'
import type { DoptLibp2p } from './node.js'
import type { Refusal } from './session.js'
import type {
  ContentProvider, FetchOptions, FetchPieceOptions, FindProvidersOptions, P2P, P2PEvents, P2PInit, PeerInfo, PeerSubscription, SubscribeOptions,
  UploadStats
} from './types.js'
import type { AbortOptions } from '@dopt/interface'
import type { PeerId } from '@libp2p/interface'

export interface P2PComponents {
  content: ContentProvider
}

const DEFAULT_TIMEOUT = 30_000
const DEFAULT_FIND_TIMEOUT = 10_000

/** Starts a libp2p node with dopt's piece protocol, serving what `components.content` holds. */
export async function createP2P (init: P2PInit, components: P2PComponents): Promise<P2P> {
  const groupId = checkGroupId(init.groupId ?? 'default')
  // Everything the user typed is checked before anything starts: a node that fails later must not linger.
  const staticPeers = parseStaticPeers(init.peers ?? [])
  const listen = init.listen ?? ['/ip4/127.0.0.1/tcp/0']
  for (const text of listen) parseMultiaddr(text, 'listen')
  const privateKey = await loadOrCreateKey(init.dataDir)
  const node = await createNode({
    privateKey,
    listen,
    groupId,
    ...(init.psk !== undefined ? { psk: init.psk } : {}),
    dht: init.dht ?? true,
    ...(init.keepAlive !== undefined ? { keepAlive: init.keepAlive } : {}),
    ...(init.logger !== undefined ? { logger: init.logger } : {})
  })
  try {
    const discovery = new Discovery(node, staticPeers)
    const p2p = new DoptP2P(node, discovery, components.content, init, groupId)
    await p2p.start()
    return p2p
  } catch (err) {
    await stopNode(node).catch(() => {})
    throw err
  }
}

class DoptP2P implements P2P {
  readonly #node: DoptLibp2p
  /** The piece protocol's ids this node speaks, newest first. */
  readonly #protocols: string[]
  readonly #server: PieceServer
  readonly #discovery: Discovery
  readonly #lan: LanDiscovery | null
  readonly #sessions = new Map<string, Promise<PeerSession>>()
  readonly #provided = new Set<string>()
  readonly #events = new EventTarget()
  #stopped = false

  constructor (node: DoptLibp2p, discovery: Discovery, content: ContentProvider, init: P2PInit, groupId: string) {
    this.#node = node
    const versions = init.protocolVersions ?? PROTOCOL_VERSIONS
    if (versions.length === 0 || versions.some(v => !PROTOCOL_VERSIONS.includes(v))) {
      throw new InvalidArgumentError(`protocolVersions must name some of ${PROTOCOL_VERSIONS.join(', ')}`)
    }
    this.#protocols = versions.map(v => pieceProtocol(groupId, v))
    this.#server = new PieceServer(content, {
      maxConcurrentUploads: init.maxConcurrentUploads ?? 16,
      maxUploadsPerPeer: init.maxUploadsPerPeer ?? 4,
      writeTimeout: init.writeTimeout ?? 10_000,
      uploadRate: init.uploadRate ?? 0,
      onSubscribe: (peerId, key) => { this.#events.dispatchEvent(new CustomEvent('subscribe', { detail: { peerId, key } })) }
    })
    this.#discovery = discovery
    const mdns = init.mdns ?? true
    this.#lan = mdns
      ? new LanDiscovery({
        serviceTag: mdnsServiceTag(groupId),
        interval: 5_000,
        ...(init.mdnsInterface !== undefined ? { interface: init.mdnsInterface } : {}),
        addresses: () => node.getMultiaddrs(),
        onPeer: peer => { discovery.onMdnsPeer(peer) }
      })
      : null
  }

  async start (): Promise<void> {
    await this.#node.handle(this.#protocols, this.#server.handle, { maxInboundStreams: 64, maxOutboundStreams: 64 })
    this.#node.addEventListener('peer:connect', this.#onConnect)
    this.#node.addEventListener('peer:disconnect', this.#onDisconnect)
    await this.#node.start()
    this.#discovery.start()
    this.#lan?.start()
  }

  get peerId (): string {
    return this.#node.peerId.toString()
  }

  getMultiaddrs (): string[] {
    return this.#node.getMultiaddrs().map(String)
  }

  setUploadRate (bytesPerSecond: number): void {
    this.#server.setUploadRate(bytesPerSecond)
  }

  getStats (): UploadStats {
    return { bytesUploaded: this.#server.bytesUploaded, piecesUploaded: this.#server.piecesUploaded }
  }

  getPeers (): PeerInfo[] {
    return this.#node.getPeers().map(id => this.#peerInfo(id))
  }

  connectedPeers (): string[] {
    return this.#node.getPeers().map(id => id.toString())
  }

  knownPeers (): string[] {
    return [...new Set([...this.connectedPeers(), ...this.#discovery.staticPeers])]
  }

  async provide (key: string, options: AbortOptions = {}): Promise<void> {
    this.#checkRunning()
    const cid = parseCid(key)
    this.#provided.add(key)
    const dht = this.#node.services.dht
    if (dht === undefined) return
    try {
      await this.#node.contentRouting.provide(cid, options.signal !== undefined ? { signal: options.signal } : {})
    } catch (err) {
      if (options.signal?.aborted === true) throw new AbortedError('provide aborted', { cause: err })
      // No DHT peers yet (a lone node, a LAN without DHT peers): LAN answers still work, the next provide may reach.
    }
  }

  /** Keys this node announced with `provide`. */
  get provided (): ReadonlySet<string> {
    return this.#provided
  }

  async * findProviders (key: string, options: FindProvidersOptions = {}): AsyncIterable<string> {
    this.#checkRunning()
    const cid = parseCid(key)
    const controller = new AbortController()
    const timer = setTimeout(() => { controller.abort() }, options.timeout ?? DEFAULT_FIND_TIMEOUT)
    const onAbort = (): void => { controller.abort() }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const signal = controller.signal

    const seen = new Set<string>([this.peerId])
    const found: string[] = []
    let wake: (() => void) | null = null
    const add = (peerId: string): void => {
      if (seen.has(peerId)) return
      seen.add(peerId)
      found.push(peerId)
      wake?.()
    }

    const fromDht = async (): Promise<void> => {
      if (this.#node.services.dht === undefined) return
      try {
        for await (const provider of this.#node.contentRouting.findProviders(cid, { signal })) {
          const id = provider.id.toString()
          if (provider.multiaddrs.length > 0) await this.#node.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs })
          this.#discovery.noteSource(id, 'dht')
          add(id)
        }
      } catch { /* no DHT peers, or the search timed out: the LAN answers below still count */ }
    }
    const ask = async (peerId: string): Promise<void> => {
      const opts = { signal, timeout: options.timeout ?? DEFAULT_FIND_TIMEOUT }
      try {
        if (await this.fetchManifest(peerId, key, opts) !== null) { add(peerId); return }
        if (await this.fetchHave(peerId, key, opts) !== null) add(peerId)
      } catch { /* not a dopt peer of this group, or gone */ }
    }
    const fromPeers = async (): Promise<void> => {
      // Static peers too, even while their dial is still under way: asking dials them (a `--peer` given to a fresh
      // node is usually not connected yet when its first job looks for providers).
      const targets = new Set([...this.#node.getPeers().map(id => id.toString()), ...this.#discovery.staticPeers])
      await Promise.all([...targets].map(async id => { await ask(id) }))
    }

    let done = false
    const all = Promise.all([fromDht(), options.askConnected === false ? undefined : fromPeers()]).finally(() => { done = true; wake?.() })
    const aborted = new Promise<void>(resolve => { signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    try {
      while (true) {
        const next = found.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        if (done || signal.aborted) break
        await Promise.race([new Promise<void>(resolve => { wake = resolve }), aborted])
        wake = null
      }
      if (options.signal?.aborted === true) throw new AbortedError('findProviders aborted')
    } finally {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      controller.abort()
      await all.catch(() => {})
    }
  }

  async fetchManifest (peerId: string, key: string, options: FetchOptions = {}): Promise<Uint8Array | null> {
    const answer = await this.#request(peerId, MessageType.MANIFEST_REQ, keyBytes(key), options)
    return isRefusal(answer) ? null : answer
  }

  async fetchHave (peerId: string, manifestCid: string, options: FetchOptions = {}): Promise<Uint8Array | null> {
    const answer = await this.#request(peerId, MessageType.HAVE_REQ, keyBytes(manifestCid), options)
    return isRefusal(answer) ? null : answer
  }

  async fetchPiece (peerId: string, manifestCid: string, index: number, options: FetchPieceOptions = {}): Promise<Uint8Array> {
    if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new InvalidArgumentError(`bad piece index ${index}`)
    let payload: Uint8Array
    try {
      payload = encodePieceRequest(manifestCid, index)
    } catch (err) {
      throw new InvalidArgumentError(`bad manifest CID "${manifestCid}"`, { cause: err })
    }
    const answer = await this.#request(peerId, MessageType.PIECE_REQ, payload, options)
    if (isRefusal(answer)) throw refusedError(peerId, `piece ${index} of ${manifestCid}`, answer)
    return answer
  }

  async subscribe (peerId: string, key: string, options: SubscribeOptions): Promise<PeerSubscription | null | 'unsupported'> {
    this.#checkRunning()
    const timeout = options.timeout ?? DEFAULT_TIMEOUT
    const deadline = Date.now() + timeout
    const session = await this.#session(peerId, options.signal, timeout)
    if (session.version !== '1.1.0') return 'unsupported'
    const started = await session.subscribe(keyBytes(key), {
      onUpdate: options.onUpdate,
      onEnd: reason => { options.onEnd(reason instanceof Error ? reason : refusedError(peerId, `the subscription to ${key}`, reason)) }
    }, { timeout: Math.max(1, deadline - Date.now()), ...(options.signal !== undefined ? { signal: options.signal } : {}) })
    if (started === null) return null
    const { state } = started
    return { pieceSize: state.pieceSize, pieceCount: state.pieceCount, complete: (state.flags & 1) === 1, have: state.have, cancel: started.cancel }
  }

  addEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void {
    this.#events.addEventListener(type, listener as EventListener)
  }

  removeEventListener<K extends keyof P2PEvents>(type: K, listener: (event: CustomEvent<P2PEvents[K]>) => void): void {
    this.#events.removeEventListener(type, listener as EventListener)
  }

  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#discovery.stop()
    await this.#lan?.stop()
    this.#node.removeEventListener('peer:connect', this.#onConnect)
    this.#node.removeEventListener('peer:disconnect', this.#onDisconnect)
    const stopped = new NodeStoppedError('p2p node stopped')
    for (const opening of this.#sessions.values()) opening.then(s => { s.close(stopped) }, () => {})
    this.#sessions.clear()
    this.#server.stop()
    await stopNode(this.#node)
  }

  async #request (peerId: string, type: MessageType, payload: Uint8Array, options: FetchPieceOptions): Promise<Uint8Array | Refusal> {
    this.#checkRunning()
    const timeout = options.timeout ?? DEFAULT_TIMEOUT
    const deadline = Date.now() + timeout
    const session = await this.#session(peerId, options.signal, timeout)
    return await session.request(type, payload, {
      timeout: Math.max(1, deadline - Date.now()),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.into !== undefined ? { into: options.into } : {})
    })
  }

  /** The open session with a peer, or a new one; concurrent callers share one stream. */
  async #session (peerId: string, signal: AbortSignal | undefined, timeout: number): Promise<PeerSession> {
    const existing = this.#sessions.get(peerId)
    if (existing !== undefined) {
      const session = await raceAbort(existing, signal)
      if (!session.closed) return session
      if (this.#sessions.get(peerId) === existing) this.#sessions.delete(peerId)
    }
    const opening = this.#openSession(peerId, timeout)
    this.#sessions.set(peerId, opening)
    opening.catch(() => { if (this.#sessions.get(peerId) === opening) this.#sessions.delete(peerId) })
    return await raceAbort(opening, signal)
  }

  async #openSession (peerId: string, timeout: number): Promise<PeerSession> {
    let id: PeerId
    try {
      id = peerIdFromString(peerId)
    } catch (err) {
      throw new InvalidArgumentError(`not a peer id: "${peerId}"`, { cause: err })
    }
    try {
      // Not the caller's signal: other requests may come to share this stream after that caller gave up.
      const stream = await this.#node.dialProtocol(id, this.#protocols, { signal: AbortSignal.timeout(timeout) })
      const opening = this.#sessions.get(peerId)
      return new PeerSession(peerId, stream, session => {
        void opening?.then(s => { if (s === session && this.#sessions.get(peerId) === opening) this.#sessions.delete(peerId) })
      }, versionOf(stream.protocol))
    } catch (err) {
      throw new PeerUnavailableError(`cannot open ${this.#protocols[0]!} to ${peerId}: ${(err as Error).message}`, {
        cause: err,
        context: 'general-transport'
      })
    }
  }

  #checkRunning (): void {
    if (this.#stopped) throw new NodeStoppedError('p2p node stopped')
  }

  #peerInfo (id: PeerId): PeerInfo {
    const peerId = id.toString()
    const connections = this.#node.getConnections(id)
    return {
      peerId,
      addrs: connections.map(c => c.remoteAddr.toString()),
      source: this.#discovery.sourceOf(peerId),
      encryption: [...new Set(connections.flatMap(c => c.encryption ?? []))]
    }
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    this.#events.dispatchEvent(new CustomEvent('peer:connect', { detail: this.#peerInfo(evt.detail) }))
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString()
    const opening = this.#sessions.get(peerId)
    if (opening !== undefined) {
      this.#sessions.delete(peerId)
      opening.then(s => { s.close(new Error('peer disconnected')) }, () => {})
    }
    this.#events.dispatchEvent(new CustomEvent('peer:disconnect', { detail: { peerId } }))
  }
}

function parseCid (key: string): CID {
  try {
    return CID.parse(key)
  } catch (err) {
    throw new InvalidArgumentError(`not a CID: "${key}"`, { cause: err })
  }
}

function keyBytes (key: string): Uint8Array {
  try {
    return encodeKey(key)
  } catch (err) {
    throw new InvalidArgumentError(`bad key "${key}"`, { cause: err })
  }
}

async function raceAbort<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  if (signal.aborted) throw new AbortedError('aborted')
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new AbortedError('aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}
