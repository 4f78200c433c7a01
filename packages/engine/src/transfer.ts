import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FileHandle } from 'node:fs/promises'
import { Bitfield, decodeManifest, encodeManifest, manifestCid, parseSha256Hex, equalBytes, pieceCount } from '@dopt/content'
import { ContentChangedError, LocalFileError, OriginProtocolError, OriginUnavailableError, ValidationFailedError } from '@dopt/interface'
import type { OriginClient, RemoteInfo } from '@dopt/origin'
import type { Store } from '@dopt/store'
import { syncFile } from './file-writer.js'
import { PieceSink } from './piece-sink.js'
import type { JobFileImpl } from './job-file.js'
import type { PieceOrigin, PieceRun, PieceSource } from './piece-source.js'
import type { EngineSettings } from './settings.js'
import { fetchPinnedManifest, resolveManifest } from './manifest-resolver.js'
import type { ResolvedManifest } from './manifest-resolver.js'
import type { PeerNetwork } from './network.js'
import { swarmDownload } from './swarm.js'
import type { RateLimiter } from './rate-limiter.js'

export interface TransferContext {
  file: JobFileImpl
  store: Store
  client: OriginClient
  origin: PieceSource
  settings: EngineSettings
  signal: AbortSignal
  /** Peers, unless the download mode is `http`. */
  network?: PeerNetwork
  /** Files smaller than this come from the origin only [DOMinFileSizeToCache]. */
  minPeerFileSize: number
  /** The download limit of the job's priority class. */
  limiter?: RateLimiter
  /** The origin answered: the job moves from connecting to transferring. */
  onConnected(): void
  /** A piece was verified and written. */
  onPiece(length: number, from: PieceOrigin): void
  /** The file's pieces were dropped (the remote copy changed): progress goes back. */
  onReset(): void
}

/**
 * Downloads the missing pieces of one file into its temporary file, then checks the whole-file SHA-256 (when given)
 * and records the manifest. Resumes from the saved bitmap; restarts the file when the origin's copy changed
 * (BITS' consistency rule: a file is never stitched from two versions).
 */
export async function transferFile (ctx: TransferContext): Promise<void> {
  for (let restarts = 0; ; restarts++) {
    try {
      await attempt(ctx)
      return
    } catch (err) {
      if (!(err instanceof ContentChangedError) || restarts >= ctx.settings.maxContentRestarts) throw err
      await resetFile(ctx, null)
    }
  }
}

