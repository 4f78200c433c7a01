import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { exists, hasStackTrace, jsonLine, run, sandbox, sha256Hex, temporaryFiles, servePayload } from './helpers.js'
import type { Sandbox } from './helpers.js'

/**
 * The origin-only mode, for the tests that are not about the default mode: it spares each run the peer stack's
 * start. The first two tests run in the default mode, as users do.
 */
const HTTP = ['--mode', 'http']

const SIZE = 3 * 1024 * 1024 + 12345 // not a multiple of any piece size

describe('dopt get', () => {
  let box: Sandbox
  let data: Uint8Array
  let url: string
  let out: string

  beforeEach(async () => {
    box = await sandbox()
    ;({ data, url, out } = servePayload(box, 'file.bin', SIZE, 11))
  })
  afterEach(async () => { await box.cleanup() })

  it('downloads the file, exits 0 and leaves no temporary file (human output)', async () => {
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir])
    expect(r.code, r.stderr).toBe(0)
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])
    // Human output goes to stderr; stdout stays clean for scripts.
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`saved ${out}`)
    expect(hasStackTrace(r.stderr)).toBe(false)
  })

  it('--json prints exactly one JSON line with the contract shape', async () => {
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.endsWith('\n')).toBe(true)
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1)
    const result = jsonLine(r)
    expect(result).toEqual({
      jobId: expect.any(String),
      state: 'acknowledged',
      bytesTotal: SIZE,
      bytesTransferred: SIZE,
      bytesFromPeers: 0,
      bytesFromOrigin: SIZE,
      files: [{ remoteName: url, localName: out, bytesTotal: SIZE, bytesFromPeers: 0, bytesFromOrigin: SIZE, manifestCid: expect.stringMatching(/^b/) }],
      error: null,
      // Beyond the contract, in the default (peer) mode: where this node listened.
      peerId: expect.stringMatching(/^12D3KooW/),
      listen: [expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)]
    })
    expect(result.jobId.length).toBeGreaterThan(0)
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])
  })

  it('a relative -o is resolved against the working directory', async () => {
    const r = await run(['get', url, '-o', 'file.bin', '--data-dir', box.dataDir, ...HTTP, '--json'], { cwd: box.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(jsonLine(r).files[0]?.localName).toBe(out)
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
  })

  it('-o with a file name of 255 bytes (the longest file systems allow) works; one of 256 is INVALID_PATH, exit 2', async () => {
    // The job is named after the file: "dopt get " + 255 characters is more than a job name may have (256).
    const long = join(box.dir, 'n'.repeat(255))
    const r = await run(['get', url, '-o', long, '--data-dir', box.dataDir, ...HTTP, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(Buffer.compare(await readFile(long), data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])
    const tooLong = await run(['get', url, '-o', join(box.dir, 'n'.repeat(256)), '--data-dir', box.dataDir, ...HTTP, '--json'])
    expect(tooLong.code, tooLong.stderr).toBe(2)
    expect(jsonLine(tooLong).error).toMatchObject({ code: 'INVALID_PATH', message: expect.stringMatching(/256 bytes/) })
    expect(hasStackTrace(tooLong.stderr)).toBe(false)
  })

  it('--sha256 with the right digest (upper or lower case) exits 0', async () => {
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--sha256', sha256Hex(data).toUpperCase()])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonLine(r)).toMatchObject({ state: 'acknowledged', bytesFromOrigin: SIZE, error: null })
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
  })

  it('a wrong --sha256 exits 1 with VALIDATION_FAILED and no output file', async () => {
    const wrong = sha256Hex(randomBytesSeeded(16, 99))
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--sha256', wrong])
    expect(r.code, r.stderr).toBe(1)
    const result = jsonLine(r)
    expect(result.state).toBe('error')
    expect(result.error).toMatchObject({ code: 'VALIDATION_FAILED', context: expect.any(String), message: expect.any(String) })
    expect(await exists(out)).toBe(false)
    expect(hasStackTrace(r.stderr)).toBe(false)
  })

  it('rerun with the corrected --sha256 after a mismatch succeeds', { timeout: 60_000 }, async () => {
    const wrong = sha256Hex(randomBytesSeeded(16, 99))
    const first = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--sha256', wrong])
    expect(first.code, first.stderr).toBe(1)
    const second = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--sha256', sha256Hex(data)])
    expect(second.code, second.stdout + second.stderr).toBe(0)
    expect(jsonLine(second)).toMatchObject({ state: 'acknowledged', error: null })
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])
  })

  it('human output of a failed job names the error on stderr and exits 1', async () => {
    const wrong = sha256Hex(randomBytesSeeded(16, 99))
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--sha256', wrong])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain('VALIDATION_FAILED')
    expect(hasStackTrace(r.stderr)).toBe(false)
  })
})
