import { readFile } from 'node:fs/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { closedPortUrl, exists, hasStackTrace, jsonLine, run, sandbox, temporaryFiles, servePayload } from './helpers.js'
import type { Sandbox } from './helpers.js'

/** The origin-only mode: these tests are not about peers, and it spares each run the peer stack's start. */
const HTTP = ['--mode', 'http']

const SIZE = 1024 * 1024 + 3

describe('dopt get: job errors', () => {
  let box: Sandbox
  let data: Uint8Array
  let url: string
  let out: string

  beforeEach(async () => {
    box = await sandbox()
    ;({ data, url, out } = servePayload(box, 'e.bin', SIZE, 31))
  })
  afterEach(async () => { await box.cleanup() })

  it('404: exit 1, HTTP_STATUS with httpStatus 404 in context remote-file, no file', async () => {
    const missing = box.origin.url('/missing.bin')
    const r = await run(['get', missing, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json'])
    expect(r.code, r.stderr).toBe(1)
    const result = jsonLine(r)
    expect(result).toMatchObject({
      state: 'error',
      bytesFromPeers: 0,
      bytesFromOrigin: 0,
      files: [{ remoteName: missing, localName: out }],
      error: { code: 'HTTP_STATUS', httpStatus: 404, context: 'remote-file', message: expect.any(String) }
    })
    expect(await exists(out)).toBe(false)
    expect(hasStackTrace(r.stderr)).toBe(false)
    // A 404 is not retried.
    expect(box.origin.requests.filter(q => q.path === '/missing.bin').length).toBeLessThanOrEqual(2)
  })

  it('404 without --json: exit 1, the error on stderr, nothing on stdout', async () => {
    const r = await run(['get', box.origin.url('/missing.bin'), '-o', out, '--data-dir', box.dataDir, ...HTTP])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/HTTP_STATUS/)
    expect(hasStackTrace(r.stderr)).toBe(false)
  })

  it('500 twice, then success: retried, exit 0', async () => {
    box.origin.setFault('/e.bin', { failTimes: 2 })
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--json', '--retry-delay', '0.2'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(jsonLine(r)).toMatchObject({ state: 'acknowledged', bytesFromOrigin: SIZE, error: null })
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    const gets = box.origin.requests.filter(q => q.method === 'GET')
    expect(gets.filter(q => q.status === 500)).toHaveLength(2)
    expect(gets.at(-1)?.status).toBeOneOf([200, 206])
    expect(await temporaryFiles(box.dir)).toEqual([])
  })

  it('an origin that refuses connections: each retry said on its own line, then exit 1 after the no-progress timeout', async () => {
    const refused = await closedPortUrl()
    const r = await run(['get', refused, '-o', out, '--data-dir', box.dataDir, ...HTTP, '--retry-delay', '0.3', '--no-progress-timeout', '4'])
    expect(r.code, r.stderr).toBe(1)
    expect(hasStackTrace(r.stderr)).toBe(false)
    const lines = r.stderr.trimEnd().split('\n')
    const retries = lines.filter(l => /^dopt: .*ECONNREFUSED.*; retrying in 0.3 s$/.test(l))
    expect(retries.length).toBeGreaterThanOrEqual(2)
    // Nothing else but the final error: no blank lines between retries when stderr is not a terminal.
    expect(lines.slice(0, retries.length)).toEqual(retries)
    expect(lines.slice(retries.length)).toHaveLength(1)
    expect(lines.at(-1)).toMatch(/^dopt: /)
    expect(await exists(out)).toBe(false)
  })
})
