import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, nodeIdentity } from '@dopt/node'
import type { AddFileOptions, DoptNode, Job, NodeConfig } from '@dopt/node'
import { freePort, randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

/** Settings that keep swarm tests quick: short discovery and origin delays, small cache threshold. */
export const SWARM: NodeConfig = {
  mode: 'lan',
  // Tests send nothing off the machine: mDNS multicasts on every interface, so peers are given (static).
  mdns: false,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  originDelay: 1,
  discoveryTimeout: 1,
  peerTimeout: 3,
  minFileSizeToCache: 0,
  callbackRetryDelay: 0.05,
  modificationInterval: 20,
  minimumRetryDelay: 0.05,
  origin: { retries: 2, retryDelay: 5 }
}

/** A temp folder, an origin, and nodes that are all stopped by `close()`. */
export interface Swarm {
  dir: string
  origin: Origin
  nodes: DoptNode[]
  serve(name: string, size: number, seed?: number): { url: string, data: Uint8Array }
  path(name: string): string
  /** A node with its own data folder; `config` overrides SWARM. */
  node(name: string, config?: NodeConfig): Promise<DoptNode>
  /** `count` nodes that know each other (static peers, a full mesh), started together. */
  mesh(prefix: string, count: number, config?: NodeConfig): Promise<DoptNode[]>
  close(): Promise<void>
}

export async function swarm (): Promise<Swarm> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-swarm-'))
  const origin = await startOrigin()
  const s: Swarm = {
    dir,
    origin,
    nodes: [],
    serve (name, size, seed = 1) {
      const data = randomBytesSeeded(size, seed)
      origin.setFile(`/${name}`, { data })
      return { url: origin.url(`/${name}`), data }
    },
    path: name => join(dir, name),
    async node (name, config = {}) {
      const node = await createNode({ ...SWARM, ...config, dataDir: join(dir, name) })
      s.nodes.push(node)
      return node
    },
    async mesh (prefix, count, config = {}) {
      const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`)
      const ids = await Promise.all(names.map(async name => await nodeIdentity(join(dir, name))))
      const ports = await Promise.all(names.map(async () => await freePort()))
      const addr = (i: number): string => `/ip4/127.0.0.1/tcp/${ports[i]!}/p2p/${ids[i]!}`
      return await Promise.all(names.map(async (name, i) => await s.node(name, {
        ...config,
        listen: [`/ip4/127.0.0.1/tcp/${ports[i]!}`],
        peers: [...(config.peers ?? []), ...names.map((_, j) => addr(j)).filter((_, j) => j !== i)]
      })))
    },
    async close () {
      await Promise.allSettled(s.nodes.map(async n => { await n.stop() }))
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  return s
}

/**
 * Downloads `url` to `path` on `node` and completes the job; resolves with the job. Pass the file's `sha256` (or a
 * pinned `manifest`) for peers to be used: without an end-to-end check a node takes nothing from peers.
 */
export async function fetchFile (node: DoptNode, url: string, path: string, options: AddFileOptions = {}): Promise<Job> {
  const job = await node.jobs.createJob(`get ${path}`, 'download')
  await job.addFile(url, path, options)
  await job.resume()
  const state = await job.waitFor()
  if (state !== 'transferred') throw new Error(`job ended in ${state}: ${JSON.stringify(job.getError())}`)
  await job.complete()
  return job
}
