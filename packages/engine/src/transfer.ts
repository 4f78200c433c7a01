import { createHash } from 'node:crypto'
import { open, statfs } from 'node:fs/promises'
import { constants } from 'node:fs'
import { dirname } from 'node:path'
import type { FileHandle } from 'node:fs/promises'
import { Bitfield, contentKey, encodeManifest, equalBytes, manifestCid, parseSha256Hex, pieceCount } from '@dopt/content'
import {
  ContentChangedError, LocalFileError, ManifestUnavailableError, OriginProtocolError, OriginUnavailableError, SizeMismatchError,
  ValidationFailedError
} from '@dopt/interface'
import type { OriginClient, RemoteInfo } from '@dopt/origin'
import type { Store } from '@dopt/store'
import type { Bans } from './bans.js'
import { syncFile } from './file-writer.js'
import { primaryGroup, processUid } from './notify-command.js'
import { PieceSink } from './piece-sink.js'
import type { JobFileImpl } from './job-file.js'
import { LiveContent } from './live-content.js'
import type { LiveRegistry } from './live-content.js'
import type { PieceOrigin, PieceRun, PieceSource } from './piece-source.js'
import type { PieceMemory } from './piece-memory.js'
import type { EngineSettings } from './settings.js'
import { resolvePinnedManifest } from './manifest-resolver.js'
import type { ResolvedManifest } from './manifest-resolver.js'
import type { PeerNetwork } from './network.js'
import { swarmDownload } from './swarm.js'
import type { SwarmTrust } from './swarm.js'
import type { RateLimiter } from './rate-limiter.js'
import { WholeFileHash } from './whole-file-hash.js'
import type { PieceHasher } from './piece-hasher.js'

/** What a node that shares with peers brings to a transfer. */
export interface PeerContext {
  network: PeerNetwork
  /** This node's peer id. */
  self: string
  live: LiveRegistry
  memory: PieceMemory
  bans: Bans
  /** The group is private (pre-shared key): its members are as trusted as an end-to-end check. */
  privateGroup: boolean
  directReads: boolean
}

export interface TransferContext {
  file: JobFileImpl
  store: Store
  client: OriginClient
  origin: PieceSource
  /** Hashes pieces off the receiving thread; without it, on it. */
  hasher?: PieceHasher
  settings: EngineSettings
  signal: AbortSignal
  /** Peers, unless the download mode is `http`. */
  peers?: PeerContext
  /** Files smaller than this come from the origin only [DOMinFileSizeToCache]. */
  minPeerFileSize: number
  /** The download limit of the job's priority class. */
  limiter?: RateLimiter
  /** Seconds to wait for peers before taking pieces nobody holds from the origin (the job's priority class). */
  originDelay: number
  /** The application checks each file when it arrives (a `fileTransferred` callback): an end-to-end check. */
  validates: boolean
  /** The origin answered: the job moves from connecting to transferring. */
  onConnected(): void
  /** A piece was verified and written. */
  onPiece(length: number, from: PieceOrigin): void
  /** The file's pieces were dropped (the remote copy changed): progress goes back. */
  onReset(): void
  /** Something to tell the application once (see JobEventMap's `notice`). */
  onNotice(code: string, message: string): void
}

/** Bytes of pieces that arrive ahead of order kept in memory for the whole-file SHA-256 (else read back at the end). */
const WHOLE_HASH_MEMORY = 64 * 1024 * 1024

/**
 * Downloads the missing pieces of one file into its temporary file, then checks the whole-file SHA-256 (when given)
 * and records the manifest. Resumes from the saved bitmap; restarts the file when the origin's copy changed
 * (BITS' consistency rule: a file is never stitched from two versions). A file that fails its check after taking
 * pieces from peers has those pieces fetched again from the origin (`repairFromOrigin`) and is checked again.
 */
export async function transferFile (ctx: TransferContext): Promise<void> {
  let correction: SizeCorrection | null = null
  for (let restarts = 0, repairs = 0; ;) {
    try {
      if (await attempt(ctx, correction) === 'done') return
      if (++repairs > 1) throw new ValidationFailedError(`${ctx.file.remoteName} failed its check twice`, { context: 'remote-file', url: ctx.file.remoteName })
    } catch (err) {
      if (err instanceof SizeMismatchError && correction == null && err.expectedSize !== undefined) {
        // The HEAD's size was wrong; the GETs carry the file, so their size stands. Once: if the GETs disagree
        // with it too, the origin cannot say what the file is, and the error ends the job.
        correction = { headSize: err.expectedSize, size: err.actualSize ?? null }
        ctx.onNotice('SIZE_MISMATCH', `the origin's HEAD said ${err.expectedSize} bytes for ${ctx.file.remoteName}, its GET ${err.actualSize ?? 'another size'}: the file starts over with the GET's size`)
        await resetFile(ctx, null)
        continue
      }
      if (!(err instanceof ContentChangedError) || restarts++ >= ctx.settings.maxContentRestarts) throw err
      await resetFile(ctx, null)
    }
  }
}

