import { readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { exists, hasStackTrace, jsonLine, run, sandbox, start, temporaryFiles, waitUntil } from './helpers.js'
import type { Running, Sandbox } from './helpers.js'

/** The origin-only mode: these tests are not about peers, and it spares each run the peer stack's start. */
const HTTP = ['--mode', 'http']

const MiB = 1024 * 1024
const SIZE = 16 * MiB

describe('two dopt get on one --data-dir', () => {
  let box: Sandbox
  let data: Uint8Array
  let first: Running | undefined

  beforeEach(async () => {
    box = await sandbox()
    data = randomBytesSeeded(SIZE, 51)
    box.origin.setFile('/slow.bin', { data })
    box.origin.setFile('/other.bin', { data: randomBytesSeeded(MiB, 52) })
    // 2 s for the whole file: the second command runs while the first holds the data folder.
    box.origin.setFault('/slow.bin', { rate: 8 * MiB })
    first = undefined
  })
  afterEach(async () => {
    if (first !== undefined && first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL')
    await first?.done
    await box.cleanup()
  })

  it('the second fails cleanly, saying the data folder is in use, and the first is unharmed', { timeout: 60_000 }, async () => {
    const out1 = join(box.dir, 'slow.bin')
    const out2 = join(box.dir, 'other.bin')
    first = start(['get', box.origin.url('/slow.bin'), '-o', out1, '--data-dir', box.dataDir, ...HTTP, '--json'], { timeoutMs: 20_000 })
    await waitUntil('the first is transferring', async () => box.origin.bytesSent > 0 && (await temporaryFiles(box.dir)).length === 1)

    const second = await run(['get', box.origin.url('/other.bin'), '-o', out2, '--data-dir', box.dataDir, ...HTTP, '--json'])
    expect([1, 2]).toContain(second.code)
    expect(first.child.exitCode).toBe(null) // still running when the second gave up
    expect(hasStackTrace(second.stderr)).toBe(false)
    expect(second.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(second.stderr).toMatch(/^dopt: .*in use/)
    expect(second.stderr).toContain(box.dataDir)
    expect(jsonLine(second).error).toMatchObject({ code: 'LOCAL_FILE', message: expect.stringMatching(/in use/) })
    expect(await exists(out2)).toBe(false)
    expect(box.origin.requests.filter(q => q.path === '/other.bin')).toEqual([])

    const done = await first.done
    expect(done.code, done.stderr).toBe(0)
    expect(jsonLine(done)).toMatchObject({ state: 'acknowledged', bytesTotal: SIZE, error: null })
    expect(Buffer.compare(await readFile(out1), data)).toBe(0)

    // Once the first is gone, the folder is free again.
    const third = await run(['get', box.origin.url('/other.bin'), '-o', out2, '--data-dir', box.dataDir, ...HTTP, '--json'])
    expect(third.code, third.stderr).toBe(0)
    expect(await exists(out2)).toBe(true)
  })
})

describe('a --data-dir that cannot be a folder', () => {
  let box: Sandbox
  beforeEach(async () => {
    box = await sandbox()
    box.origin.setFile('/f.bin', { data: randomBytesSeeded(MiB, 53) })
  })
  afterEach(async () => { await box.cleanup() })

  // Under /proc, Node's own recursive mkdir never settles (packages/interface/src/make-directory.ts): dopt used to
  // spin a core there forever.
  it('fails with LOCAL_FILE naming it, without touching the origin: under /proc, a dangling symlink, or a file', async () => {
    await symlink(join(box.dir, 'unmounted'), join(box.dir, 'link'))
    await writeFile(join(box.dir, 'file'), 'x')
    const dataDirs = [join(box.dir, 'link', 'dopt'), join(box.dir, 'file'), join(box.dir, 'file', 'dopt')]
    if (process.platform === 'linux') dataDirs.push('/proc/dopt-no-such-folder/data')
    for (const dataDir of dataDirs) {
      const r = await run(['get', box.origin.url('/f.bin'), '-o', join(box.dir, 'f.bin'), '--data-dir', dataDir, ...HTTP, '--json'], { timeoutMs: 10_000 })
      expect(r.code, r.stderr).toBe(1)
      expect(hasStackTrace(r.stderr)).toBe(false)
      expect(r.stderr).toMatch(/^dopt: cannot create the data folder /)
      expect(r.stderr).toContain(dataDir)
      expect(jsonLine(r).error).toMatchObject({ code: 'LOCAL_FILE' })
    }
    expect(box.origin.requests).toEqual([])
    expect(await exists(join(box.dir, 'f.bin'))).toBe(false)
  })
})
