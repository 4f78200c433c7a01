import { readFile } from 'node:fs/promises'
import { DEFAULT_PIECE_SIZE, MAX_PIECE_SIZE, MIN_PIECE_SIZE } from '@dopt/content'
import { ScenarioError } from './errors.js'
import type { Arrival, BaselineKind, ChurnEvent, CheckKind, NetworkSetting, Scenario } from './fleet-types.js'
import { parseRate, parseSize } from './units.js'

/** A scenario with every default filled in: what a report records, so the run can be repeated exactly. */
export type ResolvedScenario = Scenario & Required<Pick<Scenario,
'pieceSize' | 'downloadRate' | 'churn' | 'mode' | 'network' | 'baselines' | 'seed' | 'timeout' | 'dopt'>>

/** Most nodes a scenario may have: each is a process on this machine. */
export const MAX_NODES = 64
const MAX_FILE_SIZE = 64 * 1024 ** 3
const MAX_TIMEOUT = 24 * 3600
export const CHECK_KINDS: readonly CheckKind[] = ['sha256', 'manifest', 'none']
export const BASELINE_KINDS: readonly BaselineKind[] = ['aria2', 'aria2-random']
const MODES = ['lan', 'group'] as const
/** Most added latency (ms, one way) and loss (%) a netns scenario may ask for. */
export const MAX_LATENCY = 10_000
export const MAX_LOSS = 50

/** NodeConfig settings the lab sets itself, so a scenario's `dopt` may not. */
const LAB_OWNED: Record<string, string> = {
  dataDir: 'each node has its own data folder',
  listen: 'each node listens on 127.0.0.1 on a port the lab picks (or on its namespace\'s address)',
  peers: 'the lab gives every node the others as static peers',
  mdns: 'mDNS is always off in the lab (nothing may leave 127.0.0.0/8)',
  mode: 'set the scenario\'s mode',
  uploadRate: 'set the scenario\'s uploadRate',
  foregroundDownloadRate: 'set the scenario\'s downloadRate',
  pieceSize: 'set the scenario\'s pieceSize'
}

const FIELDS = new Set(['name', 'description', 'nodes', 'fileSize', 'pieceSize', 'originRate', 'uploadRate',
  'downloadRate', 'arrival', 'churn', 'check', 'mode', 'network', 'baselines', 'seed', 'timeout', 'dopt'])

/**
 * Checks a scenario (parsed JSON, or built from options) and fills in its defaults. Sizes and rates may be numbers
 * or strings such as `64MiB` and `20MiB/s`; `arrival` may be an object or its short form (`staggered:2`). Throws
 * `ScenarioError` (INVALID_ARGUMENT) naming the first bad field.
 */
export function parseScenario (value: unknown): ResolvedScenario {
  if (!isObject(value)) throw new ScenarioError('(top level)', `must be a JSON object, not ${describe(value)}`)
  const unknown = Object.keys(value).filter(k => !FIELDS.has(k))
  if (unknown.length > 0) throw new ScenarioError(unknown[0]!, `unknown field (known: ${[...FIELDS].join(', ')})`)

  const name = value.name ?? 'lab'
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new ScenarioError('name', `must be 1 to 64 letters, digits, '.', '_' or '-' (it names files), not ${describe(name)}`)
  }
  if (value.description !== undefined && typeof value.description !== 'string') throw new ScenarioError('description', `must be a string, not ${describe(value.description)}`)
  const nodes = integer(value.nodes, 'nodes', 1, MAX_NODES)
  const fileSize = field('fileSize', what => parseSize(required(value.fileSize, 'fileSize'), what))
  if (fileSize > MAX_FILE_SIZE) throw new ScenarioError('fileSize', `must be at most 64 GiB, not ${fileSize}`)
  const pieceSize = value.pieceSize === undefined ? DEFAULT_PIECE_SIZE : field('pieceSize', what => parseSize(value.pieceSize, what))
  if (pieceSize < MIN_PIECE_SIZE || pieceSize > MAX_PIECE_SIZE) {
    throw new ScenarioError('pieceSize', `must be from ${MIN_PIECE_SIZE} (16 KiB) to ${MAX_PIECE_SIZE} (16 MiB) bytes, not ${pieceSize}`)
  }
  const originRate = field('originRate', what => parseRate(required(value.originRate, 'originRate'), what))
  const uploadRate = field('uploadRate', what => parseRate(required(value.uploadRate, 'uploadRate'), what))
  const downloadRate = value.downloadRate === undefined ? 0 : field('downloadRate', what => parseRate(value.downloadRate, what))
  const arrival = parseArrivalValue(value.arrival ?? { kind: 'together' })
  if (arrival.kind === 'seed-first' && nodes < 2) throw new ScenarioError('nodes', 'seed-first needs at least 2 nodes (a seed and a downloader)')
  const check = value.check ?? 'sha256'
  if (!CHECK_KINDS.includes(check as CheckKind)) throw new ScenarioError('check', `must be one of ${CHECK_KINDS.join(', ')}, not ${describe(check)}`)
  const mode = value.mode ?? 'lan'
  if (!MODES.includes(mode as typeof MODES[number])) throw new ScenarioError('mode', `must be one of ${MODES.join(', ')}, not ${describe(mode)}`)
  const network = parseNetwork(value.network ?? { mode: 'loopback' })
  const baselines = parseBaselines(value.baselines ?? [])
  const seed = integer(value.seed ?? 1, 'seed', 1, 0xffffffff)
  const timeout = number(value.timeout ?? 300, 'timeout', Number.MIN_VALUE, MAX_TIMEOUT)
  const churn = parseChurn(value.churn ?? [], nodes)
  const dopt = value.dopt ?? {}
  if (!isObject(dopt)) throw new ScenarioError('dopt', `must be an object of NodeConfig settings, not ${describe(dopt)}`)
  for (const key of Object.keys(dopt)) {
    const why = LAB_OWNED[key]
    if (why !== undefined) throw new ScenarioError(`dopt.${key}`, `is set by the lab: ${why}`)
  }

  const scenario: ResolvedScenario = {
    name, nodes, fileSize, pieceSize, originRate, uploadRate, downloadRate, arrival, churn,
    check: check as CheckKind, mode: mode as ResolvedScenario['mode'], network, baselines, seed, timeout, dopt: { ...dopt }
  }
  if (typeof value.description === 'string') scenario.description = value.description
  return scenario
}

