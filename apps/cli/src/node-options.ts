import { readFile } from 'node:fs/promises'
import type { ParseArgsConfig } from 'node:util'
import { DOWNLOAD_MODES } from '@dopt/node'
import type { DownloadMode, NodeConfig } from '@dopt/node'
import { UsageError } from './usage.js'

/** Options that start a node, shared by `get` and `daemon`. */
export const NODE_OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  mode: { type: 'string' },
  peer: { type: 'string', multiple: true, default: [] as string[] },
  listen: { type: 'string', multiple: true, default: [] as string[] },
  group: { type: 'string' },
  config: { type: 'string' },
  'no-mdns': { type: 'boolean', default: false },
  'mdns-interface': { type: 'string' }
} satisfies ParseArgsConfig['options']

export interface NodeOptionValues {
  'data-dir'?: string
  mode?: string
  peer: string[]
  listen: string[]
  group?: string
  config?: string
  'no-mdns'?: boolean
  'mdns-interface'?: string
}

/** Settings a config file may hold: NodeConfig's names, in JSON. */
const CONFIG_KEYS = new Set([
  'dataDir', 'listen', 'peers', 'mode', 'groupId', 'maxCacheSize', 'maxCacheAge', 'minFileSizeToCache', 'uploadRate',
  'maxConcurrentUploads', 'maxConcurrentJobs', 'maxConcurrentCallbacks', 'callbackRetryDelay', 'minimumRetryDelay',
  'noProgressTimeout', 'pieceSize', 'originDelay', 'discoveryTimeout', 'peerTimeout', 'maxPeerStrikes', 'peerRequestsInFlight',
  'foregroundDownloadRate', 'backgroundDownloadRate', 'mdns', 'piecesInFlight', 'directWrites', 'modificationInterval', 'flushPieces',
  'flushInterval', 'maxContentRestarts', 'maxOriginRun', 'directReads', 'mdnsInterface', 'foregroundOriginDelay',
  'backgroundOriginDelay', 'trustGroup', 'servingMemory', 'maxUploadsPerPeer', 'hashThreads',
  // The daemon's own: who administers it (see docs/daemon.md).
  'adminGroup', 'activity'
])

/** Reads `--config FILE` (JSON) and lays the command-line options over it. */
export async function nodeConfig (values: NodeOptionValues, fallbackMode: DownloadMode): Promise<NodeConfig> {
  let config: NodeConfig = {}
  if (values.config !== undefined) {
    let text: string
    try {
      text = await readFile(values.config, 'utf8')
    } catch (err) {
      throw new UsageError(`cannot read --config ${values.config}: ${(err as Error).message}`)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new UsageError(`--config ${values.config} is not valid JSON: ${(err as Error).message}`)
    }
    if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--config ${values.config} must hold a JSON object`)
    const unknown = Object.keys(parsed).filter(k => !CONFIG_KEYS.has(k))
    if (unknown.length > 0) throw new UsageError(`--config ${values.config} has unknown settings: ${unknown.join(', ')}`)
    config = checkTypes(parsed as Record<string, unknown>, values.config)
  }
  const mode = (values.mode ?? config.mode ?? fallbackMode) as DownloadMode
  if (!DOWNLOAD_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${DOWNLOAD_MODES.join(', ')}, not "${mode}"`)
  return {
    ...config,
    mode,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(values.listen.length > 0 ? { listen: values.listen } : {}),
    ...(values.peer.length > 0 ? { peers: values.peer } : {}),
    ...(values.group !== undefined ? { groupId: values.group } : {}),
    ...(values['no-mdns'] === true ? { mdns: false } : {}),
    ...(values['mdns-interface'] !== undefined ? { mdnsInterface: checkIPv4(values['mdns-interface']) } : {})
  }
}

/** An interface's IPv4 address, as `--mdns-interface` takes it. */
function checkIPv4 (text: string): string {
  if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(text) || text.split('.').some(n => Number(n) > 255)) {
    throw new UsageError(`--mdns-interface must be an interface's IPv4 address (127.0.0.1 keeps discovery on this machine), not "${text}"`)
  }
  return text
}

const STRING_KEYS = new Set(['dataDir', 'mode', 'groupId', 'mdnsInterface', 'adminGroup', 'activity'])
const BOOLEAN_KEYS = new Set(['mdns', 'directWrites', 'directReads', 'trustGroup'])
const LIST_KEYS = new Set(['listen', 'peers'])

/** Each setting must have its type: numbers >= 0, strings, or lists of strings. */
function checkTypes (config: Record<string, unknown>, file: string): NodeConfig {
  for (const [key, value] of Object.entries(config)) {
    const ok = BOOLEAN_KEYS.has(key)
      ? typeof value === 'boolean'
      : STRING_KEYS.has(key)
        ? typeof value === 'string'
        : LIST_KEYS.has(key)
          ? Array.isArray(value) && value.every(v => typeof v === 'string')
          : typeof value === 'number' && Number.isFinite(value) && value >= 0
    const want = BOOLEAN_KEYS.has(key) ? 'true or false' : STRING_KEYS.has(key) ? 'a string' : LIST_KEYS.has(key) ? 'a list of strings' : 'a number >= 0'
    if (!ok) throw new UsageError(`--config ${file}: ${key} must be ${want}, not ${JSON.stringify(value)}`)
  }
  return config as NodeConfig
}
