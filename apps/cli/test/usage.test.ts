import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'
import { createNode } from '@dopt/node'
import { exists, hasStackTrace, jsonLine, run } from './helpers.js'
import type { RunResult } from './helpers.js'

/** The origin-only mode: these tests are not about peers, and it spares each run the peer stack's start. */
const HTTP = ['--mode', 'http']

/** Exit 2, nothing on stdout, a short `dopt: ...` message on stderr and no stack trace. */
function expectUsageError (r: RunResult, pattern: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2)
  expect(r.stdout).toBe('')
  expect(hasStackTrace(r.stderr)).toBe(false)
  const lines = r.stderr.trimEnd().split('\n')
  // The message, and at most a hint pointing at the help.
  expect(lines.length).toBeLessThanOrEqual(2)
  expect(lines[0]).toMatch(/^dopt: /)
  expect(lines[0]).toMatch(pattern)
  if (lines.length === 2) expect(lines[1]).toMatch(/dopt help/)
}

// Each case is its own process with its own folders, so they run side by side.
describe.concurrent('usage and bad input: exit 2, one-line message, no stack trace', () => {
  let origin: Origin
  let root: string
  let url: string
  let n = 0

  /** A fresh folder for one case: its output path and data folder. */
  async function folder (): Promise<{ dir: string, out: string, dataDir: string }> {
    const dir = join(root, String(n++))
    await mkdir(dir)
    return { dir, out: join(dir, 'u.bin'), dataDir: join(dir, 'data') }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dopt-cli-usage-'))
    origin = await startOrigin()
    origin.setFile('/u.bin', { data: randomBytesSeeded(4096, 61) })
    url = origin.url('/u.bin')
  })
  afterAll(async () => {
    await origin.close()
    await rm(root, { recursive: true, force: true })
  })

  it('no URL', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', '-o', out, '--data-dir', dataDir, ...HTTP]), /URL/)
  })

  it('two URLs', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', url, url, '-o', out, '--data-dir', dataDir, ...HTTP]), /one URL/)
  })

  it('no -o', async () => {
    const { dataDir } = await folder()
    expectUsageError(await run(['get', url, '--data-dir', dataDir, ...HTTP]), /-o/)
  })

  it('unknown command', async () => {
    const { dataDir } = await folder()
    expectUsageError(await run(['fetchit', url, '--data-dir', dataDir, ...HTTP]), /unknown command "fetchit"/)
  })

  it('unknown option', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', url, '-o', out, '--data-dir', dataDir, ...HTTP, '--frobnicate']), /--frobnicate/)
  })

  it('an option without its value', async () => {
    const { dataDir } = await folder()
    expectUsageError(await run(['get', url, '--data-dir', dataDir, ...HTTP, '-o']), /-o|output/)
  })

  it('bad --mode', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', url, '-o', out, '--data-dir', dataDir, '--mode', 'carrier-pigeon']), /--mode/)
  })

  it('bad --retry-delay', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', url, '-o', out, '--data-dir', dataDir, ...HTTP, '--retry-delay', 'soon']), /--retry-delay/)
  })

  it('"not a url"', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', 'not a url', '-o', out, '--data-dir', dataDir, ...HTTP]), /not a url/)
  })

  it('ftp://x/y', async () => {
    const { out, dataDir } = await folder()
    expectUsageError(await run(['get', 'ftp://x/y', '-o', out, '--data-dir', dataDir, ...HTTP]), /ftp:\/\/x\/y/)
  })

  it('-o into a folder that does not exist', async () => {
    const { dir, dataDir } = await folder()
    const nowhere = join(dir, 'no', 'such', 'folder', 'u.bin')
    expectUsageError(await run(['get', url, '-o', nowhere, '--data-dir', dataDir, ...HTTP]), /does not exist/)
    expect(await exists(join(dir, 'no'))).toBe(false)
  })

  it('-o naming an existing folder', async () => {
    const { dir, dataDir } = await folder()
    const sub = join(dir, 'afolder')
    await mkdir(sub)
    expectUsageError(await run(['get', url, '-o', sub, '--data-dir', dataDir, ...HTTP]), /folder/)
  })

  for (const [name, bad] of [['too short', 'abc'], ['not hex', 'z'.repeat(64)]] as const) {
    it(`--sha256 that is not 64 hex digits (${name})`, async () => {
      const { out, dataDir } = await folder()
      expectUsageError(await run(['get', url, '-o', out, '--data-dir', dataDir, ...HTTP, '--sha256', bad]), /sha256/i)
      expect(await exists(out)).toBe(false)
    })
  }

  it('--json also prints the error as one JSON line on stdout', async () => {
    const { out, dataDir } = await folder()
    const r = await run(['get', 'ftp://x/y', '-o', out, '--data-dir', dataDir, ...HTTP, '--json'])
    expect(r.code).toBe(2)
    expect(jsonLine(r).error).toMatchObject({ code: 'INVALID_URL', message: expect.stringContaining('ftp://x/y') })
    expect(hasStackTrace(r.stderr)).toBe(false)
    const usage = await run(['get', url, '--data-dir', dataDir, ...HTTP, '--json'])
    expect(usage.code).toBe(2)
    expect(jsonLine(usage).error).toMatchObject({ code: 'USAGE', message: expect.stringContaining('-o') })
  })

  it('bad input leaves no job behind in the data folder and never reaches the origin', { timeout: 60_000 }, async () => {
    const { dir, out, dataDir } = await folder()
    // An origin of its own: the other cases run at the same time.
    const own = await startOrigin()
    try {
      own.setFile('/u.bin', { data: randomBytesSeeded(4096, 62) })
      const ownUrl = own.url('/u.bin')
      expect((await run(['get', 'not a url', '-o', out, '--data-dir', dataDir, ...HTTP])).code).toBe(2)
      expect((await run(['get', ownUrl, '-o', join(dir, 'nope', 'x.bin'), '--data-dir', dataDir, ...HTTP])).code).toBe(2)
      expect((await run(['get', ownUrl, '-o', out, '--data-dir', dataDir, ...HTTP, '--sha256', 'abc'])).code).toBe(2)
      expect(own.requests).toEqual([])
    } finally {
      await own.close()
    }
    const node = await createNode({ dataDir, mode: 'http' })
    try {
      expect((await node.jobs.enumJobs()).map(j => j.getDisplayName())).toEqual([])
    } finally {
      await node.stop()
    }
  })

  it('dopt help prints the usage on stdout and exits 0', async () => {
    const r = await run(['help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/dopt get URL -o PATH/)
    expect(r.stdout).toMatch(/Exit codes/)
  })
})

