import { setMaxListeners } from 'node:events'
import { Bitfield, equalBytes, pieceRange, sha256 } from '@dopt/content'
import type { Manifest } from '@dopt/content'
import { AbortedError } from '@dopt/interface'
import type { JobFileImpl } from './job-file.js'
import type { PeerNetwork } from './network.js'
import type { PieceSink } from './piece-sink.js'
import type { PieceRun, PieceSource } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import type { RateLimiter } from './rate-limiter.js'
import { allocatePieceBuffers } from './file-writer.js'

export interface SwarmInit {
  file: JobFileImpl
  manifest: Manifest
  cid: string
  sink: PieceSink
  network: PeerNetwork
  origin: PieceSource
  settings: EngineSettings
  signal: AbortSignal
  /** Peers already known to hold the content (those that sent the manifest). */
  peers: string[]
  /** Peers banned for this content (shared across attempts of the file). */
  banned: Set<string>
  /** The download limit of the job's priority class. */
  limiter?: RateLimiter
}

interface Peer {
  id: string
  have: Bitfield
  strikes: number
  /** Pieces this peer is fetching now. */
  fetching: Set<number>
  gone: boolean
}

/**
 * Downloads the missing pieces of a file from peers first and the origin for the rest:
 * - each peer gets `peerRequestsInFlight` workers that take the rarest missing piece it holds;
 * - the origin takes runs of pieces that no live peer holds, once discovery ended or `originDelay` passed;
 * - at the end, idle workers duplicate pieces still in flight elsewhere (endgame), first answer wins;
 * - a piece that fails its hash is dropped and counted against its peer, banned after `maxPeerStrikes`;
 * - a peer that fails or times out is dropped and its pieces go back to the others.
 */
export async function swarmDownload (init: SwarmInit): Promise<void> {
  await new Swarm(init).run()
}

class Swarm {
  readonly #init: SwarmInit
  readonly #done: Bitfield
  #cursor = 0
  readonly #peers = new Map<string, Peer>()
  /** Requests in flight per piece, peers and origin alike. */
  readonly #inFlight = new Map<number, number>()
  /** Pieces handed to the sink and not yet written: neither missing nor in flight, and not to be fetched again. */
  readonly #accepted = new Set<number>()
  /**
   * Receive buffers, reused: a piece arrives into one and is verified; then a free sink buffer is taken (only then,
   * so that requests waiting on peers never hold the sink's buffers from the origin) and the two trade places: the
   * sink writes the receive buffer and the swarm keeps the sink's as a receive buffer, so no piece is copied. Both
   * are page-aligned pieces of the same size (the sink writes them with direct I/O). A fresh 1 MiB buffer per piece
   * cost more: zero-filled memory and garbage-collector work (benchmarks/peer).
   */
  readonly #spare: Buffer[] = []
  readonly #controller = new AbortController()
  readonly #signal: AbortSignal
  /** Everyone waiting for a change: workers, the origin loop, the main loop. */
  readonly #waiters = new Set<() => void>()
  #originStarted = false
  #originError: unknown = null
  #originBusy = false

