import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { defaultLogger } from '@libp2p/logger'
import { ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { InvalidArgumentError, ListenFailedError } from '@dopt/interface'
import { doptNoise } from './encryption.js'
import { checkInternals, checkNode, describeMoved, stopAddressManagerTimer } from './internals.js'
import { doptYamux } from './muxer.js'
import { doptTls } from './tls.js'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { EncryptionComponents } from './encryption.js'
import type { InternalsReport } from './internals.js'
import type { TlsComponents } from './tls.js'
import type { ComponentLogger, ConnectionEncrypter, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { KeepAliveOptions } from './types.js'
import type { ConnectionMonitorInit, ServiceFactoryMap } from 'libp2p'

export interface NodeServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  dht?: KadDHT
}

export type DoptLibp2p = Libp2p<NodeServices>

export interface NodeConfig {
  privateKey: PrivateKey
  listen: string[]
  groupId: string
  psk?: Uint8Array
  dht: boolean
  /** The keep-alive pings (P2PInit.keepAlive). */
  keepAlive?: KeepAliveOptions
  /** libp2p's component logger, which the node's log lines go to. @default libp2p's (DEBUG=libp2p:*,dopt:*) */
  logger?: ComponentLogger
}

/** Group ids name protocols and an mDNS service label, so they are kept to characters safe in both. */
const GROUP_ID = /^[A-Za-z0-9_-]{1,48}$/

export function checkGroupId (groupId: string): string {
  if (!GROUP_ID.test(groupId)) throw new InvalidArgumentError(`groupId must match ${GROUP_ID.source}, got "${groupId}"`)
  return groupId
}

/** The DHT protocol of a group: a private Kademlia per group, apart from the public IPFS DHT. */
export function dhtProtocol (groupId: string): string {
  return `/dopt/${groupId}/kad/1.0.0`
}

/**
 * @libp2p/pnet wants the key as a go-ipfs `swarm.key` text (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits).
 * dopt takes the 32 raw bytes; a key already in swarm.key form is passed through.
 */
export function toSwarmKey (psk: Uint8Array): Uint8Array {
  if (psk.byteLength !== 32) {
    const text = new TextDecoder().decode(psk)
    if (text.startsWith('/key/swarm/psk/1.0.0/')) return psk
    throw new InvalidArgumentError(`psk must be 32 bytes (or a swarm.key text), got ${psk.byteLength} bytes`)
  }
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(psk).toString('hex')}`)
}

/**
 * The libp2p node: TCP, TLS or noise, yamux, identify, ping; a group-private kad-dht when asked (mDNS is
 * `lan-discovery.ts`, run beside it).
 *
 * noise 17 on Node uses `node:crypto`'s chacha20-poly1305 for messages of 1200 bytes and more (its pure-JS
 * cipher is ten times slower; STACK-NOTES).
 */
const KEEP_ALIVE_INTERVAL = 30_000

const warned = new Set<string>()
function warnOnce (text: string): void {
  if (warned.has(text)) return
  warned.add(text)
  process.emitWarning(text, { code: 'DOPT_LIBP2P_INTERNALS' })
}

export async function createNode (config: NodeConfig): Promise<DoptLibp2p> {
  const { groupId } = config
  const logger = config.logger ?? defaultLogger()
  // The fast paths reach into libp2p's packages (internals.ts): each is used only if the shapes it relies on are
  // where it expects them, so that an update of those packages makes a node slower, never unable to connect.
  const internals = await checkInternals({ logger })
  const services: ServiceFactoryMap<NodeServices> = {
    identify: identify(),
    // Answers a peer's ping for as long as this node's own pings may take (libp2p's 10 s cut slow ones short).
    ping: ping({ timeout: keepAliveOf(config.keepAlive).timeout })
  }
  if (config.dht) {
    services.dht = kadDHT({
      protocol: dhtProtocol(groupId),
      clientMode: false,
      // The default mapper drops private addresses, which is every address on a LAN and on 127.0.0.1.
      peerInfoMapper: passthroughMapper,
      initialQuerySelfInterval: 50,
      logPrefix: `libp2p:dopt:${groupId}:kad`,
      datastorePrefix: `/dopt/${groupId}/kad`,
      metricsPrefix: `dopt_${groupId.replace(/-/g, '_')}_kad`
    })
  }
  let node
  try {
    node = await createLibp2p({
      privateKey: config.privateKey,
      logger,
      addresses: { listen: config.listen },
      transports: [tcp()],
      connectionEncrypters: encrypters(config, internals),
      // yamux with window updates at half-window (muxer.ts). Its default windows otherwise: larger windows (4-64 MiB)
      // and messages measured no faster here (benchmarks/peer, STACK-NOTES), and the piece protocol never pauses a
      // stream, so the read-buffer limit is not at risk.
      streamMuxers: [internals.yamux ? doptYamux() : yamux()],
      ...(config.psk !== undefined ? { connectionProtector: preSharedKey({ psk: toSwarmKey(config.psk) }) } : {}),
      connectionMonitor: connectionMonitor(config.keepAlive),
      services
    })
  } catch (err) {
    // A listen address that is not this machine's, or taken: say which, with a code, instead of libp2p's trace.
    if ((err as Error).name !== 'UnsupportedListenAddressesError') throw err
    const reasons = (err as Error).message.split('\n').map(l => l.trim()).filter(l => l.startsWith('/'))
    throw new ListenFailedError(`cannot listen on ${reasons.length > 0 ? reasons.join('; ') : config.listen.join(', ')}`, { cause: err, context: 'general-transport' })
  }
  const moved = [...internals.moved, ...checkNode(node)]
  if (moved.length > 0) {
    const text = describeMoved(moved)
    node.logger.forComponent('dopt:p2p:internals').error(text)
    // Said where an operator sees it too (stderr, once per process and shape; --no-warnings silences it): the
    // node is slower than it should be, and an update of dopt's pinned libp2p packages is the likely cause.
    warnOnce(text)
  }
  return node
}

/**
 * libp2p's connection monitor with dopt's keep-alive: a fixed, long timeout instead of libp2p's adaptive one (5 s at
 * the least), which a ping queued behind a connection's bulk data, or behind a busy event loop, overran (types.ts).
 * The timeout is at most the interval: the ping protocol allows one outbound ping stream per peer, and libp2p's
 * monitor starts the next ping on time regardless, so a ping still under way at the next one was a failure too.
 */
function connectionMonitor (keepAlive: KeepAliveOptions = {}): ConnectionMonitorInit {
  const { interval, timeout } = keepAliveOf(keepAlive)
  return { pingInterval: interval, pingTimeout: { minTimeout: timeout, maxTimeout: timeout } }
}

/** The keep-alive's interval and timeout, checked. */
export function keepAliveOf (keepAlive: KeepAliveOptions = {}): { interval: number, timeout: number } {
  const interval = keepAlive.interval ?? KEEP_ALIVE_INTERVAL
  const timeout = keepAlive.timeout ?? interval
  if (!Number.isFinite(interval) || interval <= 0) throw new InvalidArgumentError(`keepAlive.interval must be a positive number of ms, not ${interval}`)
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > interval) {
    throw new InvalidArgumentError(`keepAlive.timeout must be a positive number of ms, at most keepAlive.interval (${interval}), not ${timeout}`)
  }
  return { interval, timeout }
}

/**
 * TLS natively on the socket first (tls.ts: the bulk path's encryption runs in C++), noise for peers without it. A
 * pre-shared key puts libp2p's protector between TCP and the encrypter, so there is no native socket to hand to
 * TLS: noise alone then, as when the shapes TLS relies on moved.
 */
function encrypters (config: NodeConfig, internals: InternalsReport): Array<(components: EncryptionComponents & TlsComponents) => ConnectionEncrypter> {
  const secure = internals.noise ? doptNoise() : noise()
  return config.psk === undefined && internals.tls ? [doptTls(), secure] : [secure]
}

/**
 * Stops `node`, and then the timer libp2p's address manager leaves behind: stopping the listeners schedules a
 * debounced (1 s) peer-store update that nothing cancels, which kept every process that used peers alive a second
 * after its work (libp2p 3.x; the address manager has no stop of its own).
 */
export async function stopNode (node: DoptLibp2p): Promise<void> {
  await node.stop()
  stopAddressManagerTimer(node)
}

/** The mDNS service name of a group, so that groups do not even see each other on the LAN. */
export function mdnsServiceTag (groupId: string): string {
  return `_dopt-${groupId.toLowerCase()}._udp.local`
}