/** A HEAD size the GETs contradicted, and theirs (null: unknown, the file streams to its end). */
interface SizeCorrection {
  headSize: number
  size: number | null
}

async function attempt (ctx: TransferContext, correction: SizeCorrection | null): Promise<'done' | 'repair'> {
  const { file, store, signal } = ctx
  let info = await headOrPinned(ctx)
  if (info != null && correction != null && info.size === correction.headSize) info = { ...info, size: correction.size }
  ctx.onConnected()
  if (info != null) {
    if (changed(file, info)) await resetFile(ctx, info)
    Object.assign(file.record, { etag: info.etag, lastModified: info.lastModified, finalUrl: info.url, acceptRanges: info.acceptRanges })
    if (file.record.size == null && info.size != null) file.setSize(info.size)
  }
  await store.putFile(file.record)

  await checkFreeSpace(file)
  const handle = await openTemporary(file)
  try {
    file.hashes ??= await store.getHashes(file.record.jobId, file.index)
    const hashes = file.hashes
    // Pieces dropped to be fetched again from the origin keep the hash they had: the origin's says who lied.
    const dropped = new Map<number, Uint8Array>()
    for (const [i, h] of hashes) if (file.done?.get(i) !== true) dropped.set(i, h)
    const pinned = await pinnedManifest(ctx)
    const plan = await planPeers(ctx, pinned)
    // The whole file's SHA-256, when one was given. A pinned manifest needs none: every piece is checked against
    // it, so a file made of matching pieces is the publisher's (its own sha256 field would be a second pass over
    // every byte, ~0.8 CPU-s per GiB, for nothing more).
    const want = file.record.sha256 != null ? parseSha256Hex(file.record.sha256) : null
    const size = file.record.size
    const whole = want != null && size != null ? new WholeFileHash(size, file.record.pieceSize, WHOLE_HASH_MEMORY) : null
    const sink = new PieceSink({
      file, handle, store, settings: ctx.settings, expected: pinned?.manifest.pieceHashes ?? null, hashes,
      ...(ctx.hasher != null ? { hasher: ctx.hasher } : {}),
      onAccept: whole == null ? undefined : (index, bytes) => { whole.add(index, bytes, () => file.live?.kept(index)) },
      onPiece: (index, length, from, hash) => {
        if (file.done == null) file.streamed += length
        if (from === 'origin') compareWithDropped(ctx, index, hash, dropped)
        ctx.onPiece(length, from)
      }
    })
    // A file of unknown size streams from the origin in one go, hashed on the way in.
    const streaming = size == null && want != null ? new StreamHash() : null
    try {
      if (plan != null && ctx.peers != null && file.done != null) {
        await swarmDownload({
          file, key: plan.key, trust: plan.trust, sink, network: ctx.peers.network, origin: ctx.origin, live: plan.live,
          self: ctx.peers.self, settings: ctx.settings, originDelay: ctx.originDelay, signal, bans: ctx.peers.bans,
          peers: pinned?.peers ?? [], limiter: ctx.limiter
        })
      } else {
        for (const run of missingRuns(file)) {
          await ctx.origin.fetch(file, run, sink, { signal, limiter: ctx.limiter, onBytes: streaming == null ? undefined : chunk => { streaming.update(chunk) } })
        }
      }
    } finally {
      await sink.close()
    }
    if (file.done == null) {
      // Unknown size: the body's end fixed it. Every piece arrived, all from the origin.
      file.setSize(file.streamed)
      const done = file.done as Bitfield | null
      for (let i = 0; i < (done?.length ?? 0); i++) done?.set(i)
      await store.putPieces(file.record.jobId, file.index, { done: done?.toBytes() ?? new Uint8Array(), fromPeer: file.fromPeer?.toBytes() ?? new Uint8Array(), hashes: [], file: file.record })
    }
    if (file.done?.full !== true) throw new OriginProtocolError(`${file.remoteName} ended before all its pieces arrived`, { context: 'remote-file', url: file.remoteName })
    if (file.record.size != null) await handle.truncate(file.record.size)
    // On the disk before the file counts as transferred: direct writes skip the page cache but not the device's
    // cache or the file's size, and buffered ones (the fallback) are only in memory until now.
    await syncFile(handle, file.temporaryName)
    if (want != null) {
      const got = streaming != null ? streaming.digest() : await whole!.digest(file.temporaryName)
      if (!equalBytes(got, want)) {
        const message = `the SHA-256 of ${file.remoteName} does not match the one given`
        // What came from peers is fetched again from the origin, and compared piece by piece (the mission's rule).
        if (await repairFromOrigin(ctx)) return 'repair'
        throw new ValidationFailedError(message, { context: 'remote-file', url: file.remoteName })
      }
      // Checked end to end: every piece may be vouched for now.
      file.live?.checked()
    } else if (pinned != null) {
      file.live?.checked()
    }
    await recordManifest(ctx, hashes)
  } finally {
    await handle.close()
  }
  file.record.completed = true
  await store.putFile(file.record)
  return 'done'
}