  constructor (init: SwarmInit) {
    this.#init = init
    this.#done = init.file.done!
    this.#signal = AbortSignal.any([init.signal, this.#controller.signal])
    // Every request in flight listens to this signal: many peers × requests is expected, not a leak.
    setMaxListeners(Infinity, this.#signal)
  }

  async run (): Promise<void> {
    const { settings } = this.#init
    const background = [this.#discover(), this.#originLoop()]
    const originTimer = setTimeout(() => { this.#originStarted = true; this.#poke() }, settings.originDelay * 1000)
    // A piece written (the last one, above all) or failed is a change: without this the loop saw it only at its
    // next 250 ms turn, which every peer download paid once at its end.
    const unsubscribe = this.#init.sink.onChange(() => { this.#poke() })
    try {
      // Bounded: each turn waits at most 250 ms, and ends on completion, abort, or an error nobody can route around.
      while (!this.#done.full) {
        this.#init.signal.throwIfAborted()
        if (this.#init.sink.error != null) throw this.#init.sink.error
        if (this.#originError != null && !this.#anyPeerCanHelp()) throw this.#originError
        await this.#waitForChange()
      }
    } finally {
      unsubscribe()
      clearTimeout(originTimer)
      this.#controller.abort(new AbortedError('swarm finished'))
      await Promise.allSettled(background)
    }
  }

  /** Called when pieces land, peers come or go: re-evaluate. */
  #poke (): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }

  async #waitForChange (): Promise<void> {
    await new Promise<void>(resolve => {
      const wake = (): void => { clearTimeout(t); this.#waiters.delete(wake); resolve() }
      const t = setTimeout(wake, 250)
      this.#waiters.add(wake)
    })
  }

  // ---- peers ------------------------------------------------------------------------------------------------

  async #discover (): Promise<void> {
    const { network, cid, settings } = this.#init
    const adding: Array<Promise<void>> = this.#init.peers.map(async id => { await this.#addPeer(id) })
    try {
      for await (const id of network.findProviders(cid, { signal: this.#signal, timeout: settings.discoveryTimeout * 1000 })) {
        adding.push(this.#addPeer(id))
      }
    } catch {
      // Discovery is best effort: the origin covers what peers can't.
    }
    await Promise.allSettled(adding)
    if (this.#livePeers().length === 0) this.#originStarted = true
    this.#poke()
  }

  async #addPeer (id: string): Promise<void> {
    const { network, cid, settings, banned } = this.#init
    if (this.#peers.has(id) || banned.has(id)) return
    let bytes: Uint8Array | null = null
    // A peer that fails to answer is asked again (bounded): one lost request must not send the file to the origin.
    for (let attempt = 0; ; attempt++) {
      try {
        bytes = await network.fetchHave(id, cid, { signal: this.#signal, timeout: settings.peerTimeout * 1000 })
        break
      } catch {
        if (this.#signal.aborted || attempt >= 2) return
        await new Promise(resolve => setTimeout(resolve, 200 * (attempt + 1)))
      }
    }
    if (bytes == null || this.#peers.has(id)) return
    const peer: Peer = { id, have: new Bitfield(this.#done.length, bytes), strikes: 0, fetching: new Set(), gone: false }
    this.#peers.set(id, peer)
    for (let i = 0; i < settings.peerRequestsInFlight; i++) void this.#peerWorker(peer)
    this.#poke()
  }

  #livePeers (): Peer[] {
    return [...this.#peers.values()].filter(p => !p.gone)
  }

  #anyPeerCanHelp (): boolean {
    const live = this.#livePeers()
    for (const i of this.#done.missing(this.#firstMissing())) if (live.some(p => p.have.get(i))) return true
    return false
  }

  /** The first piece not yet written; pieces before it need no look (it only moves forward). */
  #firstMissing (): number {
    this.#cursor = this.#done.firstMissing(this.#cursor)
    return this.#cursor
  }

  /**
   * The rarest missing piece this peer holds that nobody fetches; in the endgame, one fetched elsewhere. Picks run
   * once per piece request, so they must not cost a walk over every piece: the walk starts at the first missing
   * piece and stops at a piece only this peer holds (none is rarer) or, when every live peer holds the whole file
   * (seeds serve complete content only, so this is the usual case), at the first piece free to fetch.
   */
  #pick (peer: Peer): number | null {
    let best: number | null = null
    let bestRarity = Infinity
    let endgame: number | null = null
    const live = this.#livePeers()
    const uniform = live.every(p => p.have.full)
    for (const i of this.#done.missing(this.#firstMissing())) {
      if (!peer.have.get(i) || peer.fetching.has(i) || this.#accepted.has(i)) continue
      const busy = this.#inFlight.get(i) ?? 0
      if (busy > 0) {
        if (busy < 2) endgame ??= i
        continue
      }
      if (uniform) return i
      let rarity = 0
      for (const p of live) if (p.have.get(i)) rarity++
      if (rarity <= 1) return i
      if (rarity < bestRarity) { best = i; bestRarity = rarity }
    }
    return best ?? endgame
  }

  async #peerWorker (peer: Peer): Promise<void> {
    const { network, cid, sink, manifest, settings, banned } = this.#init
    while (!this.#signal.aborted && !peer.gone && !this.#done.full) {
      const index = this.#pick(peer)
      if (index == null) {
        await this.#waitForChange()
        continue
      }
      this.#begin(index)
      peer.fetching.add(index)
      let receive: Buffer | undefined
      try {
        const { start: from, end: to } = pieceRange(index, manifest.size, manifest.pieceSize)
        await this.#init.limiter?.take(to - from, { signal: this.#signal })
        receive = this.#spare.pop() ?? allocatePieceBuffers(1, manifest.pieceSize)[0]!
        const bytes = await network.fetchPiece(peer.id, cid, index, { signal: this.#signal, timeout: settings.peerTimeout * 1000, into: receive })
        if (this.#done.get(index) || this.#accepted.has(index)) continue // the endgame's other request won
        const { start, end } = pieceRange(index, manifest.size, manifest.pieceSize)
        const hash = bytes.byteLength === end - start ? sha256(bytes) : null
        if (hash == null || !equalBytes(hash, manifest.pieceHashes[index]!)) {
          if (++peer.strikes >= settings.maxPeerStrikes) {
            peer.gone = true
            banned.add(peer.id)
          }
          continue
        }
        if (this.#done.get(index) || this.#accepted.has(index)) continue
        const buffer = await sink.allocate({ signal: this.#signal })
        if (this.#accepted.has(index)) { sink.release(buffer); continue }
        this.#accepted.add(index)
        if (bytes.buffer === receive.buffer && bytes.byteOffset === receive.byteOffset && buffer.byteLength === receive.byteLength) {
          sink.accept(index, receive, bytes.byteLength, 'peer', hash) // the trade: see #spare
          receive = buffer
        } else {
          buffer.set(bytes) // the network did not use the receive buffer
          sink.accept(index, buffer, bytes.byteLength, 'peer', hash)
        }
      } catch (err) {
        if (this.#signal.aborted) return
        if ((err as { code?: string }).code === 'PEER_REFUSED') peer.have.set(index, false)
        else peer.gone = true // vanished, timed out, or broke the protocol: its pieces go to the others
      } finally {
        if (receive !== undefined) this.#spare.push(receive)
        peer.fetching.delete(index)
        this.#end(index)
      }
    }
  }

  #begin (index: number): void {
    this.#inFlight.set(index, (this.#inFlight.get(index) ?? 0) + 1)
  }

  #end (index: number): void {
    const n = (this.#inFlight.get(index) ?? 1) - 1
    if (n > 0) this.#inFlight.set(index, n)
    else this.#inFlight.delete(index)
    this.#poke()
  }

  // ---- origin -----------------------------------------------------------------------------------------------

  /** The next run of missing pieces that nobody fetches and no live peer holds, coalesced for one ranged GET. */
  #originRun (): PieceRun | null {
    const live = this.#livePeers()
    const free = (i: number): boolean => !this.#done.get(i) && !this.#accepted.has(i) && !this.#inFlight.has(i) && !live.some(p => p.have.get(i))
    for (const first of this.#done.missing(this.#firstMissing())) {
      if (!free(first)) continue
      let count = 1
      while (count < this.#init.settings.maxOriginRun && first + count < this.#done.length && free(first + count)) count++
      return { first, count }
    }
    return null
  }

  async #originLoop (): Promise<void> {
    const { origin, file, sink } = this.#init
    while (!this.#signal.aborted && !this.#done.full) {
      const run = this.#originStarted && !this.#originBusy ? this.#originRun() : null
      if (run == null) {
        await this.#waitForChange()
        continue
      }
      for (let i = run.first; i < run.first + run.count; i++) this.#begin(i)
      this.#originBusy = true
      try {
        await origin.fetch(file, run, sink, { signal: this.#signal, limiter: this.#init.limiter })
        // Every piece of the run is now with the sink, some perhaps still being written.
        for (let i = run.first; i < run.first + run.count; i++) this.#accepted.add(i)
      } catch (err) {
        if (this.#signal.aborted) return
        this.#originError = err
        return
      } finally {
        this.#originBusy = false
        for (let i = run.first; i < run.first + run.count; i++) this.#end(i)
      }
    }
  }
}