describe('the installed command', () => {
  it('npm links the committed bin/dopt.js, which runs the built CLI (a fresh clone links bins before building)', async () => {
    const { execFile } = await import('node:child_process')
    const { readFile } = await import('node:fs/promises')
    const { fileURLToPath } = await import('node:url')
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> }
    expect(pkg.bin.dopt).toBe('./bin/dopt.js')
    const shim = fileURLToPath(new URL('../bin/dopt.js', import.meta.url))
    // Run it as npm's link does: as an executable, through its #! line.
    const out = await new Promise<{ code: number, stdout: string }>((resolve) => {
      execFile(shim, ['help'], (err, stdout) => { resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? 1), stdout }) })
    })
    expect(out.code).toBe(0)
    expect(out.stdout).toMatch(/dopt get/)
  })

  it('runs the bundle `npm run build` made', async () => {
    const { cliEntry } = await import('../bin/entry.js')
    expect(cliEntry().pathname).toMatch(/apps\/cli\/dist\/bundle\/dopt\.js$/)
  })

  it('runs the compiled modules instead when a project was compiled after the bundle, or there is none', async () => {
    const { cliEntry } = await import('../bin/entry.js')
    const { mkdtemp, mkdir, rm, utimes, writeFile } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const { pathToFileURL } = await import('node:url')
    const root = await mkdtemp(join(tmpdir(), 'dopt-entry-'))
    try {
      const cli = pathToFileURL(join(root, 'apps/cli/'))
      const file = async (path: string, seconds: number): Promise<void> => {
        await mkdir(join(root, path, '..'), { recursive: true })
        await writeFile(join(root, path), '')
        await utimes(join(root, path), seconds, seconds)
      }
      await file('apps/cli/dist/bin.js', 1000)
      expect(cliEntry(cli).pathname).toMatch(/dist\/bin\.js$/) // no bundle
      await file('apps/cli/dist/bundle/dopt.js', 2000)
      await file('packages/engine/tsconfig.tsbuildinfo', 1500)
      expect(cliEntry(cli).pathname).toMatch(/dist\/bundle\/dopt\.js$/)
      await file('packages/engine/tsconfig.tsbuildinfo', 2500) // engine rebuilt, bundle not
      expect(cliEntry(cli).pathname).toMatch(/dist\/bin\.js$/)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
