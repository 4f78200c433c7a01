import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeManifest, manifestCid, toHex } from '@dopt/content'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exists, hasStackTrace, jsonLine, run, sandbox, sha256Hex } from './helpers.js'
import type { Sandbox } from './helpers.js'
import { randomBytesSeeded } from '@dopt/lab'

const SIZE = 3 * 256 * 1024 + 1234
const PIECE = 256 * 1024

interface ManifestJson { cid: string, size: number, pieceSize: number, pieces: number, sha256: string, manifest: string }

function manifestJson (stdout: string): ManifestJson {
  const lines = stdout.split('\n').filter(l => l.trim() !== '')
  expect(lines).toHaveLength(1)
  return JSON.parse(lines[0]!) as ManifestJson
}

describe('dopt manifest: a publisher\'s manifest, made offline', () => {
  let box: Sandbox
  let data: Uint8Array
  let file: string

  beforeEach(async () => {
    box = await sandbox()
    data = randomBytesSeeded(SIZE, 77)
    file = join(box.dir, 'update.bin')
    await writeFile(file, data)
  })
  afterEach(async () => { await box.cleanup() })

  it('writes FILE.dopt-manifest with the piece size asked for, and prints the CID of exactly those bytes', async () => {
    const r = await run(['manifest', file, '--piece-size', '256KiB', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const m = manifestJson(r.stdout)
    expect(m).toEqual({ cid: expect.stringMatching(/^b/), size: SIZE, pieceSize: PIECE, pieces: 4, sha256: sha256Hex(data), manifest: `${file}.dopt-manifest` })
    const bytes = await readFile(m.manifest)
    expect(manifestCid(bytes).toString()).toBe(m.cid)
    const decoded = decodeManifest(bytes)
    expect(decoded.size).toBe(SIZE)
    expect(decoded.pieceSize).toBe(PIECE)
    expect(decoded.pieceHashes.map(h => toHex(h))).toEqual([0, 1, 2, 3].map(i => sha256Hex(data.subarray(i * PIECE, (i + 1) * PIECE))))
    // No temporary file left beside it.
    expect((await readdir(box.dir)).sort()).toEqual(['update.bin', 'update.bin.dopt-manifest'])
  })

  it('without --json: the CID alone on stdout, where it goes and how to use it on stderr; -o elsewhere', async () => {
    const elsewhere = join(box.dir, 'out', 'm.bin')
    await mkdir(join(box.dir, 'out'))
    const r = await run(['manifest', file, '-o', elsewhere])
    expect(r.code, r.stderr).toBe(0)
    const cid = r.stdout.trim()
    expect(cid).toMatch(/^b[a-z2-7]+$/)
    expect(manifestCid(await readFile(elsewhere)).toString()).toBe(cid)
    expect(decodeManifest(await readFile(elsewhere)).pieceSize).toBe(1024 * 1024)
    expect(r.stderr).toContain(`--manifest ${cid}`)
    expect(await exists(`${file}.dopt-manifest`)).toBe(false)
  })

  it('published beside the file, a job pinned to the CID fetches it from the sidecar, checks every piece and counts its bytes', async () => {
    const made = manifestJson((await run(['manifest', file, '--piece-size', '256KiB', '--json'])).stdout)
    const sidecar = await readFile(made.manifest)
    box.origin.setFile('/update.bin', { data })
    box.origin.setFile('/update.bin.dopt-manifest', { data: sidecar })
    const out = join(box.dir, 'got.bin')
    const r = await run(['get', box.origin.url('/update.bin'), '-o', out, '--data-dir', box.dataDir, '--mode', 'http', '--manifest', made.cid, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const result = jsonLine(r)
    expect(result.state).toBe('acknowledged')
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(box.origin.requests.some(q => q.path === '/update.bin.dopt-manifest' && q.status === 200)).toBe(true)
    // Every byte the origin sent for the job: the file and the manifest.
    expect(result.bytesFromOrigin).toBe(SIZE + sidecar.byteLength)
  })

  it('a file that is not the published one fails validation against the pinned manifest, and nothing is delivered', async () => {
    const made = manifestJson((await run(['manifest', file, '--piece-size', '256KiB', '--json'])).stdout)
    const other = new Uint8Array(data)
    other[PIECE + 5] = (other[PIECE + 5] ?? 0) ^ 0xff
    box.origin.setFile('/update.bin', { data: other })
    box.origin.setFile('/update.bin.dopt-manifest', { data: await readFile(made.manifest) })
    const out = join(box.dir, 'got.bin')
    const r = await run(['get', box.origin.url('/update.bin'), '-o', out, '--data-dir', box.dataDir, '--mode', 'http', '--manifest', made.cid, '--json'])
    expect(r.code).toBe(1)
    expect(jsonLine(r).error?.code).toBe('VALIDATION_FAILED')
    expect(await exists(out)).toBe(false)
  })

  it('bad input: exit 2, a clear message with its code, no stack trace, nothing written', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['manifest'], /manifest needs a FILE/],
      [['manifest', file, file], /manifest takes one FILE, got 2/],
      [['manifest', join(box.dir, 'missing.bin')], /missing\.bin is not a file \(INVALID_PATH\)/],
      [['manifest', box.dir], /is not a file \(INVALID_PATH\)/],
      [['manifest', file, '--piece-size', 'big'], /--piece-size must be a size such as 64MiB.*\(INVALID_ARGUMENT\)/],
      [['manifest', file, '--piece-size', '1KiB'], /piece size must be a whole number of bytes from 16384 to 16777216.*\(INVALID_ARGUMENT\)/],
      [['manifest', file, '-o', file], /cannot overwrite the file it describes \(INVALID_PATH\)/],
      [['manifest', file, '-o', join(box.dir, 'no-such-folder', 'm')], /cannot write the manifest to .*no-such-folder.*\(INVALID_PATH\)/],
      [['manifest', file, '--pieces', '3'], /Unknown option '--pieces'/]
    ]
    for (const [args, message] of cases) {
      const r = await run(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(hasStackTrace(r.stderr)).toBe(false)
    }
    expect(await exists(`${file}.dopt-manifest`)).toBe(false)
    expect(Buffer.compare(await readFile(file), data)).toBe(0)
  })

})
