import { homedir } from 'node:os'
import { join } from 'node:path'
import { InvalidArgumentError } from '@dopt/interface'
import type { EngineInit } from '@dopt/engine'
import type { OriginClientInit } from '@dopt/origin'

/** Download modes, as Delivery Optimization's DODownloadMode 0..3. */
export type DownloadMode = 'http' | 'lan' | 'group' | 'internet'
export const DOWNLOAD_MODES: readonly DownloadMode[] = ['http', 'lan', 'group', 'internet']

/** Configuration of a node. Everything is optional. */
export interface NodeConfig extends EngineInit {
  /** Folder of the database and the node's identity. @default $XDG_DATA_HOME/dopt, else ~/.local/share/dopt */
  dataDir?: string
  /** libp2p listen addresses (peer support: see docs/architecture.md). @default ['/ip4/127.0.0.1/tcp/0'] (@dopt/p2p's) */
  listen?: string[]
  /** Peers to connect to, as multiaddrs. @default [] */
  peers?: string[]
  /** @default 'lan' */
  mode?: DownloadMode
  /** Group of peers to share with [DOGroupId]. */
  groupId?: string
  /** Settings of the HTTP origin client. */
  origin?: OriginClientInit
  /** Find LAN peers by mDNS. Turn off where multicast is unwanted; the DHT and given peers still work. @default true */
  mdns?: boolean
  /**
   * IPv4 address of the one interface mDNS announces and listens on; `127.0.0.1` keeps discovery on this machine.
   * @default every interface
   */
  mdnsInterface?: string
  /** Pre-shared key of a private network (32 bytes): only nodes with the same key can connect. */
  psk?: Uint8Array
  /** Bytes the seeding cache may hold [DOMaxCacheSize]. @default 10 GiB */
  maxCacheSize?: number
  /** Seconds a file stays in the seeding cache [DOMaxCacheAge]. @default 259200 (3 days) */
  maxCacheAge?: number
  /** Files smaller than this are neither fetched from nor served to peers [DOMinFileSizeToCache]. @default 1 MiB */
  minFileSizeToCache?: number
  /**
   * Read the pieces served to peers with O_DIRECT (no page cache) where the file system allows; `false`: through
   * the page cache. @default true
   */
  directReads?: boolean
  /** Upload limit to peers in bytes per second; 0 for none. @default 0 */
  uploadRate?: number
  /** Pieces served to peers at once. @default 16 */
  maxConcurrentUploads?: number
  /** Pieces served at once to one peer, so that no peer can take every upload slot. @default 4 */
  maxUploadsPerPeer?: number
  /**
   * Versions of the piece protocol to speak, newest first: `['1.0.0']` makes a node that talks as nodes before
   * 1.1.0 did (interoperability tests). @default ['1.1.0', '1.0.0']
   */
  protocolVersions?: Array<'1.0.0' | '1.1.0'>
}

/**
 * The default data folder: `$DOPT_DATA_DIR` (a machine's daemon, e.g. /var/lib/dopt, for every user's commands),
 * else `$XDG_DATA_HOME/dopt`, else `~/.local/share/dopt`.
 */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  const own = env.DOPT_DATA_DIR
  if (own != null && own !== '') return own
  const xdg = env.XDG_DATA_HOME
  return xdg != null && xdg !== '' ? join(xdg, 'dopt') : join(homedir(), '.local', 'share', 'dopt')
}

export function checkMode (mode: unknown): DownloadMode {
  if (!DOWNLOAD_MODES.includes(mode as DownloadMode)) {
    throw new InvalidArgumentError(`mode must be one of ${DOWNLOAD_MODES.join(', ')}, not "${String(mode)}"`)
  }
  return mode as DownloadMode
}