interface PeerPlan {
  key: string
  trust: SwarmTrust
  live: LiveContent
}

/**
 * The manifest the caller pinned, wherever its bytes are (`resolvePinnedManifest`), checked against the file: its
 * size must be the origin's. A file with no piece yet takes the manifest's piece size (a publisher may choose
 * another than this node's); one with pieces of another size starts over. MANIFEST_UNAVAILABLE when nobody has it:
 * a pinned file is never downloaded unchecked.
 */
async function pinnedManifest (ctx: TransferContext): Promise<ResolvedManifest | null> {
  const { file } = ctx
  if (!file.record.manifestPinned || file.done?.full === true) return null
  const resolved = await resolvePinnedManifest({ file, store: ctx.store, client: ctx.client, network: ctx.peers?.network, settings: ctx.settings, signal: ctx.signal })
  if (resolved == null) {
    throw new ManifestUnavailableError(`the manifest ${file.record.manifestCid ?? ''} pinned for ${file.remoteName} is not in the store, beside the file on the origin, or with any peer`, { context: 'remote-file', url: file.remoteName })
  }
  const { manifest } = resolved
  if (manifest.size !== file.record.size) {
    throw new ValidationFailedError(`the manifest ${resolved.cid} does not describe ${file.remoteName}: it is for ${manifest.size} bytes, the origin has ${file.record.size ?? 'an unknown size'}`, { context: 'remote-file', url: file.remoteName })
  }
  if (manifest.pieceSize !== file.record.pieceSize) {
    if ((file.done?.count ?? 0) > 0) {
      const { etag, lastModified } = file.record
      await resetFile(ctx, null)
      Object.assign(file.record, { etag, lastModified })
    }
    file.record.pieceSize = manifest.pieceSize
    file.setSize(manifest.size)
    await ctx.store.putFile(file.record)
  }
  if (!fits(resolved, file)) {
    throw new ValidationFailedError(`the manifest ${resolved.cid} does not describe ${file.remoteName}`, { context: 'remote-file', url: file.remoteName })
  }
  return resolved
}

/**
 * How this file uses peers (docs/architecture.md, "Trust"), or null for the origin alone: mode `http`, small files,
 * files whose peer content was rejected (origin only), unknown sizes. With a pinned manifest every piece is checked
 * against it and may be served at once; without one, a piece from a peer must match a hash a peer vouched for, and
 * is taken only when something checks the whole file (the SHA-256, the application's validation, a private group,
 * or a group the operator trusts). Either way the download serves what it may to peers while it runs.
 */
async function planPeers (ctx: TransferContext, manifest: ResolvedManifest | null): Promise<PeerPlan | null> {
  const { file, peers, settings } = ctx
  const size = file.record.size
  if (peers == null || file.record.originOnly || size == null || size < ctx.minPeerFileSize || file.done?.full === true) {
    await closeLive(file)
    return null
  }
  const key = contentKey(file.remoteName, file.record.etag, size).toString()
  let trust: SwarmTrust
  if (manifest != null) {
    trust = { kind: 'manifest', hashes: manifest.manifest.pieceHashes }
  } else {
    const acceptPeers = file.record.sha256 != null || ctx.validates || peers.privateGroup || settings.trustGroup
    if (!acceptPeers) {
      ctx.onNotice('ORIGIN_ONLY', `${file.remoteName} has no end-to-end check, so nothing is taken from peers (a peer could send wrong bytes that nothing would catch): it comes from the origin, and its pieces are still served to peers that can check them. Pass its SHA-256 (--sha256) or a publisher's manifest (--manifest) to share it safely.`)
    }
    trust = { kind: 'vouched', acceptPeers }
  }
  const swarmKey = manifest?.cid ?? key
  let live = file.live
  if (live == null || live.contentKey !== key || live.manifestCid !== (manifest?.cid ?? null)) {
    await closeLive(file)
    live = new LiveContent({
      file, contentKey: key, manifest: manifest == null ? null : { cid: manifest.cid, bytes: manifest.bytes },
      hashes: file.hashes!, memory: peers.memory, directReads: peers.directReads, registry: peers.live
    })
    file.live = live
  }
  // Announced, so that DHT peers find it; best effort (a lone node has no DHT peers).
  for (const k of live.keys) void peers.network.provide(k).catch(() => {})
  return { key: swarmKey, trust, live }
}