/** Reads and checks a scenario file (JSON). */
export async function readScenario (path: string): Promise<ResolvedScenario> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ScenarioError('file', `cannot read ${path}: ${(err as Error).message}`, { path, cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ScenarioError('file', `${path} is not valid JSON: ${(err as Error).message}`, { path, cause: err })
  }
  return parseScenario(parsed)
}

/** The short form of an arrival: `together`, `staggered:T`, `poisson:MEAN[:SEED]`, `seed-first`. */
export function parseArrival (text: string): Arrival {
  const [kind, a, b, ...rest] = text.trim().split(':')
  const bad = (why: string): never => {
    throw new ScenarioError('arrival', `${why}; use together, staggered:SECONDS, poisson:MEAN_SECONDS[:SEED] or seed-first, not ${JSON.stringify(text)}`)
  }
  if (rest.length > 0) bad('too many parts')
  switch (kind) {
    case 'together': case 'seed-first':
      if (a !== undefined) bad(`${kind} takes no value`)
      return { kind }
    case 'staggered':
      if (a === undefined || b !== undefined) bad('staggered takes one value')
      return { kind, every: number(Number(a), 'arrival.every', Number.MIN_VALUE, MAX_TIMEOUT) }
    case 'poisson': {
      if (a === undefined) bad('poisson takes a mean')
      const arrival: Arrival = { kind, mean: number(Number(a), 'arrival.mean', Number.MIN_VALUE, MAX_TIMEOUT) }
      if (b !== undefined) arrival.seed = integer(Number(b), 'arrival.seed', 0, 0xffffffff)
      return arrival
    }
    default:
      return bad('unknown kind')
  }
}

/** The short form of an arrival, as `parseArrival` reads it. */
export function formatArrival (arrival: Arrival): string {
  switch (arrival.kind) {
    case 'staggered': return `staggered:${arrival.every}`
    case 'poisson': return `poisson:${arrival.mean}${arrival.seed === undefined ? '' : `:${arrival.seed}`}`
    default: return arrival.kind
  }
}

function parseArrivalValue (value: unknown): Arrival {
  if (typeof value === 'string') return parseArrival(value)
  if (!isObject(value)) throw new ScenarioError('arrival', `must be an object such as {"kind":"together"} or a string such as "staggered:2", not ${describe(value)}`)
  const allowed: Record<string, string[]> = { together: [], 'seed-first': [], staggered: ['every'], poisson: ['mean', 'seed'] }
  const keys = allowed[value.kind as string]
  if (keys === undefined) throw new ScenarioError('arrival.kind', `must be one of ${Object.keys(allowed).join(', ')}, not ${describe(value.kind)}`)
  const extra = Object.keys(value).filter(k => k !== 'kind' && !keys.includes(k))
  if (extra.length > 0) throw new ScenarioError(`arrival.${extra[0]!}`, `unknown field for arrival ${String(value.kind)}`)
  switch (value.kind) {
    case 'staggered':
      return { kind: 'staggered', every: number(value.every, 'arrival.every', Number.MIN_VALUE, MAX_TIMEOUT) }
    case 'poisson': {
      const arrival: Arrival = { kind: 'poisson', mean: number(value.mean, 'arrival.mean', Number.MIN_VALUE, MAX_TIMEOUT) }
      if (value.seed !== undefined) arrival.seed = integer(value.seed, 'arrival.seed', 0, 0xffffffff)
      return arrival
    }
    default:
      return { kind: value.kind as 'together' | 'seed-first' }
  }
}

