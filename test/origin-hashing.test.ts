import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PieceHasher, createJobEngine } from '@dopt/engine'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'
import { createOriginClient } from '@dopt/origin'
import { openLevelStore } from '@dopt/store'

const MiB = 1 << 20
let dir: string
let origin: Origin
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-hashing-'))
  origin = await startOrigin()
})
afterEach(async () => {
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

/** Downloads `path` from the origin through the engine, with `hasher`; resolves with the job's end state. */
async function download (path: string, out: string, hasher: PieceHasher): Promise<{ state: string, error: unknown }> {
  const store = await openLevelStore({ location: join(dir, `db-${Math.random().toString(36).slice(2)}`) })
  const engine = await createJobEngine({ store, originClient: createOriginClient(), hasher }, { pieceSize: MiB })
  try {
    const job = await engine.createJob('t', 'download')
    await job.addFile(origin.url(path), out)
    await job.resume()
    let state = await job.waitFor(['transferred', 'error'], { signal: AbortSignal.timeout(60_000) })
    if (state === 'transferred') { await job.complete(); state = job.getState() }
    return { state, error: job.getError() }
  } finally {
    await engine.stop()
    await store.close()
  }
}

describe('the origin path hashes pieces off the receiving thread', () => {
  it('delivers the file byte for byte, its pieces hashed on the worker, and leaves the caller\'s hasher running', { timeout: 60_000 }, async () => {
    const data = randomBytesSeeded(24 * MiB + 12345, 5) // a short last piece too
    origin.setFile('/f.bin', { data })
    origin.setFault('/f.bin', { rate: 48 * MiB }) // slow enough that the worker is up for most pieces
    const hasher = new PieceHasher({ threads: 1 })
    try {
      const out = join(dir, 'f.bin')
      const { state, error } = await download('/f.bin', out, hasher)
      expect(error).toBeNull()
      expect(state).toBe('acknowledged')
      expect((await readFile(out)).equals(data)).toBe(true)
      expect(hasher.counts.worker).toBeGreaterThan(0)
      expect(hasher.counts.worker + hasher.counts.inline).toBe(25)
      expect(hasher.workers).toBe(1) // the engine did not end a hasher it was given
    } finally {
      await hasher.close()
    }
  })
})