async function closeLive (file: JobFileImpl): Promise<void> {
  const live = file.live
  file.live = null
  await live?.close('gone')
}

function fits (resolved: ResolvedManifest, file: JobFileImpl): boolean {
  const { manifest } = resolved
  return manifest.size === file.record.size && manifest.pieceSize === file.record.pieceSize &&
    manifest.pieceHashes.length === pieceCount(manifest.size, manifest.pieceSize)
}

/**
 * The file failed its end-to-end check with pieces from peers in it: those pieces are dropped (the origin's stay)
 * and the file goes on from the origin alone; as each comes back it is compared with what the peers sent
 * (`compareWithDropped`), and the peers that vouched for wrong bytes are banned. False when no piece came from a
 * peer (the origin's content itself fails: nothing to repair).
 */
export async function repairFromOrigin (ctx: Pick<TransferContext, 'file' | 'store' | 'onReset'>): Promise<boolean> {
  const { file, store } = ctx
  const fromPeer = file.fromPeer
  if (fromPeer == null || fromPeer.count === 0 || file.done == null) return false
  const dropped = [...fromPeer.setBits()]
  for (const i of dropped) {
    file.done.set(i, false)
    fromPeer.set(i, false)
  }
  file.live?.lost(dropped)
  await closeLive(file)
  Object.assign(file.record, { originOnly: true, completed: false, validationState: 'unset', transferredNotified: false })
  await store.putPieces(file.record.jobId, file.index, { done: file.done.toBytes(), fromPeer: fromPeer.toBytes(), hashes: [], file: file.record })
  ctx.onReset()
  return true
}

/** A piece fetched again from the origin after a failed check: a peer that vouched for other bytes lied. */
function compareWithDropped (ctx: TransferContext, index: number, hash: Uint8Array, dropped: Map<number, Uint8Array>): void {
  const before = dropped.get(index)
  if (before === undefined) return
  dropped.delete(index)
  const source = ctx.file.peerSources.get(index)
  ctx.file.peerSources.delete(index)
  if (equalBytes(before, hash)) return
  ctx.file.rejectedPieces++
  if (source == null || ctx.peers == null) return
  // Whoever vouched for the wrong hash lied; a sender that passed on bytes matching another's vouch did not.
  const liars = source.vouchers.length > 0 ? source.vouchers : [source.sender]
  for (const peer of liars) {
    ctx.peers.bans.ban(peer, `piece ${index} of ${ctx.file.remoteName} differs from the origin's`)
    ctx.file.bannedPeers.add(peer)
  }
}

/**
 * What the origin says of the file; or, when the origin is unreachable but the caller pinned a manifest that a peer
 * (or the store) has, null with the file sized from that manifest: its CID proves the content, so peers may serve it
 * while the origin is down. Otherwise the origin's error stands.
 */
async function headOrPinned (ctx: TransferContext): Promise<RemoteInfo | null> {
  const { file, client, signal, peers } = ctx
  try {
    return await client.head(file.remoteName, { signal })
  } catch (err) {
    if (!(err instanceof OriginUnavailableError) || peers == null || !file.record.manifestPinned || file.record.originOnly) throw err
    const pinned = await resolvePinnedManifest({ file, store: ctx.store, network: peers.network, settings: ctx.settings, signal })
    if (pinned == null) throw err
    if (file.record.size !== pinned.manifest.size || file.record.pieceSize !== pinned.manifest.pieceSize) {
      await resetFile(ctx, null)
      file.record.pieceSize = pinned.manifest.pieceSize
      file.setSize(pinned.manifest.size)
    }
    return null
  }
}

/** True when the origin's copy is not the one the saved pieces came from. */
function changed (file: JobFileImpl, info: RemoteInfo): boolean {
  const r = file.record
  if (r.size == null) return (file.done?.count ?? 0) > 0 || file.streamed > 0
  if (info.size == null) return true
  if (info.size !== r.size) return true
  if (r.etag != null || info.etag != null) return info.etag !== r.etag
  return info.lastModified !== r.lastModified
}