function parseChurn (value: unknown, nodes: number): ChurnEvent[] {
  if (!Array.isArray(value)) throw new ScenarioError('churn', `must be a list of events, not ${describe(value)}`)
  return value.map((event: unknown, i): ChurnEvent => {
    const at = `churn[${i}]`
    if (!isObject(event)) throw new ScenarioError(at, `must be an object {node, at, action}, not ${describe(event)}`)
    const extra = Object.keys(event).filter(k => !['node', 'at', 'action', 'restartAfter'].includes(k))
    if (extra.length > 0) throw new ScenarioError(`${at}.${extra[0]!}`, 'unknown field (known: node, at, action, restartAfter)')
    const node = integer(event.node, `${at}.node`, 0, nodes - 1)
    const when = number(event.at, `${at}.at`, 0, MAX_TIMEOUT)
    if (event.action !== 'leave' && event.action !== 'kill-restart') throw new ScenarioError(`${at}.action`, `must be leave or kill-restart, not ${describe(event.action)}`)
    const out: ChurnEvent = { node, at: when, action: event.action }
    if (event.action === 'kill-restart') out.restartAfter = number(event.restartAfter ?? 1, `${at}.restartAfter`, 0, MAX_TIMEOUT)
    else if (event.restartAfter !== undefined) throw new ScenarioError(`${at}.restartAfter`, 'only kill-restart restarts')
    return out
  })
}

/** `{"mode":"loopback"}`, `{"mode":"netns","latency":20,"loss":0.5}`, or the short forms `"loopback"`, `"netns"`. */
function parseNetwork (value: unknown): NetworkSetting {
  const setting = typeof value === 'string' ? { mode: value } : value
  if (!isObject(setting)) throw new ScenarioError('network', `must be an object such as {"mode":"netns","latency":20} or "loopback" or "netns", not ${describe(value)}`)
  const extra = Object.keys(setting).filter(k => !['mode', 'latency', 'loss'].includes(k))
  if (extra.length > 0) throw new ScenarioError(`network.${extra[0]!}`, 'unknown field (known: mode, latency, loss)')
  if (setting.mode === 'loopback') {
    for (const key of ['latency', 'loss'] as const) {
      if (setting[key] !== undefined) throw new ScenarioError(`network.${key}`, 'needs mode netns (on loopback nothing shapes the network)')
    }
    return { mode: 'loopback' }
  }
  if (setting.mode !== 'netns') throw new ScenarioError('network.mode', `must be loopback or netns, not ${describe(setting.mode)}`)
  return {
    mode: 'netns',
    latency: number(setting.latency ?? 0, 'network.latency', 0, MAX_LATENCY),
    loss: number(setting.loss ?? 0, 'network.loss', 0, MAX_LOSS)
  }
}

function parseBaselines (value: unknown): BaselineKind[] {
  const list = typeof value === 'string' ? value.split(',').map(s => s.trim()).filter(s => s !== '') : value
  if (!Array.isArray(list)) throw new ScenarioError('baselines', `must be a list of ${BASELINE_KINDS.join(', ')}, not ${describe(value)}`)
  for (const b of list) {
    if (!BASELINE_KINDS.includes(b as BaselineKind)) throw new ScenarioError('baselines', `must each be one of ${BASELINE_KINDS.join(', ')}, not ${describe(b)}`)
  }
  if (new Set(list).size !== list.length) throw new ScenarioError('baselines', 'lists a baseline twice')
  return list as BaselineKind[]
}

function required (value: unknown, name: string): unknown {
  if (value === undefined) throw new ScenarioError(name, 'is required')
  return value
}

/** Runs a unit parser and gives its error the field's name. */
function field<T> (name: string, parse: (what: string) => T): T {
  try {
    return parse(name)
  } catch (err) {
    if (err instanceof ScenarioError) throw err
    const message = (err as Error).message
    throw new ScenarioError(name, message.startsWith(`${name} `) ? message.slice(name.length + 1) : message, { cause: err })
  }
}

function number (value: unknown, name: string, min: number, max: number): number {
  if (value === undefined) throw new ScenarioError(name, 'is required')
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ScenarioError(name, `must be a number ${min === Number.MIN_VALUE ? '> 0' : `>= ${min}`} and <= ${max}, not ${describe(value)}`)
  }
  return value
}

function integer (value: unknown, name: string, min: number, max: number): number {
  if (value === undefined) throw new ScenarioError(name, 'is required')
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ScenarioError(name, `must be a whole number from ${min} to ${max}, not ${describe(value)}`)
  }
  return value
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function describe (value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value)
}
