import { spawn } from 'node:child_process'
import { access, chmod, constants, mkdir, writeFile } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { bdecode, bencode } from './bencode.js'
import { BaselineFailedError } from './errors.js'
import { freePort } from './ports.js'
import type { ChildProcess } from 'node:child_process'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A BitTorrent tracker on 127.0.0.1 for one run. */
export interface Tracker {
  kind: 'opentracker' | 'builtin'
  /** e.g. `http://127.0.0.1:41234/announce` */
  announceUrl: string
  /** How many peers hold the whole torrent, by its scrape (0 if it has none yet). */
  seeders(infoHash: Uint8Array): Promise<number>
  close(): Promise<void>
}

export interface TrackerInit {
  /** Info hashes to serve (opentracker is built with a whitelist on Debian). */
  infoHashes: Uint8Array[]
  /** A folder for opentracker's whitelist and chroot (it makes `opentracker/` there). */
  workDir: string
  /** `auto`: opentracker if it is on the PATH, else the built-in one. @default 'auto' */
  prefer?: 'auto' | 'builtin'
  /** Re-announce interval given to clients, seconds (built-in tracker only). @default 10 */
  interval?: number
  /** Where to look for `opentracker`. @default process.env.PATH */
  path?: string
}

const START_TIMEOUT_MS = 5000
const STOP_TIMEOUT_MS = 2000

export async function startTracker (init: TrackerInit): Promise<Tracker> {
  if ((init.prefer ?? 'auto') === 'auto') {
    const binary = await findOnPath('opentracker', init.path ?? process.env.PATH ?? '')
    if (binary !== null) return await startOpentracker(binary, init)
  }
  return await startBuiltinTracker(init)
}

/** The first executable `name` in a PATH-style list, or null. */
export async function findOnPath (name: string, path: string): Promise<string | null> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch { /* not here */ }
  }
  return null
}

/**
 * Debian's opentracker, bound to 127.0.0.1 (TCP only), with a whitelist of our info hashes, chrooted to `workDir`
 * (it chroots and drops to `nobody` when run as root). It runs under `sh`, which kills it when our end of its stdin
 * closes: if this process dies however it dies, the tracker does not outlive it.
 */
async function startOpentracker (binary: string, init: TrackerInit): Promise<Tracker> {
  // Its own folder, readable by all: run as root, it chroots there and then reads the whitelist as `nobody`.
  const root = join(init.workDir, 'opentracker')
  await mkdir(root, { recursive: true })
  await chmod(root, 0o755)
  await writeFile(join(root, 'whitelist.txt'), init.infoHashes.map(h => Buffer.from(h).toString('hex') + '\n').join(''), { mode: 0o644 })
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const child = spawn('/bin/sh', ['-c', '"$@" & pid=$!; read line; kill $pid', 'sh',
      binary, '-i', '127.0.0.1', '-p', String(port), '-d', root, '-w', 'whitelist.txt'], {
      cwd: root, detached: true, stdio: ['pipe', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000) })
    const base = `http://127.0.0.1:${port}`
    try {
      // It loads its whitelist in a thread of its own after it listens: ready once an announce is not refused
      // (`stopped` ones are never refused). The probe peer is then removed, before any client announces.
      const probe = `${base}/announce?info_hash=${percentEncode(init.infoHashes[0] ?? new Uint8Array(20))}` +
        '&peer_id=-LAB000-readyprobe00&port=1&uploaded=0&downloaded=0&left=1&compact=1'
      await waitForHttp(probe, child, body => mapGet(bdecode(body), 'failure reason') === undefined)
      await httpGet(`${probe}&event=stopped`)
      const tracker: Tracker = {
        kind: 'opentracker',
        announceUrl: `${base}/announce`,
        seeders: async infoHash => await scrapeSeeders(base, infoHash),
        close: async () => { await stopGroup(child) }
      }
      return tracker
    } catch (err) {
      lastError = new BaselineFailedError(`opentracker did not start: ${(err as Error).message} ${stderr}`.trim(), { cause: err })
      await stopGroup(child)
    }
  }
  throw lastError
}

/** Polls `url` until it answers 200 with a body `ready` accepts, for at most START_TIMEOUT_MS. */
async function waitForHttp (url: string, child: ChildProcess, ready: (body: Uint8Array) => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('it exited')
    let error: unknown = new Error('not ready')
    try {
      if (ready(await httpGet(url))) return
    } catch (err) {
      error = err
    }
    if (Date.now() > deadline) throw error
    await sleep(25)
  }
}

async function scrapeSeeders (base: string, infoHash: Uint8Array): Promise<number> {
  const body = await httpGet(`${base}/scrape?info_hash=${percentEncode(infoHash)}`)
  const files = mapGet(bdecode(body), 'files')
  const entry = mapGet(files, Buffer.from(infoHash).toString('latin1'))
  const complete = mapGet(entry, 'complete')
  return typeof complete === 'number' ? complete : 0
}

function mapGet (value: unknown, key: string): unknown {
  return value instanceof Map ? value.get(key) : undefined
}

interface PeerEntry {
  port: number
  left: number
  seen: number
}

/**
 * A minimal HTTP tracker (BEP 3, compact peer lists of BEP 23): announce registers the peer by its source address
 * (always 127.0.0.1 here) and port, answers with the other peers; `event=stopped` removes it; scrape counts
 * complete and incomplete peers. Only the info hashes it was started with are served.
 */
