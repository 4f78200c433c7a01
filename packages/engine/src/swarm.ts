import { setMaxListeners } from 'node:events'
import { Bitfield, decodeManifest, equalBytes, manifestCid, pieceRange, sha256 } from '@dopt/content'
import { AbortedError, EntryKind, SizeMismatchError } from '@dopt/interface'
import type { ContentEntry } from '@dopt/interface'
import type { Bans } from './bans.js'
import type { JobFileImpl } from './job-file.js'
import type { LiveContent } from './live-content.js'
import type { PeerNetwork } from './network.js'
import type { PieceSink } from './piece-sink.js'
import type { PieceRun, PieceSource } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import type { RateLimiter } from './rate-limiter.js'
import { allocatePieceBuffers } from './file-writer.js'
import { pickFromPeer, pickOriginRun, shareOwner } from './piece-picker.js'
import type { PickState } from './piece-picker.js'
import { SwarmView } from './swarm-view.js'
import type { PeerState } from './swarm-view.js'

/** How a download checks what peers send it. */
export type SwarmTrust =
  /** A trusted (pinned) manifest: every piece must match its hash. */
  | { kind: 'manifest', hashes: Uint8Array[] }
  /**
   * No trusted manifest: a peer's piece must match a hash some peer vouched for (it fetched the piece from the
   * origin itself), and the file has an end-to-end check that catches a liar; or, without one (`acceptPeers`
   * false), nothing is taken from peers at all.
   */
  | { kind: 'vouched', acceptPeers: boolean }

export interface SwarmInit {
  file: JobFileImpl
  /** What peers call the content: the manifest CID with a trusted manifest, else the content key. */
  key: string
  trust: SwarmTrust
  sink: PieceSink
  network: PeerNetwork
  origin: PieceSource
  /** This download as a source for peers. */
  live: LiveContent
  /** This node's peer id. */
  self: string
  settings: EngineSettings
  /** Seconds to wait for peers before taking from the origin pieces no peer holds or fetches. */
  originDelay: number
  signal: AbortSignal
  bans: Bans
  /** Peers known to hold the content already. */
  peers?: string[]
  /** The download limit of the job's priority class. */
  limiter?: RateLimiter
}

/** Seconds' worth of the origin's measured rate in one ranged GET: long runs hold their later pieces back. */
const RUN_SECONDS = 2
/**
 * Ranged GETs one download keeps going at once: with two, the next is already streaming when one ends, so the
 * origin's share of this node is never idle between requests (with one, each gap - a round trip, a busy CPU - was
 * the origin's time lost: at N=16 on 2 cores it sent ~4 MiB in the first second of a 20 MiB/s cap).
 */
const ORIGIN_FETCHES = 2
/** How often connected peers that do not serve the content yet are asked again, and the DHT searched again (ms). */
const REJOIN_INTERVAL = 2_000
const REDISCOVER_INTERVAL = 10_000
/** While the origin waits for peers (its delay), how often the search is run again (ms). */
const SEARCH_AGAIN = 500
/** How long a streamed piece may wait for its sender's vouch (it is sent as the piece completes). */
const VOUCH_WAIT = 2_000
/**
 * Peer requests one download keeps in flight in all, shared out among its peers: each holds a piece-sized receive
 * buffer, and with 15 peers × 4 the requests mostly waited in the peers' upload queues, holding pieces from others
 * (lab, N=16: 2 per peer was ~10% less CPU and time than 4).
 */
const REQUESTS = 24
/** How long a request must have been under way before the endgame races it (ms). */
const ENDGAME_LAG = 500
/**
 * How long a worker at a peer with the whole file waits, once its own share is asked for, before it asks that peer
 * for other members' shares too (ms): they are asking for theirs meanwhile, and will trade them on.
 */
const SEED_PATIENCE = 1_000
/** A member that claims nothing for this long is not working through its share: others may take it (ms). */
const IDLE_OWNER = 1_500

