import { readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { exists, hasStackTrace, jsonLine, run, sandbox, sha256Hex, temporaryFiles, servePayload } from './helpers.js'
import type { Sandbox } from './helpers.js'

/** The origin-only mode: these tests are not about peers, and it spares each run the peer stack's start. */
const HTTP = ['--mode', 'http']

const SIZE = 2 * 1024 * 1024 + 777

/**
 * A validator as a user would write one: records its arguments and what it saw, then accepts the file when its
 * SHA-256 is the one given in the environment.
 */
const CHECKER = `
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
const path = process.argv.at(-1)
const content = readFileSync(path)
const sha256 = createHash('sha256').update(content).digest('hex')
writeFileSync(process.env.RECORD, JSON.stringify({
  args: process.argv.slice(2), size: content.length, sha256, finalExists: existsSync(process.env.FINAL)
}))
process.exit(sha256 === process.env.WANT ? 0 : 3)
`

function shellQuote (s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`
}

describe('dopt get --validate-cmd', () => {
  let box: Sandbox
  let data: Uint8Array
  let url: string
  let out: string

  beforeEach(async () => {
    box = await sandbox()
    ;({ data, url, out } = servePayload(box, 'v.bin', SIZE, 21))
  })
  afterEach(async () => { await box.cleanup() })

  it('"true" accepts the file: exit 0, file in place', async () => {
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--validate-cmd', 'true'])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonLine(r)).toMatchObject({ state: 'acknowledged', bytesFromOrigin: SIZE, bytesFromPeers: 0, error: null })
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(await temporaryFiles(box.dir)).toEqual([])
  })

  it('"false" rejects content that came wholly from the origin: exit 1, VALIDATION_FAILED, no file', async () => {
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--validate-cmd', 'false'])
    expect(r.code, r.stderr).toBe(1)
    const result = jsonLine(r)
    expect(result.state).toBe('error')
    expect(result.bytesFromPeers).toBe(0)
    expect(result.error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(await exists(out)).toBe(false)
    expect(hasStackTrace(r.stderr)).toBe(false)
  })

  it('the command gets the temporary path as its last argument, before the file is in place', async () => {
    const script = join(box.dir, 'check.mjs')
    const record = join(box.dir, 'record.json')
    await writeFile(script, CHECKER)
    const cmd = `${shellQuote(process.execPath)} ${shellQuote(script)} --some-flag`
    const env = { RECORD: record, FINAL: out, WANT: sha256Hex(data) }

    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--validate-cmd', cmd], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(jsonLine(r)).toMatchObject({ state: 'acknowledged', error: null })
    const seen = JSON.parse(await readFile(record, 'utf8'))
    expect(seen.args).toHaveLength(2)
    expect(seen.args[0]).toBe('--some-flag')
    const temporary: string = seen.args[1]
    expect(temporary).not.toBe(out)
    expect(dirname(temporary)).toBe(box.dir) // same folder as the output, so the final rename is atomic
    expect(basename(temporary)).toMatch(/\.dopt-tmp$/)
    expect(seen.size).toBe(SIZE)
    expect(seen.sha256).toBe(sha256Hex(data))
    expect(seen.finalExists).toBe(false)
    // Accepted: renamed into place, temporary gone.
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    expect(await exists(temporary)).toBe(false)
  })

  it('a command that finds the content wrong fails the job with VALIDATION_FAILED', async () => {
    const script = join(box.dir, 'check.mjs')
    const record = join(box.dir, 'record.json')
    await writeFile(script, CHECKER)
    const env = { RECORD: record, FINAL: out, WANT: sha256Hex(randomBytesSeeded(SIZE, 22)) }
    const cmd = `${shellQuote(process.execPath)} ${shellQuote(script)}`

    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--validate-cmd', cmd], { env })
    expect(r.code, r.stderr).toBe(1)
    expect(jsonLine(r).error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect(JSON.parse(await readFile(record, 'utf8')).size).toBe(SIZE)
    expect(await exists(out)).toBe(false)
  })

  it('a path with spaces and quotes reaches the command as one argument', async () => {
    const odd = join(box.dir, "it's a file.bin")
    const record = join(box.dir, 'args.json')
    const script = join(box.dir, 'args.mjs')
    await writeFile(script, `import { writeFileSync } from 'node:fs'\nwriteFileSync(process.env.RECORD, JSON.stringify(process.argv.slice(2)))\n`)
    const cmd = `${shellQuote(process.execPath)} ${shellQuote(script)}`

    const r = await run(['get', url, '-o', odd, '--data-dir', box.dataDir, ...HTTP, '--json', '--validate-cmd', cmd], { env: { RECORD: record } })
    expect(r.code, r.stderr).toBe(0)
    const args: string[] = JSON.parse(await readFile(record, 'utf8'))
    expect(args).toHaveLength(1)
    expect(basename(args[0]!)).toMatch(/^\.it's a file\.bin\..*\.dopt-tmp$/)
    expect(Buffer.compare(await readFile(odd), data)).toBe(0)
  })
})
