import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidArgumentError } from '@dopt/interface'
import type { DoptLibp2p } from './node.js'
import type { PeerSourceKind } from './types.js'
import type { PeerId, PeerInfo as Libp2pPeerInfo } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const REDIAL_MIN_MS = 500
const REDIAL_MAX_MS = 30_000

interface StaticPeer {
  id: PeerId
  addr: Multiaddr
  delay: number
  timer?: ReturnType<typeof setTimeout>
}

/** The peer id in a multiaddr's `/p2p/` component. */
export function peerIdOf (addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast(c => c.name === 'p2p')?.value
}

/** Parses a multiaddr the user gave; INVALID_ARGUMENT naming `what` (the setting: `peers`, `listen`) when it is not one. */
export function parseMultiaddr (text: string, what: string): Multiaddr {
  try {
    return multiaddr(text)
  } catch (err) {
    throw new InvalidArgumentError(`${what}: not a multiaddr: "${text}"`, { cause: err })
  }
}

/** Static peers as given (`/ip4/…/tcp/…/p2p/<peer id>`), checked before any part of the node starts. */
export function parseStaticPeers (texts: string[]): StaticPeerAddress[] {
  return texts.map(text => {
    const addr = parseMultiaddr(text, 'peers')
    const id = peerIdOf(addr)
    if (id === undefined) throw new InvalidArgumentError(`peer "${text}" has no /p2p/<peer id>`)
    try {
      return { id: peerIdFromString(id), addr }
    } catch (err) {
      throw new InvalidArgumentError(`peer "${text}": "${id}" is not a peer id`, { cause: err })
    }
  })
}

/** A static peer as parsed by parseStaticPeers. */
export interface StaticPeerAddress {
  id: PeerId
  addr: Multiaddr
}

/**
 * Keeps the node connected: dials peers mDNS discovers (libp2p 3 discovery only reports them), dials the static
 * peers at start and again after each disconnect or failed dial (exponential back-off), and remembers how each peer
 * was found.
 */
export class Discovery {
  readonly #node: DoptLibp2p
  readonly #static = new Map<string, StaticPeer>()
  readonly #sources = new Map<string, PeerSourceKind>()
  #running = false

  constructor (node: DoptLibp2p, staticPeers: StaticPeerAddress[]) {
    this.#node = node
    for (const { id, addr } of staticPeers) {
      this.#static.set(id.toString(), { id, addr, delay: REDIAL_MIN_MS })
      this.#sources.set(id.toString(), 'static')
    }
  }

  /** Peer ids of the static peers: always worth asking, connected yet or not. */
  get staticPeers (): string[] {
    return [...this.#static.keys()]
  }

  /** How a peer was found: mDNS, the DHT, given (static), or it dialed us ('inbound'). */
  sourceOf (peerId: string): PeerSourceKind {
    return this.#sources.get(peerId) ?? 'inbound'
  }

  /** Records a source unless a more specific one is known (a static peer stays static). */
  noteSource (peerId: string, source: PeerSourceKind): void {
    if (!this.#sources.has(peerId)) this.#sources.set(peerId, source)
  }

  start (): void {
    this.#running = true
    this.#node.addEventListener('peer:disconnect', this.#onDisconnect)
    for (const peer of this.#static.values()) this.#dialStatic(peer)
  }

  stop (): void {
    this.#running = false
    this.#node.removeEventListener('peer:disconnect', this.#onDisconnect)
    for (const peer of this.#static.values()) clearTimeout(peer.timer)
  }

  /** A peer mDNS found: libp2p 3 discovery does not dial, so dial it here. */
  onMdnsPeer (peer: Libp2pPeerInfo): void {
    if (!this.#running) return
    const { id, multiaddrs } = peer
    const peerId = id.toString()
    if (peerId === this.#node.peerId.toString()) return
    this.noteSource(peerId, 'mdns')
    if (this.#node.getConnections(id).length > 0 || multiaddrs.length === 0) return
    // libp2p merges discovered addresses into the peer store without awaiting it: merge here, then dial.
    this.#node.peerStore.merge(id, { multiaddrs })
      .then(async () => await this.#node.dial(id))
      .catch(() => { /* the peer will announce itself again */ })
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = this.#static.get(evt.detail.toString())
    if (peer !== undefined) this.#schedule(peer)
  }

  #dialStatic (peer: StaticPeer): void {
    if (!this.#running) return
    if (this.#node.getConnections(peer.id).length > 0) {
      peer.delay = REDIAL_MIN_MS
      return
    }
    this.#node.dial(peer.addr)
      .then(() => { peer.delay = REDIAL_MIN_MS })
      .catch(() => { this.#schedule(peer) })
  }

  #schedule (peer: StaticPeer): void {
    if (!this.#running) return
    clearTimeout(peer.timer)
    peer.timer = setTimeout(() => { this.#dialStatic(peer) }, peer.delay)
    peer.timer.unref?.()
    peer.delay = Math.min(peer.delay * 2, REDIAL_MAX_MS)
  }
}