/**
 * Downloads the missing pieces of a file from its live swarm, and from the origin what nobody in it holds or
 * fetches (docs/architecture.md, "The live swarm"):
 * - every peer of the content is subscribed to (1.1.0), so what it holds and what it is fetching from the origin
 *   is known as it changes; peers that connect or subscribe here mid-download join at once;
 * - per peer, `peerRequestsInFlight` workers take the rarest piece it serves; a piece still arriving at a peer from
 *   the origin is asked for as it arrives (the peer streams it);
 * - the origin takes only pieces no live peer holds or fetches, and of those this node's share, in runs sized to
 *   the rate the origin gives; each run is claimed before it is fetched, so peers ask this node instead;
 * - at the end idle workers duplicate pieces still in flight elsewhere (endgame), first one written wins;
 * - a piece that fails its check is a strike against its sender, banned after `maxPeerStrikes`; a peer that fails
 *   or falls silent is dropped and its pieces go to the others.
 */
export async function swarmDownload (init: SwarmInit): Promise<void> {
  await new Swarm(init).run()
}

class Swarm {
  readonly #init: SwarmInit
  readonly #done: Bitfield
  readonly #view: SwarmView
  #cursor = 0
  /** Requests in flight per piece, peers and origin alike. */
  readonly #inFlight = new Map<number, number>()
  /** When the first request in flight for a piece started (ms): the endgame duplicates only requests that lag. */
  readonly #since = new Map<number, number>()
  /** Requests in flight to peers, by piece: called off when the piece arrives by another (the endgame's races). */
  readonly #races = new Map<number, Set<AbortController>>()
  /** Pieces handed to the sink and not yet written: neither missing nor in flight, and not to be fetched again. */
  readonly #accepted = new Set<number>()
  /** Peers being subscribed to, with the updates that arrived before the subscription's answer did. */
  readonly #joining = new Map<string, ContentEntry[]>()
  /** When a peer last refused or failed to join (ms). */
  readonly #refused = new Map<string, number>()
  /** Receive buffers, reused: a verified piece trades places with a free sink buffer (no copy). */
  readonly #spare: Buffer[] = []
  readonly #controller = new AbortController()
  readonly #signal: AbortSignal
  /**
   * Who waits for what: `main` (the loop that watches for the end), `origin` (its loop), `vouch` (pieces waiting for
   * their sender's vouch), and `peer:<id>` (that peer's workers). A change wakes only those it can give work to: in a
   * swarm of 16, one peer's update waking every worker of every peer cost more CPU than the transfer itself.
   */
  readonly #waiters = new Map<string, Set<() => void>>()
  readonly #background: Array<Promise<unknown>> = []
  readonly #rotation: number
  #originOpen = false
  #originError: unknown = null
  /** The origin's rate as measured on this file's runs (bytes/s); 0 before the first. */
  #originRate = 0
  /** Origin runs started. */
  #runs = 0