async function startBuiltinTracker (init: TrackerInit): Promise<Tracker> {
  const interval = init.interval ?? 10
  const swarms = new Map<string, Map<string, PeerEntry>>()
  for (const h of init.infoHashes) swarms.set(Buffer.from(h).toString('hex'), new Map())

  const server = createServer((req, res) => {
    try {
      handleTracker(req, res, swarms, interval)
    } catch {
      res.writeHead(400).end()
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  return {
    kind: 'builtin',
    announceUrl: `${base}/announce`,
    seeders: async infoHash => await scrapeSeeders(base, infoHash),
    close: async () => {
      await new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
    }
  }
}

function handleTracker (req: IncomingMessage, res: ServerResponse, swarms: Map<string, Map<string, PeerEntry>>, interval: number): void {
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  const params = parseQuery(q < 0 ? '' : url.slice(q + 1))
  const reply = (value: Parameters<typeof bencode>[0]): void => {
    const body = bencode(value)
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.byteLength }).end(body)
  }
  const hashes = params.get('info_hash') ?? []

  if (path === '/scrape') {
    const files = new Map<Uint8Array, Map<string, number>>()
    for (const h of hashes) {
      const swarm = swarms.get(Buffer.from(h).toString('hex'))
      if (swarm === undefined) continue
      const complete = [...swarm.values()].filter(p => p.left === 0).length
      files.set(h, new Map([['complete', complete], ['downloaded', 0], ['incomplete', swarm.size - complete]]))
    }
    reply({ files })
    return
  }
  if (path !== '/announce') {
    res.writeHead(404).end()
    return
  }
  const hash = hashes[0]
  const swarm = hash === undefined || hash.byteLength !== 20 ? undefined : swarms.get(Buffer.from(hash).toString('hex'))
  if (swarm === undefined) {
    reply({ 'failure reason': 'unknown info_hash' })
    return
  }
  const port = Number(text(params, 'port'))
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    reply({ 'failure reason': 'bad port' })
    return
  }
  const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  const key = `${ip}:${port}`
  if (text(params, 'event') === 'stopped') {
    swarm.delete(key)
  } else {
    swarm.set(key, { port, left: Number(text(params, 'left') ?? 1), seen: Date.now() })
  }
  // Forget peers that stopped announcing (three intervals), as a real tracker would.
  const stale = Date.now() - interval * 3000
  for (const [k, p] of swarm) if (p.seen < stale) swarm.delete(k)

  const wanted = Math.min(Number(text(params, 'numwant') ?? 50) || 50, 200)
  const others = [...swarm.entries()].filter(([k]) => k !== key).slice(0, wanted)
  const peers = Buffer.alloc(others.length * 6)
  others.forEach(([k, p], i) => {
    const octets = k.slice(0, k.lastIndexOf(':')).split('.').map(Number)
    if (octets.length !== 4) return
    peers.set(octets, i * 6)
    peers.writeUInt16BE(p.port, i * 6 + 4)
  })
  const complete = [...swarm.values()].filter(p => p.left === 0).length
  reply({ complete, incomplete: swarm.size - complete, interval, 'min interval': 1, peers })
}

/** Query parameters as raw bytes: `info_hash` and `peer_id` are binary, which URLSearchParams would mangle. */
export function parseQuery (query: string): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>()
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const name = Buffer.from(percentDecode(eq < 0 ? pair : pair.slice(0, eq))).toString('latin1')
    const value = percentDecode(eq < 0 ? '' : pair.slice(eq + 1))
    const list = out.get(name) ?? []
    list.push(value)
    out.set(name, list)
  }
  return out
}

function text (params: Map<string, Uint8Array[]>, name: string): string | undefined {
  const v = params.get(name)?.[0]
  return v === undefined ? undefined : Buffer.from(v).toString('latin1')
}

function percentDecode (s: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else if (c === '+') {
      out.push(0x20)
    } else {
      out.push(...Buffer.from(c, 'utf8'))
    }
  }
  return Uint8Array.from(out)
}

export function percentEncode (bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += '%' + b.toString(16).padStart(2, '0')
  return s
}

async function httpGet (url: string): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 2000 }, res => {
      const chunks: Buffer[] = []
      res.on('data', (b: Buffer) => chunks.push(b))
      res.on('end', () => {
        if (res.statusCode === 200) resolve(Buffer.concat(chunks))
        else reject(new Error(`HTTP ${res.statusCode ?? 0} from ${url}`))
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)))
    req.on('error', reject)
    req.end()
  })
}

/** Kills a detached child's whole process group: TERM, then KILL after a bounded wait. */
export async function stopGroup (child: ChildProcess, graceMs = STOP_TIMEOUT_MS): Promise<void> {
  if (child.pid === undefined) return
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  child.stdin?.destroy()
  signalGroup(child, 'SIGTERM')
  const timer = setTimeout(() => { signalGroup(child, 'SIGKILL') }, graceMs)
  await Promise.race([exited, sleep(graceMs * 2)])
  clearTimeout(timer)
  // The leader may be gone while something it started still runs in its group: make sure of the whole group.
  signalGroup(child, 'SIGKILL')
}

export function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch { /* already gone */ }
  }
}
