import { contentKey, decodeManifest, equalBytes, manifestCid, pieceCount, pieceRange, sha256 } from '@dopt/content'
import type { Manifest } from '@dopt/content'
import type { AbortOptions } from '@dopt/interface'
import type { OriginClient } from '@dopt/origin'
import type { Store } from '@dopt/store'
import type { JobFileImpl } from './job-file.js'
import type { PeerNetwork } from './network.js'
import type { EngineSettings } from './settings.js'

export interface ResolvedManifest {
  manifest: Manifest
  cid: string
  /** Peers that sent it: they hold the content. */
  peers: string[]
}

export interface ResolveContext extends AbortOptions {
  file: JobFileImpl
  store: Store
  client: OriginClient
  network: PeerNetwork
  settings: EngineSettings
  /** Peers banned for this file: a forged manifest bans its sender. */
  banned: Set<string>
}

/**
 * The manifest to check pieces against, by trust: pinned by the caller (self-certifying: its bytes must hash to
 * the CID) > one already stored for this file > one a peer offers for the content key, spot-checked against one
 * piece from the origin. Null when there is none: the file then comes from the origin, which builds one.
 */
export async function resolveManifest (ctx: ResolveContext): Promise<ResolvedManifest | null> {
  const { file, store, network } = ctx
  const size = file.record.size
  if (size == null) return null
  const cid = file.record.manifestCid
  if (cid != null) {
    const stored = await store.getManifest(cid)
    if (stored != null) return fits(decodeManifest(stored), file) ? { manifest: decodeManifest(stored), cid, peers: [] } : null
    if (file.record.manifestPinned) {
      const pinned = await fetchPinnedManifest(ctx)
      return pinned != null && fits(pinned.manifest, file) ? pinned : null
    }
  }
  const key = contentKey(file.remoteName, file.record.etag, size).toString()
  for await (const peer of network.findProviders(key, { signal: ctx.signal, timeout: ctx.settings.discoveryTimeout * 1000 })) {
    if (ctx.banned.has(peer)) continue
    const bytes: Uint8Array | null = await network.fetchManifest(peer, key, ctx).catch(() => null)
    if (bytes == null) continue
    let manifest: Manifest
    try {
      manifest = decodeManifest(bytes)
    } catch {
      ctx.banned.add(peer)
      continue
    }
    if (!fits(manifest, file) || !(await spotCheck(ctx, manifest))) {
      ctx.banned.add(peer)
      continue
    }
    const found = manifestCid(bytes).toString()
    await store.putManifest(found, bytes)
    return { manifest, cid: found, peers: [peer] }
  }
  return null
}

/**
 * The manifest the caller pinned, from the store or from any peer that has it: its bytes must hash to the CID, so
 * whoever sends it, it is the one the caller meant. Null when nobody has it.
 */
export async function fetchPinnedManifest (ctx: Omit<ResolveContext, 'client'>): Promise<ResolvedManifest | null> {
  const { file, store, network } = ctx
  const cid = file.record.manifestCid
  if (cid == null || !file.record.manifestPinned) return null
  const stored = await store.getManifest(cid)
  if (stored != null) return { manifest: decodeManifest(stored), cid, peers: [] }
  for await (const peer of network.findProviders(cid, { signal: ctx.signal, timeout: ctx.settings.discoveryTimeout * 1000 })) {
    const bytes: Uint8Array | null = await network.fetchManifest(peer, cid, ctx).catch(() => null)
    if (bytes == null || manifestCid(bytes).toString() !== cid) continue
    await store.putManifest(cid, bytes)
    return { manifest: decodeManifest(bytes), cid, peers: [peer] }
  }
  return null
}

function fits (manifest: Manifest, file: JobFileImpl): boolean {
  return manifest.size === file.record.size && manifest.pieceSize === file.record.pieceSize &&
    manifest.pieceHashes.length === pieceCount(manifest.size, manifest.pieceSize)
}

/** A peer's manifest is only as good as the peer: one random piece from the origin must match it. */
async function spotCheck (ctx: ResolveContext, manifest: Manifest): Promise<boolean> {
  if (manifest.pieceHashes.length === 0) return true
  const index = Math.floor(Math.random() * manifest.pieceHashes.length)
  const { start, end } = pieceRange(index, manifest.size, manifest.pieceSize)
  const bytes = Buffer.allocUnsafe(end - start)
  let at = 0
  const r = ctx.file.record
  await ctx.client.fetchRange(r.finalUrl ?? r.remoteName, {
    start, end, signal: ctx.signal, validator: { etag: r.etag, lastModified: r.lastModified },
    onData: chunk => { bytes.set(chunk, at); at += chunk.byteLength }
  })
  return equalBytes(sha256(bytes), manifest.pieceHashes[index]!)
}
