import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode } from '@dopt/node'
import type { DoptNode, Job, JobState, NodeConfig } from '@dopt/node'
import { randomBytesSeeded, startOrigin, waitUntil } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

/** A temp folder, a real origin on 127.0.0.1 and a node on a real level database; `close()` removes it all. */
export interface Harness {
  dir: string
  origin: Origin
  node: DoptNode
  /** Serves `size` seeded random bytes at `/name` and returns its URL and the bytes. */
  serve(name: string, size: number, seed?: number): { url: string, data: Uint8Array }
  /** An absolute path in the temp folder. */
  path(name: string): string
  /** Starts another node on the same data folder (after `node.stop()`). */
  restart(config?: NodeConfig): Promise<DoptNode>
  close(): Promise<void>
}

/** Engine settings that keep tests quick: short retry delays and throttles. */
export const FAST: NodeConfig = {
  callbackRetryDelay: 0.05,
  modificationInterval: 20,
  minimumRetryDelay: 0.05,
  origin: { retries: 2, retryDelay: 5, idleTimeout: 2000, connectTimeout: 2000 }
}

export async function harness (config: NodeConfig = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-test-'))
  const origin = await startOrigin()
  const dataDir = join(dir, 'data')
  const h: Harness = {
    dir,
    origin,
    node: await createNode({ ...FAST, ...config, dataDir, mode: 'http' }),
    serve (name, size, seed = 1) {
      const data = randomBytesSeeded(size, seed)
      origin.setFile(`/${name}`, { data })
      return { url: origin.url(`/${name}`), data }
    },
    path: name => join(dir, name),
    async restart (more = {}) {
      h.node = await createNode({ ...FAST, ...config, ...more, dataDir, mode: 'http' })
      return h.node
    },
    async close () {
      await h.node.stop()
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
  return h
}

/** Creates a job with one file per `[url, path]` and resumes it. */
export async function startJob (node: DoptNode, files: Array<[string, string]>, name = 'test job'): Promise<Job> {
  const job = await node.jobs.createJob(name, 'download')
  for (const [url, path] of files) await job.addFile(url, path)
  await job.resume()
  return job
}

/** Records every state a job goes through. */
export function recordStates (job: Job): JobState[] {
  const states: JobState[] = [job.getState()]
  job.addEventListener('state', e => { states.push(e.detail.state) })
  return states
}

/** Waits until `predicate` holds, polling every 10 ms, for at most `ms`. */
export async function until (predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  await waitUntil('the condition holds', predicate, { timeoutMs: ms, intervalMs: 10 })
}

/** SHA-256 (hex) of bytes: compare digests, not multi-MiB arrays (vitest's deep equality is slow on those). */
export function digest (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** SHA-256 (hex) of a file. */
export async function digestOf (path: string): Promise<string> {
  return digest(await readFile(path))
}

/** Files in the folder whose names mark them as dopt temporary files. */
export async function temporaryFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.endsWith('.dopt-tmp'))
}

/** Expects a promise to reject with a dopt error of `code`. */
export async function rejectsWith (promise: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (err) {
    if ((err as { code?: string }).code === code) return
    throw new Error(`expected code ${code}, got ${(err as { code?: string }).code}: ${(err as Error).message}`)
  }
  throw new Error(`expected code ${code}, but it succeeded`)
}
