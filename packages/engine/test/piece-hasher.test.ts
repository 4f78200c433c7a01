import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { sha256 as sha256Buffer } from '@dopt/content'
import { allocatePieceBuffers } from '../src/file-writer.js'
import { PieceHasher } from '../src/piece-hasher.js'

const PIECE = 256 * 1024
/** The reference digest, as the plain Uint8Array the hasher gives. */
const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(sha256Buffer(bytes))
let hasher: PieceHasher | undefined
afterEach(async () => { await hasher?.close() })

/** Piece buffers in shared memory, as the sink's, filled with random bytes. */
function pieces (count: number): Buffer[] {
  const buffers = allocatePieceBuffers(count, PIECE)
  for (const b of buffers) b.set(randomBytes(PIECE))
  return buffers
}

/** Hashes `bytes` until a worker has done one (its start takes a moment): bounded to 400 tries and 10 s. */
async function untilWorkerHashes (h: PieceHasher, bytes: Uint8Array): Promise<void> {
  const until = Date.now() + 10_000
  for (let i = 0; i < 400 && h.counts.worker === 0 && Date.now() < until; i++) {
    expect(await h.hash(bytes)).toEqual(sha256(bytes))
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  expect(h.counts.worker).toBeGreaterThan(0)
}

describe('PieceHasher', () => {
  it('hashes pieces in shared memory on a worker once it is up, with the digests of the calling thread', async () => {
    hasher = new PieceHasher({ threads: 2 })
    const buffers = pieces(6)
    const first = buffers[0]!
    await untilWorkerHashes(hasher, first)
    const before = hasher.counts.worker
    const digests = await Promise.all(buffers.map(async b => await hasher!.hash(b)))
    digests.forEach((d, i) => { expect(d).toEqual(sha256(buffers[i]!)) })
    expect(hasher.counts.worker - before).toBe(buffers.length)
    // A part of a buffer (the short last piece of a file) hashes only its own bytes.
    const part = first.subarray(100, 70_000)
    expect(await hasher.hash(part)).toEqual(sha256(part))
  })

  it('hashes bytes outside shared memory, and everything with threads: 0, on the calling thread', async () => {
    hasher = new PieceHasher({ threads: 2 })
    const plain = randomBytes(PIECE)
    expect(await hasher.hash(plain)).toEqual(sha256(plain))
    expect(hasher.counts).toEqual({ inline: 1, worker: 0 })
    expect(hasher.workers).toBe(0) // nothing started for bytes a worker could not read
    await hasher.close()

    hasher = new PieceHasher({ threads: 0 })
    const [shared] = pieces(1)
    expect(await hasher.hash(shared!)).toEqual(sha256(shared!))
    expect(hasher.counts).toEqual({ inline: 1, worker: 0 })
    expect(hasher.workers).toBe(0)
  })

  it('pieces still in flight when its workers end are hashed on the calling thread, correctly', async () => {
    hasher = new PieceHasher({ threads: 1 })
    const buffers = pieces(12)
    await untilWorkerHashes(hasher, buffers[0]!)
    const before = { ...hasher.counts }
    const inFlight = buffers.map(async b => await hasher!.hash(b))
    await hasher.close() // terminates the worker with (most of) the pieces unanswered
    const digests = await Promise.all(inFlight)
    digests.forEach((d, i) => { expect(d).toEqual(sha256(buffers[i]!)) })
    const done = hasher.counts.inline - before.inline + hasher.counts.worker - before.worker
    expect(done).toBe(buffers.length)
    expect(hasher.workers).toBe(0)
    // Closed: later pieces are hashed here.
    expect(await hasher.hash(buffers[1]!)).toEqual(sha256(buffers[1]!))
  })

  it('does not keep a process alive once idle, though never closed', () => {
    const dist = new URL('../dist/', import.meta.url)
    const script = `
      const { PieceHasher } = await import(${JSON.stringify(new URL('piece-hasher.js', dist).href)})
      const { allocatePieceBuffers } = await import(${JSON.stringify(new URL('file-writer.js', dist).href)})
      const h = new PieceHasher({ threads: 1 })
      const [b] = allocatePieceBuffers(1, 65536)
      for (let i = 0; i < 200 && h.counts.worker === 0; i++) { await h.hash(b); await new Promise(r => setTimeout(r, 20)) }
      process.stdout.write(JSON.stringify({ ...h.counts, workers: h.workers }))
    `
    const started = Date.now()
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, cwd: fileURLToPath(dist) })
    expect(r.error).toBeUndefined()
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as { worker: number, workers: number }
    expect(out.worker).toBeGreaterThan(0)
    expect(out.workers).toBe(1) // the worker was still there, unended, when the program ran out of work
    expect(Date.now() - started).toBeLessThan(20_000)
  })
})