/** Drops every piece of the file, and its manifest unless the caller pinned it. */
export async function resetFile (ctx: Pick<TransferContext, 'file' | 'store' | 'onReset'>, info: RemoteInfo | null): Promise<void> {
  const { file, store } = ctx
  Object.assign(file.record, {
    size: null, etag: info?.etag ?? null, lastModified: info?.lastModified ?? null, completed: false,
    validationState: 'unset', transferredNotified: false
  })
  if (!file.record.manifestPinned) file.record.manifestCid = null
  file.streamed = 0
  file.hashes = new Map()
  file.peerSources.clear()
  await closeLive(file)
  file.setSize(info?.size ?? null)
  await store.resetFile(file.record)
  ctx.onReset()
}

function * missingRuns (file: JobFileImpl): Generator<PieceRun> {
  if (file.done == null) {
    yield { first: 0, count: Number.MAX_SAFE_INTEGER }
    return
  }
  let first = -1
  for (let i = 0; i <= file.done.length; i++) {
    const missing = i < file.done.length && !file.done.get(i)
    if (missing && first < 0) first = i
    if (!missing && first >= 0) {
      yield { first, count: i - first }
      first = -1
    }
  }
}

/**
 * Opens the temporary file, never through a symbolic link: a daemon running as root writes into folders of its
 * callers, who could otherwise point the temporary name at a file of the system. A node running as root gives the
 * file to the job's owner, by its descriptor (no path to race).
 */
async function openTemporary (file: JobFileImpl): Promise<FileHandle> {
  const resume = (file.done?.count ?? 0) > 0
  try {
    let handle: FileHandle | null = null
    if (resume) {
      try {
        handle = await open(file.temporaryName, constants.O_RDWR | constants.O_NOFOLLOW)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        // The temporary file is gone: its pieces are too.
        file.done?.clear()
        file.fromPeer?.clear()
      }
    }
    handle ??= await open(file.temporaryName, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644)
    const owner = file.ownerUid
    if (processUid() === 0 && owner !== 0) {
      await handle.chown(owner, await primaryGroup(owner) ?? owner).catch(async (err: unknown) => {
        await handle.close()
        throw err
      })
    }
    return handle
  } catch (err) {
    throw new LocalFileError(`cannot open ${file.temporaryName}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: file.temporaryName })
  }
}

/** Records the manifest of the finished file (piece hashes as verified), so the node can offer it to peers. */
async function recordManifest (ctx: TransferContext, hashes: Map<number, Uint8Array>): Promise<void> {
  const { file, store } = ctx
  // A manifest already in use (pinned) stays: peers know it by that CID.
  if (file.record.manifestCid != null && await store.getManifest(file.record.manifestCid) != null) return
  const size = file.record.size ?? 0
  const count = pieceCount(size, file.record.pieceSize)
  const pieceHashes: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const h = hashes.get(i)
    if (h == null) return // a piece from an older run without a saved hash: no manifest this time
    pieceHashes.push(h)
  }
  const encoded = encodeManifest({
    size, pieceSize: file.record.pieceSize, pieceHashes,
    sha256: file.record.sha256 == null ? null : parseSha256Hex(file.record.sha256),
    source: { url: file.remoteName, etag: file.record.etag, lastModified: file.record.lastModified }
  })
  const cid = manifestCid(encoded).toString()
  await store.putManifest(cid, encoded)
  if (!file.record.manifestPinned) file.record.manifestCid = cid
}

/** SHA-256 of a body that streams in order (a file of unknown size). */
class StreamHash {
  readonly #hash = createHash('sha256')

  update (chunk: Uint8Array): void {
    this.#hash.update(chunk)
  }

  digest (): Uint8Array {
    return new Uint8Array(this.#hash.digest())
  }
}

/**
 * Fails at once, before any byte moves, when the file's folder has less free space than the file still needs
 * (LOCAL_FILE): otherwise the download would run until the disk is full. Space taken by others while it runs still
 * ends it with ENOSPC (LOCAL_FILE too). Unknown sizes and file systems that cannot tell are not checked.
 */
async function checkFreeSpace (file: JobFileImpl): Promise<void> {
  const size = file.record.size
  if (size == null) return
  const needed = size - file.getProgress().bytesTransferred
  if (needed <= 0) return
  const dir = dirname(file.temporaryName)
  const fs = await statfs(dir).catch(() => null)
  if (fs == null) return
  const free = fs.bavail * fs.bsize
  if (needed > free) {
    throw new LocalFileError(`not enough free space in ${dir} for ${file.localName}: it needs ${needed} more bytes, ${free} are free`, { context: 'local-file', path: file.localName })
  }
}