async function attempt (ctx: TransferContext): Promise<void> {
  const { file, store, signal } = ctx
  const info = await headOrPinned(ctx)
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
    const hashes = await store.getHashes(file.record.jobId, file.index)
    const resolved = await peerManifest(ctx)
    const expected = resolved?.manifest.pieceHashes ?? await expectedHashes(ctx)
    const want = file.record.sha256 == null ? null : parseSha256Hex(file.record.sha256)
    // Hash the whole file on the way in when it streams from the origin from byte 0 in one go; pieces from peers
    // arrive out of order, and a resumed file has a head we did not see: those are read back at the end.
    const whole = want != null && resolved == null && (file.done?.count ?? 0) === 0 ? createHash('sha256') : null
    const sink = new PieceSink({
      file, handle, store, settings: ctx.settings, expected, hashes, onPiece: (index, length, from) => {
        if (file.done == null) file.streamed += length
        ctx.onPiece(length, from)
      }
    })
    try {
      if (resolved != null && ctx.network != null) {
        file.record.manifestCid = resolved.cid
        await swarmDownload({
          file, manifest: resolved.manifest, cid: resolved.cid, sink, network: ctx.network, origin: ctx.origin,
          settings: ctx.settings, signal, peers: resolved.peers, banned: file.bannedPeers, limiter: ctx.limiter
        })
      } else {
        for (const run of missingRuns(file)) {
          await ctx.origin.fetch(file, run, sink, { signal, limiter: ctx.limiter, onBytes: whole == null ? undefined : chunk => whole.update(chunk) })
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
      await store.putPieces(file.record.jobId, file.index, { done: done?.toBytes() ?? new Uint8Array(), fromPeer: file.fromPeer?.toBytes() ?? new Uint8Array(), hashes: [] })
    }
    if (file.done?.full !== true) throw new OriginProtocolError(`${file.remoteName} ended before all its pieces arrived`, { context: 'remote-file', url: file.remoteName })
    if (file.record.size != null) await handle.truncate(file.record.size)
    // On the disk before the file counts as transferred: direct writes skip the page cache but not the device's
    // cache or the file's size, and buffered ones (the fallback) are only in memory until now.
    await syncFile(handle, file.temporaryName)
    if (want != null) {
      const got = whole != null ? new Uint8Array(whole.digest()) : await hashFile(file.temporaryName)
      if (!equalBytes(got, want)) {
        throw new ValidationFailedError(`the SHA-256 of ${file.remoteName} does not match the one given`, { context: 'remote-file', url: file.remoteName })
      }
    }
    await recordManifest(ctx, hashes)
  } finally {
    await handle.close()
  }
  file.record.completed = true
  await store.putFile(file.record)
}

/**
 * What the origin says of the file; or, when the origin is unreachable but the caller pinned a manifest that a peer
 * (or the store) has, null with the file sized from that manifest: its CID proves the content, so peers may serve it
 * while the origin is down. Otherwise the origin's error stands.
 */
async function headOrPinned (ctx: TransferContext): Promise<RemoteInfo | null> {
  const { file, client, signal, network } = ctx
  try {
    return await client.head(file.remoteName, { signal })
  } catch (err) {
    if (!(err instanceof OriginUnavailableError) || network == null || !file.record.manifestPinned || file.record.originOnly) throw err
    const pinned = await fetchPinnedManifest({ file, store: ctx.store, network, settings: ctx.settings, banned: file.bannedPeers, signal })
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

async function openTemporary (file: JobFileImpl): Promise<FileHandle> {
  const resume = (file.done?.count ?? 0) > 0
  try {
    if (resume) {
      try {
        return await open(file.temporaryName, 'r+')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        // The temporary file is gone: its pieces are too.
        file.done?.clear()
        file.fromPeer?.clear()
      }
    }
    return await open(file.temporaryName, 'w+')
  } catch (err) {
    throw new LocalFileError(`cannot open ${file.temporaryName}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: file.temporaryName })
  }
}

/**
 * The manifest to share the download with peers, when peers may be used for this file: not in mode `http`, not
 * after the application rejected peer content (origin only), not for small files, not when nothing is missing.
 */
async function peerManifest (ctx: TransferContext): Promise<ResolvedManifest | null> {
  const { file, network } = ctx
  if (network == null || file.record.originOnly || file.record.size == null || file.record.size < ctx.minPeerFileSize) return null
  if (file.done?.full === true) return null
  return await resolveManifest({
    file, store: ctx.store, client: ctx.client, network, settings: ctx.settings, banned: file.bannedPeers, signal: ctx.signal
  })
}

/** Piece hashes to check against: those of a manifest the caller pinned, when it is in the store. */
async function expectedHashes (ctx: TransferContext): Promise<Uint8Array[] | null> {
  const cid = ctx.file.record.manifestCid
  if (cid == null || !ctx.file.record.manifestPinned) return null
  const bytes = await ctx.store.getManifest(cid)
  if (bytes == null) return null
  const manifest = decodeManifest(bytes)
  if (manifest.size !== ctx.file.record.size || manifest.pieceSize !== ctx.file.record.pieceSize) {
    throw new ValidationFailedError(`the manifest ${cid} does not describe ${ctx.file.remoteName}`, { context: 'remote-file', url: ctx.file.remoteName })
  }
  return manifest.pieceHashes
}

/** Records the manifest of the finished file (piece hashes as verified), so the node can offer it to peers. */
async function recordManifest (ctx: TransferContext, hashes: Map<number, Uint8Array>): Promise<void> {
  const { file, store } = ctx
  // A manifest already in use (pinned, or from peers and checked piece by piece) stays: peers know it by that CID.
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

async function hashFile (path: string): Promise<Uint8Array> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return new Uint8Array(hash.digest())
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
