import { join } from 'node:path'
import { ContentServerImpl, LiveRegistry, SeedCache, createJobEngine } from '@dopt/engine'
import type { Ban, JobEngine } from '@dopt/engine'
import type { P2P, PeerInfo } from '@dopt/p2p'
import type { CacheRecord } from '@dopt/store'
import { LocalFileError, makeDirectory } from '@dopt/interface'
import type { JobManager } from '@dopt/interface'
import { createOriginClient } from '@dopt/origin'
import { openLevelStore } from '@dopt/store'
import { checkMode, defaultDataDir } from './config.js'
import { peerNetwork } from './network.js'
import type { DownloadMode, NodeConfig } from './config.js'

/** What a node has done since it started. */
export interface NodeStats {
  /** Piece bytes served to peers, from the seeding cache and from running downloads. */
  bytesUploaded: number
  piecesUploaded: number
  /** Peers banned for sending wrong content. */
  peersBanned: number
  /** Pieces from peers that the origin contradicted when they were fetched again. */
  piecesRejected: number
  /** Body bytes the origin sent to every job since the node started (ended jobs included). */
  bytesFromOrigin: number
  /** Piece bytes received from peers by every job since the node started (ended jobs included). */
  bytesFromPeers: number
}

/** A running dopt node. */
export interface DoptNode {
  /** BITS' IBackgroundCopyManager: create, get and enumerate jobs. */
  readonly jobs: JobManager
  readonly dataDir: string
  readonly mode: DownloadMode
  /** This node's peer id; null in mode `http`. */
  readonly peerId: string | null
  /** Addresses peers can dial (with /p2p/<id>); empty in mode `http`. */
  getMultiaddrs(): string[]
  /** Connected peers and how each was found. */
  getPeers(): PeerInfo[]
  /** What this node has sent to peers since it started (zeros in mode `http`). */
  getStats(): NodeStats
  /** What the seeding cache holds. */
  getCacheItems(): Promise<CacheRecord[]>
  /** Peers this node takes no content from (they sent wrong content), and why. */
  getBannedPeers(): Ban[]
  /**
   * Applies new settings to the running node (a daemon's reload): what can change at run time changes, the rest is
   * listed as needing a restart. Settings left out keep their values.
   */
  reconfigure(config: NodeConfig): Reconfigured
  /** Halts transfers (jobs are kept and resume on the next start) and closes the database. */
  stop(): Promise<void>
}

/** What `reconfigure` did. */
export interface Reconfigured {
  /** Settings now in force. */
  applied: string[]
  /** Settings that differ but take effect only when the node starts again. */
  restartNeeded: string[]
}

/** Settings a running node takes without a restart. */
export const RUNTIME_SETTINGS = ['foregroundDownloadRate', 'backgroundDownloadRate', 'uploadRate', 'maxCacheSize', 'maxCacheAge'] as const

/**
 * Starts a node: opens the database in `dataDir`, loads the saved jobs, and resumes those that were transferring.
 * One process at a time may own a data folder; a second one fails with `LOCAL_FILE`.
 */
export async function createNode (config: NodeConfig = {}): Promise<DoptNode> {
  const dataDir = config.dataDir ?? defaultDataDir()
  const mode = checkMode(config.mode ?? 'lan')
  try {
    await makeDirectory(dataDir)
  } catch (err) {
    throw new LocalFileError(`cannot create the data folder ${dataDir}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: dataDir })
  }
  const store = await openLevelStore({ location: join(dataDir, 'db') })
  let p2p: P2P | null = null
  let engine: JobEngine
  let cache: SeedCache | null = null
  try {
    let peers: Parameters<typeof createJobEngine>[0]['peers']
    if (mode !== 'http') {
      cache = new SeedCache({ store }, {
        dir: join(dataDir, 'cache'), maxCacheSize: config.maxCacheSize, maxCacheAge: config.maxCacheAge,
        minFileSizeToCache: config.minFileSizeToCache, directReads: config.directReads
      })
      // Peers are served from the cache and from running downloads alike.
      const live = new LiveRegistry()
      // Loaded only when peers are wanted: libp2p takes about a second to import, which `--mode http` never pays.
      const { createP2P } = await import('@dopt/p2p')
      p2p = await createP2P({
        listen: config.listen, peers: config.peers, groupId: config.groupId, psk: config.psk, dataDir,
        // lan: mDNS only; group: mDNS and the group's private DHT; internet: the DHT too, mDNS for the LAN.
        mdns: config.mdns ?? true, ...(config.mdnsInterface !== undefined ? { mdnsInterface: config.mdnsInterface } : {}), dht: mode !== 'lan', maxConcurrentUploads: config.maxConcurrentUploads,
        maxUploadsPerPeer: config.maxUploadsPerPeer, uploadRate: config.uploadRate,
        ...(config.protocolVersions !== undefined ? { protocolVersions: config.protocolVersions } : {})
      }, { content: new ContentServerImpl(cache, live) })
      const network = peerNetwork(p2p)
      await cache.start(network)
      peers = { network, self: p2p.peerId, live, privateGroup: config.psk !== undefined, directReads: config.directReads ?? true }
    }
    engine = await createJobEngine({
      store, originClient: createOriginClient(config.origin), ...(peers != null && cache != null ? { peers, cache } : {})
    }, config)
  } catch (err) {
    await p2p?.stop()
    await store.close()
    throw err
  }
  let stopping: Promise<void> | null = null
  const current: NodeConfig = { ...config }
  return {
    jobs: engine,
    dataDir,
    mode,
    peerId: p2p?.peerId ?? null,
    getMultiaddrs: () => p2p?.getMultiaddrs() ?? [],
    getPeers: () => p2p?.getPeers() ?? [],
    getStats: () => ({ bytesUploaded: 0, piecesUploaded: 0, ...p2p?.getStats(), ...engine.stats() }),
    getBannedPeers: () => engine.bannedPeers(),
    getCacheItems: async () => await (cache?.list() ?? Promise.resolve([])),
    reconfigure (next: NodeConfig): Reconfigured {
      const applied: string[] = []
      const restartNeeded: string[] = []
      for (const key of Object.keys(next) as Array<keyof NodeConfig>) {
        if (JSON.stringify(next[key]) === JSON.stringify(current[key])) continue
        if (!(RUNTIME_SETTINGS as readonly string[]).includes(key)) {
          restartNeeded.push(key)
          continue
        }
        const value = next[key] as number
        if (key === 'foregroundDownloadRate') engine.setDownloadRates({ foreground: value })
        else if (key === 'backgroundDownloadRate') engine.setDownloadRates({ background: value })
        else if (key === 'uploadRate') p2p?.setUploadRate(value)
        else if (cache != null) {
          if (key === 'maxCacheSize') cache.maxCacheSize = value
          else cache.maxCacheAge = value
        }
        Object.assign(current, { [key]: value })
        applied.push(key)
      }
      if (cache != null && (applied.includes('maxCacheSize') || applied.includes('maxCacheAge'))) void cache.evict().catch(() => {})
      return { applied, restartNeeded }
    },
    async stop () {
      stopping ??= (async () => {
        await engine.stop()
        await p2p?.stop()
        await cache?.stop()
        await store.close()
      })()
      await stopping
    }
  }
}

/**
 * The peer id of the node that `dataDir` belongs to, making its identity key if it has none yet: a harness can give
 * nodes each other's addresses (`/ip4/…/tcp/PORT/p2p/ID`) before any of them starts.
 */
export async function nodeIdentity (dataDir: string): Promise<string> {
  const { peerIdOfDataDir } = await import('@dopt/p2p')
  return await peerIdOfDataDir(dataDir)
}
