import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { hasStackTrace, jsonLine, run, sandbox, start, temporaryFiles, waitUntil } from './helpers.js'
import type { GetJson, Running, Sandbox } from './helpers.js'

const MiB = 1024 * 1024
const SIZE = 64 * MiB
/** 4 s for the whole file: long enough to interrupt it midway. */
const RATE = 16 * MiB

/** First byte asked for by a `Range: bytes=N-M` header, or 0 without one. */
function rangeStart (range: string | null): number {
  const m = range === null ? null : /^bytes=(\d+)-/.exec(range)
  return m === null ? 0 : Number(m[1])
}

describe('dopt get resumes an interrupted download', () => {
  let box: Sandbox
  let data: Uint8Array
  let url: string
  let out: string
  let args: string[]
  let first: Running | undefined

  beforeEach(async () => {
    box = await sandbox()
    data = randomBytesSeeded(SIZE, 41)
    box.origin.setFile('/big.bin', { data })
    url = box.origin.url('/big.bin')
    out = join(box.dir, 'big.bin')
    args = ['get', url, '-o', out, '--data-dir', box.dataDir, '--retry-delay', '0.2']
    first = undefined
  })
  afterEach(async () => {
    if (first !== undefined && first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL')
    await first?.done
    await box.cleanup()
  })

  /**
   * Starts the throttled first run and waits until it is midway: the origin has sent some but not all of the
   * file, and the temporary file holds a few MiB. Returns the temporary file's name.
   */
  async function startMidway (extra: string[]): Promise<string> {
    box.origin.setFault('/big.bin', { rate: RATE })
    first = start([...args, ...extra], { timeoutMs: 30_000 })
    let temporary = ''
    await waitUntil('the first run is midway', async () => {
      if (first!.child.exitCode !== null) throw new Error(`the first run ended early: ${first!.stderr}`)
      const names = await temporaryFiles(box.dir)
      if (names.length !== 1) return false
      temporary = names[0]!
      const size = (await stat(join(box.dir, temporary)).catch(() => null))?.size ?? 0
      return size >= 4 * MiB && box.origin.bytesSent >= 4 * MiB
    }, { timeoutMs: 10_000 })
    // The engine saves its piece bitmap every 32 pieces or 500 ms: give it time for one save, so that some
    // verified pieces are on record when the process dies (a kill before any save rightly restarts at 0).
    await sleep(800)
    expect(first!.child.exitCode).toBe(null)
    expect(box.origin.bytesSent).toBeLessThan(SIZE)
    return temporary
  }

  /** The second run: no throttle, must finish, ask for the rest only and leave the exact file. */
  async function expectResumed (temporary: string, sentBefore: number, requestsBefore: number, extra: string[]): Promise<{ stdout: string, stderr: string, json?: GetJson }> {
    box.origin.setFault('/big.bin', null)
    const second = await run([...args, ...extra], { timeoutMs: 20_000 })
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(hasStackTrace(second.stderr)).toBe(false)

    const content = await readFile(out)
    expect(content.length).toBe(SIZE)
    expect(Buffer.compare(content, data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])

    const gets = box.origin.requests.slice(requestsBefore).filter(q => q.method === 'GET')
    expect(gets.length).toBeGreaterThan(0)
    const firstByte = Math.min(...gets.map(q => rangeStart(q.range)))
    // It picked up where the verified pieces end, not at 0.
    expect(firstByte).toBeGreaterThan(0)
    const sentSecond = box.origin.bytesSent - sentBefore
    expect(sentSecond).toBeLessThanOrEqual(SIZE - firstByte + MiB)
    expect(sentSecond).toBeLessThan(SIZE)
    expect(box.origin.bytesSent).toBeLessThan(2 * SIZE)

    // Same job: the temporary file name carries the first 8 characters of its id.
    const idPrefix = /\.big\.bin\.([0-9a-f-]{8})-\d+\.dopt-tmp$/.exec(temporary)?.[1]
    expect(idPrefix).toBeDefined()
    if (extra.includes('--json')) {
      const json = jsonLine(second)
      expect(json).toMatchObject({ state: 'acknowledged', bytesTotal: SIZE, bytesTransferred: SIZE, bytesFromPeers: 0, error: null })
      expect(json.jobId.startsWith(idPrefix!)).toBe(true)
      return { stdout: second.stdout, stderr: second.stderr, json }
    }
    expect(second.stderr).toMatch(new RegExp(`resuming job ${idPrefix!}`))
    return { stdout: second.stdout, stderr: second.stderr }
  }

  it('after SIGKILL, the same command resumes with a Range request and the file is exact', { timeout: 60_000 }, async () => {
    const temporary = await startMidway(['--json'])
    first!.child.kill('SIGKILL')
    const killed = await first!.done
    expect(killed.signal).toBe('SIGKILL')
    // Killed: it printed nothing on stdout.
    expect(killed.stdout).toBe('')
    // Let the origin notice the dropped connection, so its byte count is final.
    await waitUntil('the origin stops sending', async () => {
      const before = box.origin.bytesSent
      await sleep(100)
      return box.origin.bytesSent === before
    })
    expect(box.origin.bytesSent).toBeLessThan(SIZE)
    await expectResumed(temporary, box.origin.bytesSent, box.origin.requests.length, ['--json'])
  })

  it('after SIGTERM, the process stops on its own with a non-zero code, and a rerun completes', { timeout: 60_000 }, async () => {
    // The origin-only mode here (the SIGKILL case runs in the default one): it spares each run the peer stack's start.
    const temporary = await startMidway(['--mode', 'http'])
    const termAt = Date.now()
    first!.child.kill('SIGTERM')
    const stopped = await first!.done
    expect(stopped.timedOut).toBe(false)
    expect(Date.now() - termAt).toBeLessThan(5_000)
    // It handled the signal itself: an exit code, not death by signal.
    expect(stopped.signal).toBe(null)
    expect(stopped.code).not.toBe(0)
    expect(stopped.code).not.toBe(null)
    expect(hasStackTrace(stopped.stderr)).toBe(false)
    // Interrupted, not failed: the temporary file is kept for the rerun and the final file is not there yet.
    expect(await temporaryFiles(box.dir)).toEqual([temporary])
    await expect(stat(out)).rejects.toThrow()

    await waitUntil('the origin stops sending', async () => {
      const before = box.origin.bytesSent
      await sleep(100)
      return box.origin.bytesSent === before
    })
    const { stderr } = await expectResumed(temporary, box.origin.bytesSent, box.origin.requests.length, ['--mode', 'http'])
    expect(stderr).toContain(`saved ${out}`)
  })

  it('a rerun with a different --sha256 starts a new job instead of resuming', { timeout: 60_000 }, async () => {
    // (A rerun that only adds --sha256 to a run without one keeps its pieces: get-ux.test.ts.)
    await startMidway(['--mode', 'http', '--sha256', 'ab'.repeat(32)])
    first!.child.kill('SIGKILL')
    await first!.done
    box.origin.setFault('/big.bin', null)
    const requestsBefore = box.origin.requests.length
    const digest = createHash('sha256').update(data).digest('hex')
    const second = await run([...args, '--mode', 'http', '--sha256', digest], { timeoutMs: 20_000 })
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).not.toContain('resuming job')
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    // Started over: the first GET of the new run asks from byte 0.
    const gets = box.origin.requests.slice(requestsBefore).filter(q => q.method === 'GET')
    expect(rangeStart(gets[0]?.range ?? null)).toBe(0)
  })
})
