import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode } from '@dopt/node'
import type { DoptNode, Job, NodeConfig } from '@dopt/node'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

export const MiB = 1 << 20

/** Real nodes for the activity tests: peers on 127.0.0.1 only, mDNS off, quick discovery. */
export const NODE: NodeConfig = {
  mode: 'lan',
  mdns: false,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  originDelay: 0,
  discoveryTimeout: 0.5,
  minFileSizeToCache: 0,
  modificationInterval: 50,
  origin: { retries: 2, retryDelay: 5 }
}

/** A temp folder, a real HTTP origin on 127.0.0.1, and nodes with their own data folders; `close()` ends it all. */
export interface Fixture {
  dir: string
  origin: Origin
  /** Serves `size` seeded random bytes at `/name`, at most `rate` bytes/s when given. */
  serve(name: string, size: number, rate?: number): { url: string, sha256: string }
  node(name: string, config?: NodeConfig): Promise<DoptNode>
  path(name: string): string
  close(): Promise<void>
}

export async function fixture (): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-activity-'))
  const origin = await startOrigin()
  const nodes: DoptNode[] = []
  return {
    dir,
    origin,
    serve (name, size, rate) {
      const data = randomBytesSeeded(size, size + name.length)
      origin.setFile(`/${name}`, { data })
      if (rate !== undefined) origin.setFault(`/${name}`, { rate })
      return { url: origin.url(`/${name}`), sha256: createHash('sha256').update(data).digest('hex') }
    },
    async node (name, config = {}) {
      const node = await createNode({ ...NODE, ...config, dataDir: join(dir, name) })
      nodes.push(node)
      return node
    },
    path: name => join(dir, name),
    async close () {
      await Promise.allSettled(nodes.map(async n => { await n.stop() }))
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Creates a job for one file and resumes it. */
export async function download (node: DoptNode, url: string, path: string, sha256?: string): Promise<Job> {
  const job = await node.jobs.createJob(`get ${path.split('/').pop() ?? path}`, 'download')
  await job.addFile(url, path, sha256 === undefined ? {} : { sha256 })
  await job.resume()
  return job
}

/** Polls `check` every 25 ms until it returns a value other than undefined; fails after `ms`. */
export async function until<T> (what: string, check: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}