  constructor (init: SwarmInit) {
    this.#init = init
    this.#done = init.file.done!
    this.#view = new SwarmView(this.#done.length, init.self)
    this.#signal = AbortSignal.any([init.signal, this.#controller.signal])
    // Every request in flight listens to this signal: many peers × requests is expected, not a leak.
    setMaxListeners(Infinity, this.#signal)
    this.#rotation = rotationOf(init.key)
  }

  async run (): Promise<void> {
    const { network, sink } = this.#init
    const cleanups = [
      network.onPeer(id => { void this.#join(id) }),
      network.onSubscriber(this.#init.key, id => { void this.#join(id) }),
      sink.onChange(() => { this.#pieceWritten() })
    ]
    this.#background.push(this.#discover(), ...Array.from({ length: ORIGIN_FETCHES }, async () => { await this.#originLoop() }))
    const rejoin = setInterval(() => { this.#rejoin() }, REJOIN_INTERVAL)
    try {
      // Bounded: each turn waits at most 250 ms, and ends on completion, abort, or an error nobody can route around.
      while (!this.#done.full) {
        this.#init.signal.throwIfAborted()
        if (sink.error != null) throw sink.error
        // A size the origin contradicts is fatal at once: the peers' pieces were cut to the same wrong size.
        if (this.#originError instanceof SizeMismatchError) throw this.#originError
        if (this.#originError != null && !this.#peersCanFinish()) throw this.#originError
        // Every live peer has its workers, whatever ended theirs: a peer in the view with none would hold its pieces
        // back from this node for good, since the origin leaves to peers what they hold.
        this.#staffPeers()
        await this.#wait('main')
      }
    } finally {
      clearInterval(rejoin)
      for (const cleanup of cleanups) cleanup()
      for (const peer of this.#view.live()) this.#view.remove(peer.id)
      this.#controller.abort(new AbortedError('swarm finished'))
      await Promise.allSettled(this.#background)
    }
  }

  /** Wakes whoever waits on `channel`. */
  #wake (channel: string): void {
    const waiters = this.#waiters.get(channel)
    if (waiters === undefined) return
    this.#waiters.delete(channel)
    for (const wake of waiters) wake()
  }

  /** Wakes everyone: a peer left, a request failed in a way anyone may route around, the endgame began. */
  #wakeAll (): void {
    for (const channel of [...this.#waiters.keys()]) this.#wake(channel)
  }

  /** Wakes the workers of the live peers that hold or fetch `index`: they may ask for it now. */
  #wakeHolders (index: number): void {
    for (const peer of this.#view.live()) if (peer.have.get(index) || peer.claims.has(index)) this.#wake(`peer:${peer.id}`)
  }

  /** Waits until woken on `channel`, or `ms` at most (every wait is bounded: loops re-check by themselves). */
  async #wait (channel: string, ms = 250): Promise<void> {
    await new Promise<void>(resolve => {
      let waiters = this.#waiters.get(channel)
      if (waiters === undefined) this.#waiters.set(channel, waiters = new Set())
      const wake = (): void => { clearTimeout(t); this.#waiters.get(channel)?.delete(wake); resolve() }
      const t = setTimeout(wake, ms)
      waiters.add(wake)
    })
  }

  /** A piece was written (or failed): the end may be here, and with few pieces left idle workers may race. */
  #pieceWritten (): void {
    this.#wake('main')
    if (this.#done.length - this.#done.count - this.#accepted.size <= Math.max(2, this.#view.live().length)) this.#wakeAll()
  }

  #running (): boolean {
    return !this.#signal.aborted && !this.#done.full
  }

  // ---- peers ------------------------------------------------------------------------------------------------

  /**
   * Joins the peers in sight - connected ones, those known to hold the content, providers the network finds (the
   * DHT) - then opens the origin: at once when some peer of the content joined (the origin then takes only what no
   * peer holds or fetches) or when no peer is connected at all (nobody to wait for); else it searches again for up
   * to the origin delay [DODelay…DownloadFromHttp]. Searches again now and then while the download runs.
   */
  async #discover (): Promise<void> {
    const { network, settings, key } = this.#init
    const joins: Array<Promise<void>> = [...new Set([...(this.#init.peers ?? []), ...network.connectedPeers()])].map(async id => { await this.#join(id) })
    const search = async (): Promise<void> => {
      try {
        // Connected peers are subscribed to directly (#join): the search is for providers beyond them (the DHT).
        for await (const id of network.findProviders(key, { signal: this.#signal, timeout: settings.discoveryTimeout * 1000, askConnected: false })) joins.push(this.#join(id))
      } catch {
        // Discovery is best effort: the origin covers what peers can't.
      }
    }
    // The first answers say whether anyone else has the content: the origin waits for them (at most the discovery
    // timeout), so that a node joining a swarm does not fetch what its peers hold.
    const round = async (): Promise<void> => {
      await Promise.race([(async () => { await search(); await Promise.allSettled(joins) })(), this.#sleep(settings.discoveryTimeout * 1000)])
    }
    await round()
    const until = Date.now() + this.#init.originDelay * 1000
    while (this.#running() && this.#view.live().length === 0 && network.connectedPeers().length > 0 && Date.now() < until) {
      await this.#sleep(Math.min(SEARCH_AGAIN, until - Date.now()))
      await round()
    }
    this.#originOpen = true
    this.#wake('origin')
    while (this.#running()) {
      await this.#sleep(REDISCOVER_INTERVAL)
      if (this.#running()) await search()
    }
  }

  async #sleep (ms: number): Promise<void> {
    if (this.#signal.aborted) return
    await new Promise<void>(resolve => {
      const t = setTimeout(done, ms)
      function done (): void { clearTimeout(t); resolve() }
      this.#signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Connected peers that did not serve the content when last asked are asked again. */
  #rejoin (): void {
    const now = Date.now()
    for (const id of this.#init.network.connectedPeers()) {
      if (this.#view.has(id) || this.#joining.has(id)) continue
      if (now - (this.#refused.get(id) ?? 0) < REJOIN_INTERVAL) continue
      void this.#join(id)
    }
  }

  async #join (id: string): Promise<void> {
    const { network, key, settings, bans } = this.#init
    if (id === this.#init.self || this.#view.has(id) || this.#joining.has(id) || bans.banned(id) || !this.#running()) return
    this.#joining.set(id, [])
    try {
      const content = await network.subscribe(id, key, {
        signal: this.#signal,
        timeout: settings.peerTimeout * 1000,
        onUpdate: entries => { this.#onEntries(id, entries) },
        onEnd: () => { this.#leave(id) }
      })
      if (content === 'unsupported') {
        await this.#joinOld(id)
        return
      }
      if (content === null || content.pieceCount !== this.#done.length || content.pieceSize !== this.#init.file.record.pieceSize || !this.#running()) {
        if (content != null) content.cancel()
        this.#refused.set(id, Date.now())
        return
      }
      const peer = this.#view.add({ id, key, have: new Bitfield(this.#done.length, content.have), member: !content.complete, cancel: content.cancel })
      this.#apply(peer, this.#joining.get(id) ?? [])
      this.#startWorkers(peer)
    } catch {
      if (!this.#signal.aborted) this.#refused.set(id, Date.now())
    } finally {
      this.#joining.delete(id)
    }
  }

  /**
   * A peer that speaks only 1.0.0: it serves complete content by manifest CID. For content without a trusted
   * manifest, its manifest (for the content key) is its word on every piece's hash.
   */
  async #joinOld (id: string): Promise<void> {
    const { network, key, settings, trust } = this.#init
    const opts = { signal: this.#signal, timeout: settings.peerTimeout * 1000 }
    let peerKey = key
    let hashes: Uint8Array[] | null = null
    if (trust.kind === 'vouched') {
      if (!trust.acceptPeers) return
      const bytes = await network.fetchManifest(id, key, opts)
      if (bytes == null) { this.#refused.set(id, Date.now()); return }
      const manifest = decodeManifest(bytes)
      if (manifest.size !== this.#init.file.record.size || manifest.pieceSize !== this.#init.file.record.pieceSize) { this.#refused.set(id, Date.now()); return }
      peerKey = manifestCid(bytes).toString()
      hashes = manifest.pieceHashes
    }
    const have = await network.fetchHave(id, peerKey, opts)
    if (have == null || !this.#running()) { this.#refused.set(id, Date.now()); return }
    const peer = this.#view.add({ id, key: peerKey, have: new Bitfield(this.#done.length, have), member: false })
    hashes?.forEach((hash, i) => { this.#view.vouch(id, i, hash) })
    this.#startWorkers(peer)
  }

  #onEntries (id: string, entries: ContentEntry[]): void {
    const waiting = this.#joining.get(id)
    if (waiting !== undefined) { waiting.push(...entries); return }
    const peer = this.#view.get(id)
    if (peer !== undefined) this.#apply(peer, entries)
  }

  #apply (peer: PeerState, entries: ContentEntry[]): void {
    const view = this.#view
    let work = false
    let fewer = false
    for (const e of entries) {
      if (e.index >= view.size) continue
      const wanted = !this.#done.get(e.index) && !this.#accepted.has(e.index)
      switch (e.kind) {
        case EntryKind.VOUCH:
          if (e.hash !== undefined) view.vouch(peer.id, e.index, e.hash)
          view.setHave(peer.id, e.index, true)
          // A vouch may make others' copies of the piece acceptable (a relay's); a streamed piece waits for it.
          if (wanted) { this.#wakeHolders(e.index); this.#wake('vouch') }
          break
        case EntryKind.HAVE: view.setHave(peer.id, e.index, true); work ||= wanted; break
        case EntryKind.INTENT: view.setClaim(peer.id, e.index, true); work ||= wanted; break
        case EntryKind.UNINTENT: view.setClaim(peer.id, e.index, false); fewer = true; break
        case EntryKind.LOST: view.setHave(peer.id, e.index, false); fewer = true; break
      }
    }
    if (work) this.#wake(`peer:${peer.id}`)
    // A piece nobody holds or fetches any more may be the origin's now.
    if (fewer) this.#wake('origin')
  }

  #leave (id: string): void {
    this.#view.remove(id)
    this.#refused.set(id, Date.now())
    this.#staffPeers()
    this.#wakeAll()
  }

  #strike (peer: PeerState, reason: string): void {
    if (++peer.strikes < this.#init.settings.maxPeerStrikes) return
    this.#ban(peer.id, reason)
  }

  #ban (id: string, reason: string): void {
    this.#init.bans.ban(id, reason)
    this.#init.file.bannedPeers.add(id)
    this.#view.disown(id)
    this.#view.remove(id)
    this.#wakeAll()
  }

  /** True while some missing piece is held or fetched by a live peer (the origin failing is then not the end). */
  #peersCanFinish (): boolean {
    for (const i of this.#done.missing(this.#firstMissing())) {
      if (this.#accepted.has(i)) continue
      if (this.#view.holders[i] === 0 && this.#view.claimers[i] === 0) return false
    }
    return this.#view.live().length > 0
  }

  /** The first piece not yet written; pieces before it need no look (it only moves forward). */
  #firstMissing (): number {
    this.#cursor = this.#done.firstMissing(this.#cursor)
    return this.#cursor
  }

  /** What the pickers see; made once (a pick runs per request). */
  #pickState (): PickState {
    this.#state ??= this.#makePickState()
    return this.#state
  }

  #state: PickState | null = null

  #makePickState (): PickState {
    const { trust } = this.#init
    const firstMissing = (): number => this.#firstMissing()
    return {
      view: this.#view,
      done: this.#done,
      get cursor () { return firstMissing() },
      // In the endgame, a piece counts as free to race only once its request lags.
      busy: i => this.#inFlight.get(i) ?? 0,
      lagging: i => this.#lagging(i),
      accepted: i => this.#accepted.has(i),
      acceptable: trust.kind === 'manifest'
        ? () => true
        : trust.acceptPeers ? (i, fromClaimer) => fromClaimer || this.#view.vouched(i) : () => false,
      random: Math.random,
      mine: i => {
        const members = this.#shareMembers()
        return members.length < 2 || members[shareOwner(i, this.#view.size, members.length, this.#rotation)] === this.#init.self
      }
    }
  }

  #startWorkers (_peer: PeerState): void {
    this.#staffPeers()
    // A peer that joins changes who shares the origin's pieces.
    this.#wake('origin')
  }

  async #peerWorker (peer: PeerState): Promise<void> {
    peer.workers++
    let retired = false
    // Decided and counted at once. Counted when the worker's promise settled (a microtask later), workers woken
    // together all saw the same count and all left: a peer kept in the view with no worker, its pieces never asked
    // for, and the origin leaving them to it (lab, N = 16 on busy cores: 15 nodes stuck 4 pieces short for 300 s).
    const retire = (): boolean => {
      if (peer.workers <= this.#perPeer()) return false
      peer.workers--
      retired = true
      return true
    }
    try {
      await this.#work(peer, retire)
    } finally {
      if (!retired) peer.workers--
    }
  }

  /** Starts workers for the live peers up to what each may have now (more once peers have left). */
  #staffPeers (): void {
    const { trust } = this.#init
    if (trust.kind === 'vouched' && !trust.acceptPeers) return
    const each = this.#perPeer()
    for (const peer of this.#view.live()) {
      while (peer.workers < each && this.#running()) this.#background.push(this.#peerWorker(peer))
    }
  }

  async #work (peer: PeerState, retire: () => boolean): Promise<void> {
    const { network, sink, settings, file, live, trust } = this.#init
    const size = file.record.size ?? 0
    const pieceSize = file.record.pieceSize
    let idleSince = 0
    while (this.#running() && !peer.gone) {
      // Fewer workers per peer when there are many peers: the download's requests stay about REQUESTS in all.
      if (retire()) return
      const state = this.#pickState()
      const patient = idleSince === 0 || Date.now() - idleSince < SEED_PATIENCE
      let index = pickFromPeer(peer, state, false, patient)
      // Nothing new to ask this peer for: in the endgame, race another request.
      if (index == null && this.#allMissingInFlight()) index = pickFromPeer(peer, state, true)
      if (index == null) {
        idleSince ||= Date.now()
        // Woken when this peer has something new; the bound re-checks for the endgame's lagging requests, and
        // ends the patience at a seed.
        await this.#wait(`peer:${peer.id}`, patient && !peer.member ? SEED_PATIENCE : 1_000)
        continue
      }
      idleSince = 0
      const streamed = !peer.have.get(index)
      this.#begin(index)
      peer.fetching.add(index)
      if (streamed) peer.streaming++
      // Every request can be called off once the piece is had some other way (the endgame's other request, the
      // origin): the losing peer stops sending it (CANCEL), and neither side spends upload, decryption and hashing
      // on a copy that would be thrown away.
      const race = this.#enterRace(index)
      let receive: Buffer | undefined
      try {
        const { start, end } = pieceRange(index, size, pieceSize)
        await this.#init.limiter?.take(end - start, { signal: this.#signal })
        receive = this.#spare.pop() ?? allocatePieceBuffers(1, pieceSize)[0]!
        const bytes = await network.fetchPiece(peer.id, peer.key, index, { signal: race.signal, timeout: settings.peerTimeout * 1000, into: receive })
        file.addPeerBytes(bytes.byteLength)
        if (this.#done.get(index) || this.#accepted.has(index)) continue // the endgame's other request won
        const hash = bytes.byteLength === end - start ? sha256(bytes) : null
        const vouchers = hash == null ? null : await this.#check(index, hash, peer)
        if (vouchers == null) {
          this.#strike(peer, `piece ${index} of ${file.remoteName} failed its check`)
          continue
        }
        if (this.#done.get(index) || this.#accepted.has(index)) continue
        const buffer = await sink.allocate({ signal: this.#signal })
        if (this.#accepted.has(index)) { sink.release(buffer); continue }
        this.#accepted.add(index)
        this.#callOffRaces(index, race)
        // Before the sink takes the bytes: the live content copies them for peers that will ask soon.
        live.fromPeer(index, bytes, trust.kind === 'manifest' || vouchers.length > 0)
        if (trust.kind === 'vouched') file.peerSources.set(index, { sender: peer.id, hash: hash!, vouchers })
        if (bytes.buffer === receive.buffer && bytes.byteOffset === receive.byteOffset && buffer.byteLength === receive.byteLength) {
          sink.accept(index, receive, bytes.byteLength, 'peer', hash!) // the trade: see #spare
          receive = buffer
        } else {
          buffer.set(bytes) // the network did not use the receive buffer
          sink.accept(index, buffer, bytes.byteLength, 'peer', hash!)
        }
      } catch (err) {
        if (this.#signal.aborted) return
        if (race.controller.signal.aborted) continue // called off: the piece is here
        if ((err as { code?: string }).code === 'PEER_REFUSED') {
          // It does not serve the piece (any more), or gave up fetching it.
          this.#view.setHave(peer.id, index, false)
          this.#view.setClaim(peer.id, index, false)
        } else {
          this.#leave(peer.id) // vanished, timed out, or broke the protocol: its pieces go to the others
        }
      } finally {
        this.#leaveRace(index, race.controller)
        if (receive !== undefined) this.#spare.push(receive)
        peer.fetching.delete(index)
        if (streamed) {
          peer.streaming--
          // The next piece it fetches from the origin may be asked for now.
          this.#wake(`peer:${peer.id}`)
        }
        this.#end(index)
      }
    }
  }

  /** Requests in flight to one peer: `peerRequestsInFlight`, shared out when there are many peers (at least 2). */
  #perPeer (): number {
    const limit = this.#init.settings.peerRequestsInFlight
    return Math.min(limit, Math.max(2, Math.ceil(REQUESTS / Math.max(1, this.#view.live().length))))
  }

  /**
   * Whether a piece a peer sent may be used: its hash is the manifest's, or one a peer vouched for (waiting a
   * moment for the vouch of a piece that was streamed: it is sent as the piece completes). Returns the vouchers
   * (empty with a manifest), or null to refuse it.
   */
  async #check (index: number, hash: Uint8Array, sender: PeerState): Promise<string[] | null> {
    const { trust } = this.#init
    if (trust.kind === 'manifest') return equalBytes(hash, trust.hashes[index]!) ? [] : null
    const deadline = Date.now() + VOUCH_WAIT
    for (;;) {
      const vouchers = this.#view.vouchers(index, hash).filter(v => !this.#init.bans.banned(v))
      if (vouchers.length > 0) return vouchers
      // The sender vouched for another hash than the bytes it sent: a lie, not a race.
      if (this.#view.contradicting(index, hash).includes(sender.id) || Date.now() >= deadline || !this.#running()) return null
      await this.#wait('vouch', 50)
    }
  }

  /**
   * The endgame: every missing piece is being fetched, so a worker with nothing to do may race a request that has
   * been under way for a while (at most two requests a piece). The first copy in calls the other off (#callOffRaces),
   * so a race costs the part of a piece sent before then, not a piece. (It used to wait until no more pieces were
   * left than there are peers: a slow peer with eight requests held the end of a download for their whole time.)
   */
  #allMissingInFlight (): boolean {
    for (const i of this.#done.missing(this.#firstMissing())) {
      if (this.#accepted.has(i)) continue
      if (!this.#inFlight.has(i)) return false
    }
    return true
  }

  /** A piece whose first request has been in flight longer than ENDGAME_LAG (the endgame races only those). */
  #lagging (index: number): boolean {
    return Date.now() - (this.#since.get(index) ?? Infinity) > ENDGAME_LAG
  }

  /** Registers a request for a piece; its signal aborts with the download or when the piece is had otherwise. */
  #enterRace (index: number): { controller: AbortController, signal: AbortSignal } {
    const controller = new AbortController()
    let set = this.#races.get(index)
    if (set === undefined) this.#races.set(index, set = new Set())
    set.add(controller)
    return { controller, signal: AbortSignal.any([this.#signal, controller.signal]) }
  }

  #leaveRace (index: number, controller: AbortController): void {
    const set = this.#races.get(index)
    if (set === undefined) return
    set.delete(controller)
    if (set.size === 0) this.#races.delete(index)
  }

  /** The piece is had: the other requests for it are called off (the winner's own is left alone). */
  #callOffRaces (index: number, winner: { controller: AbortController } | null): void {
    const set = this.#races.get(index)
    if (set === undefined) return
    this.#races.delete(index)
    for (const c of set) if (c !== winner?.controller) c.abort()
  }

  #begin (index: number): void {
    const n = this.#inFlight.get(index) ?? 0
    if (n === 0) this.#since.set(index, Date.now())
    this.#inFlight.set(index, n + 1)
  }

  #end (index: number): void {
    const n = (this.#inFlight.get(index) ?? 1) - 1
    if (n > 0) {
      this.#inFlight.set(index, n)
    } else {
      this.#inFlight.delete(index)
      this.#since.delete(index)
    }
    if (n <= 0 && !this.#accepted.has(index) && !this.#done.get(index)) {
      // It did not come: others may fetch it now, the origin too if nobody holds it.
      this.#wakeHolders(index)
      this.#wake('origin')
    }
  }

  // ---- origin -----------------------------------------------------------------------------------------------

  #maxRun (): number {
    const { settings, file } = this.#init
    const alone = this.#view.live().length === 0 && this.#init.network.connectedPeers().length === 0
    if (this.#originRate === 0) return alone ? Math.min(16, settings.maxOriginRun) : 1
    return Math.max(1, Math.min(settings.maxOriginRun, Math.floor(this.#originRate * RUN_SECONDS / file.record.pieceSize)))
  }

  async #originLoop (): Promise<void> {
    const { origin, file, sink, live, trust, self } = this.#init
    const share = trust.kind === 'manifest' || trust.acceptPeers
    while (this.#running()) {
      const run: PieceRun | null = this.#originOpen
        ? pickOriginRun(this.#pickState(), {
          self,
          rotation: this.#rotation,
          share,
          maxRun: this.#maxRun(),
          ownerIdle: id => this.#ownerIdle(id),
          // The first runs, before peers that start at the same moment have said so: every connected peer counts as
          // one that downloads the content too, so that nodes released together start on different pieces.
          ...(this.#runs < ORIGIN_FETCHES ? { members: this.#prospectiveMembers() } : {})
        })
        : null
      if (run == null) {
        await this.#wait('origin')
        continue
      }
      this.#runs++
      const indices = Array.from({ length: run.count }, (_, k) => run.first + k)
      for (const i of indices) this.#begin(i)
      live.claim(indices)
      const started = performance.now()
      let runBytes = 0
      try {
        await origin.fetch(file, run, sink, {
          signal: this.#signal,
          limiter: this.#init.limiter,
          onPieceBytes: (i, offset, chunk) => { runBytes += chunk.byteLength; live.arriving(i, offset, chunk) },
          // A peer's copy still under way is called off once the origin's is checked (not before: it may fail).
          onPiece: (i, hash) => { this.#accepted.add(i); hash.then(h => { this.#callOffRaces(i, null); live.fromOrigin(i, h) }, () => {}) }
        })
        const seconds = (performance.now() - started) / 1000
        const rate = runBytes / Math.max(seconds, 0.001)
        this.#originRate = this.#originRate === 0 ? rate : 0.5 * this.#originRate + 0.5 * rate
      } catch (err) {
        live.unclaim(indices.filter(i => !this.#accepted.has(i)))
        if (this.#signal.aborted) return
        this.#originError = err
        return
      } finally {
        for (const i of indices) this.#end(i)
      }
    }
  }

  #members: { at: number, ids: string[] } | null = null

  /**
   * Who shares the pieces asked of a seed: the members, and the connected peers not joined yet (at the start, views
   * fill up over a moment; counted alike by everyone, the shares do not overlap). Made at most every 100 ms.
   */
  #shareMembers (): string[] {
    const now = Date.now()
    if (this.#members === null || now - this.#members.at > 100) this.#members = { at: now, ids: this.#prospectiveMembers() }
    return this.#members.ids
  }

  #prospectiveMembers (): string[] {
    const ids = new Set(this.#view.members())
    for (const id of this.#init.network.connectedPeers()) {
      if (!this.#view.has(id) && !this.#init.bans.banned(id)) ids.add(id)
    }
    return [...ids].sort()
  }

  /** A member that claims nothing, and has claimed nothing for a while, is not working through its share. */
  #ownerIdle (id: string): boolean {
    if (id === this.#init.self) return false
    const peer = this.#view.get(id)
    return peer === undefined || (peer.claims.size === 0 && Date.now() - peer.claimsChanged > IDLE_OWNER)
  }
}

/** Which member's turn the first block is, from the content's key: different files start at different members. */
function rotationOf (key: string): number {
  let h = 0
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0
  return h
}
