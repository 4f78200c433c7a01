import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded, writeRandomFile } from '../src/index.js'

describe('randomBytesSeeded', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = randomBytesSeeded(4096, 7)
    expect(a.byteLength).toBe(4096)
    expect(Buffer.from(randomBytesSeeded(4096, 7)).equals(a)).toBe(true)
    expect(Buffer.from(randomBytesSeeded(4096, 8)).equals(a)).toBe(false)
    // A shorter request is a prefix of a longer one.
    expect(Buffer.from(randomBytesSeeded(100, 7)).equals(a.subarray(0, 100))).toBe(true)
  })

  it('looks random: no long runs of zeros, bytes spread out', () => {
    const bytes = randomBytesSeeded(65536)
    const counts = new Array<number>(256).fill(0)
    for (const b of bytes) counts[b] = (counts[b] ?? 0) + 1
    expect(Math.min(...counts)).toBeGreaterThan(150)
    expect(Math.max(...counts)).toBeLessThan(370)
  })
})

describe('writeRandomFile', () => {
  let dir: string

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-lab-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('writes the same bytes randomBytesSeeded returns, across block boundaries', async () => {
    const size = 9 * 1024 * 1024 + 3
    const path = join(dir, 'blob')
    await writeRandomFile(path, size, 42)
    const content = await readFile(path)
    expect(content.byteLength).toBe(size)
    expect(content.equals(randomBytesSeeded(size, 42))).toBe(true)
  })

  it('writes an empty file for size 0', async () => {
    const path = join(dir, 'empty')
    await writeRandomFile(path, 0)
    expect((await readFile(path)).byteLength).toBe(0)
  })
})
