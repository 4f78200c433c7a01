import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exists, hasStackTrace, jsonLine, run, sandbox, servePayload, sha256Hex, start, temporaryFiles, waitUntil } from './helpers.js'
import type { Sandbox } from './helpers.js'

/** These are about what a user of `dopt get` sees, not about peers. */
const HTTP = ['--mode', 'http']
const MiB = 1024 * 1024

let box: Sandbox
beforeEach(async () => { box = await sandbox() })
afterEach(async () => { await box.cleanup() })

describe('what a user of dopt get sees', () => {
  it('a rejected download is removed, and the error line gives the true figures', async () => {
    const { url, out } = servePayload(box, 'r.bin', 3 * MiB, 81)
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--sha256', '0'.repeat(64), '--json'])
    expect(r.code).toBe(1)
    const result = jsonLine(r)
    expect(result).toMatchObject({ state: 'error', bytesTotal: 3 * MiB, bytesFromOrigin: 3 * MiB, error: { code: 'VALIDATION_FAILED' } })
    expect(await temporaryFiles(box.dir)).toEqual([])
    const human = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--sha256', '0'.repeat(64)])
    expect(human.stderr).toContain('the rejected download was removed')
  })

  it('a --validate-cmd that cannot run says so with its exit status, keeps the file, and a rerun judges it without fetching it again', async () => {
    const { data, url, out } = servePayload(box, 'v.bin', 2 * MiB, 82)
    const broken = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--validate-cmd', join(box.dir, 'no-such-validator'), '--json'])
    expect(broken.code).toBe(2)
    expect(hasStackTrace(broken.stderr)).toBe(false)
    const result = jsonLine(broken)
    expect(result.error).toMatchObject({ code: 'VALIDATOR_FAILED', message: expect.stringContaining('exit 127') })
    expect(result.state).toBe('suspended')
    expect(await exists(out)).toBe(false)
    const script = join(box.dir, 'not-executable.sh')
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 })
    const denied = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--validate-cmd', script, '--json'])
    expect(jsonLine(denied).error?.message).toContain('exit 126')
    const sent = box.origin.bytesSent
    const fixed = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--validate-cmd', 'test -s', '--json'])
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(box.origin.bytesSent - sent).toBe(0)
    expect(sha256Hex(await readFile(out))).toBe(sha256Hex(data))
  })

  it('a rerun that adds --sha256 to an interrupted download keeps what was fetched', { timeout: 60_000 }, async () => {
    const { data, url, out } = servePayload(box, 's.bin', 16 * MiB, 83)
    box.origin.setFault('/s.bin', { rate: 8 * MiB })
    const first = start(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json'])
    await waitUntil('half is fetched', () => box.origin.bytesSent >= 8 * MiB, { timeoutMs: 20_000 })
    first.child.kill('SIGINT')
    expect((await first.done).code).toBe(130)
    box.origin.setFault('/s.bin', null)
    const second = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--sha256', sha256Hex(data), '--json'])
    expect(second.code, second.stderr).toBe(0)
    expect(sha256Hex(await readFile(out))).toBe(sha256Hex(data))
    // About one copy in all (the stop saved every verified piece), not the interrupted half and the whole again.
    expect(box.origin.bytesSent).toBeLessThan(18 * MiB)
  })

  it('a job that succeeded after retried origin failures reports no error', async () => {
    const { url, out } = servePayload(box, 'e.bin', 1 * MiB, 84)
    box.origin.setFault('/e.bin', { failTimes: 3, failStatus: 500 })
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--retry-delay', '0', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonLine(r)).toMatchObject({ state: 'acknowledged', error: null })
  })

  it('Ctrl-C says what is kept and how to resume, and --json still gives the job id', { timeout: 60_000 }, async () => {
    const { url, out } = servePayload(box, 'c.bin', 16 * MiB, 85)
    box.origin.setFault('/c.bin', { rate: 4 * MiB })
    const human = start(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP])
    await waitUntil('bytes arrive', () => box.origin.bytesSent >= 1 * MiB, { timeoutMs: 20_000 })
    human.child.kill('SIGINT')
    const h = await human.done
    expect(h.code).toBe(130)
    expect(h.stderr).toMatch(/interrupted; job [0-9a-f-]+ is kept with .* run the same command to resume it/)
    const json = start(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json'])
    await waitUntil('the job resumed', () => box.origin.requests.filter(q => q.path === '/c.bin').length >= 3, { timeoutMs: 20_000 })
    json.child.kill('SIGINT')
    const j = await json.done
    expect(j.code).toBe(130)
    const line = JSON.parse(j.stdout.trim()) as { jobId: string, interrupted: boolean, bytesTransferred: number }
    expect(line.interrupted).toBe(true)
    expect(line.jobId).toMatch(/^[0-9a-f-]{36}$/)
  })
})
