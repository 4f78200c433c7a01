import { readFile } from 'node:fs/promises'
import { decodeManifest, manifestCid } from '@dopt/content'
import type { Manifest } from '@dopt/content'
import type { OriginClient } from '@dopt/origin'
import type { Store } from '@dopt/store'
import type { JobFileImpl } from './job-file.js'
import type { PeerNetwork } from './network.js'
import type { EngineSettings } from './settings.js'

export interface ResolvedManifest {
  manifest: Manifest
  bytes: Uint8Array
  cid: string
  /** Peers that sent it: they hold the content. */
  peers: string[]
}

export interface ResolveContext {
  file: JobFileImpl
  store: Store
  /** Absent when the origin is down: then only the store and peers can say. */
  client?: OriginClient
  network?: PeerNetwork
  settings: EngineSettings
  signal?: AbortSignal
}

/** The suffix of the sidecar that holds a file's manifest on the origin, beside the file: `<URL path>.dopt-manifest`. */
export const SIDECAR_SUFFIX = '.dopt-manifest'
/** A manifest is at most this big (4 Mi pieces of 32-byte hashes, plus its header and strings). */
const MAX_MANIFEST = 130 * 1024 * 1024

/** Where a file's manifest sits on its origin: the file's URL with `.dopt-manifest` added to its path. */
export function sidecarUrl (url: string): string {
  const u = new URL(url)
  u.hash = ''
  u.pathname += SIDECAR_SUFFIX
  return u.href
}

/**
 * The manifest the caller pinned (by CID), from wherever its bytes are: the store, the place the caller gave
 * (`manifestFrom`), then peers and the origin's sidecar at once (whichever answers first). The bytes must hash to
 * the CID, so whoever sends them, they are the ones the caller meant. Bytes fetched from the origin count as the
 * file's origin bytes. Null when nobody has it.
 */
export async function resolvePinnedManifest (ctx: ResolveContext): Promise<ResolvedManifest | null> {
  const { file, store } = ctx
  const cid = file.record.manifestCid
  if (cid == null || !file.record.manifestPinned) return null
  const stored = await store.getManifest(cid)
  if (stored != null) return { manifest: decodeManifest(stored), bytes: stored, cid, peers: [] }
  const from = file.record.manifestFrom
  if (from != null) {
    const bytes = await fromSource(ctx, from).catch(() => null)
    if (bytes != null && manifestCid(bytes).toString() === cid) return await keep(ctx, cid, bytes, [])
  }
  const controller = new AbortController()
  const signal = ctx.signal == null ? controller.signal : AbortSignal.any([ctx.signal, controller.signal])
  const attempts: Array<Promise<ResolvedManifest | null>> = [fromPeers({ ...ctx, signal }, cid)]
  if (ctx.client != null) {
    attempts.push(fetchBytes(ctx, sidecarUrl(file.record.finalUrl ?? file.remoteName), signal)
      .then(async bytes => manifestCid(bytes).toString() === cid ? await keep(ctx, cid, bytes, []) : null, () => null))
  }
  try {
    return await firstNonNull(attempts)
  } finally {
    controller.abort()
  }
}

async function fromPeers (ctx: ResolveContext & { signal: AbortSignal }, cid: string): Promise<ResolvedManifest | null> {
  const { network, settings } = ctx
  if (network == null) return null
  try {
    for await (const peer of network.findProviders(cid, { signal: ctx.signal, timeout: settings.discoveryTimeout * 1000 })) {
      const bytes: Uint8Array | null = await network.fetchManifest(peer, cid, { signal: ctx.signal, timeout: settings.peerTimeout * 1000 }).catch(() => null)
      if (bytes == null || manifestCid(bytes).toString() !== cid) continue
      return await keep(ctx, cid, bytes, [peer])
    }
  } catch {
    // Aborted (the sidecar answered first), or no peers: the other source says.
  }
  return null
}

async function keep (ctx: ResolveContext, cid: string, bytes: Uint8Array, peers: string[]): Promise<ResolvedManifest> {
  const manifest = decodeManifest(bytes)
  await ctx.store.putManifest(cid, bytes)
  return { manifest, bytes, cid, peers }
}

/** `manifestFrom`: an http(s) URL, else an absolute path on this machine. */
async function fromSource (ctx: ResolveContext, from: string): Promise<Uint8Array> {
  if (/^https?:\/\//i.test(from)) return await fetchBytes(ctx, from, ctx.signal)
  const bytes = await readFile(from)
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** A small resource from the origin, whole; its body bytes count as the file's origin bytes. */
async function fetchBytes (ctx: ResolveContext, url: string, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let total = 0
  await ctx.client!.fetchRange(url, {
    start: 0,
    ...(signal !== undefined ? { signal } : {}),
    onData: chunk => {
      ctx.file.addOriginBytes(chunk.byteLength)
      total += chunk.byteLength
      if (total > MAX_MANIFEST) throw new RangeError('not a manifest: too large')
      chunks.push(Buffer.from(chunk))
    }
  })
  return Buffer.concat(chunks)
}

/** The first of `attempts` to resolve with a value, or null once all have resolved with none. */
async function firstNonNull<T> (attempts: Array<Promise<T | null>>): Promise<T | null> {
  return await new Promise<T | null>(resolve => {
    let left = attempts.length
    for (const attempt of attempts) {
      attempt.then(value => {
        if (value != null) resolve(value)
        else if (--left === 0) resolve(null)
      }, () => { if (--left === 0) resolve(null) })
    }
  })
}
