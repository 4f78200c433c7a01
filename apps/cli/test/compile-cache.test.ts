import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BIN } from './helpers.js'

// bin/dopt.js turns on Node's module compile cache (Node 22.1+) in the user's cache folder (bin/compile-cache.js).
const hasCache = typeof (await import('node:module') as { default: { enableCompileCache?: unknown } }).default.enableCompileCache === 'function'

async function help (env: NodeJS.ProcessEnv): Promise<string> {
  const clean = { ...process.env }
  delete clean.NODE_COMPILE_CACHE
  delete clean.NODE_DISABLE_COMPILE_CACHE
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'help'], { env: { ...clean, ...env }, timeout: 15_000 })
  return stdout
}

describe('the compile cache of bin/dopt.js', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-compile-cache-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it(`is kept in $XDG_CACHE_HOME/dopt/compile-cache where Node has one, and nowhere on Node 20 (this is ${process.version})`, async () => {
    expect(await help({ XDG_CACHE_HOME: dir })).toMatch(/^dopt — /)
    if (hasCache) {
      const [sub, ...more] = await readdir(join(dir, 'dopt', 'compile-cache'))
      expect(more).toEqual([])
      expect(sub).toContain(process.version) // Node's own folder per version, holding the bundle's compiled code
      expect((await readdir(join(dir, 'dopt', 'compile-cache', sub!))).length).toBeGreaterThan(0)
    } else {
      expect(await readdir(dir)).toEqual([])
    }
  })

  it('is not made with NODE_DISABLE_COMPILE_CACHE=1', async () => {
    expect(await help({ XDG_CACHE_HOME: dir, NODE_DISABLE_COMPILE_CACHE: '1' })).toMatch(/^dopt — /)
    expect(await readdir(dir)).toEqual([])
  })

  it('is left out, the command still running, where its folder cannot be made (under /proc, where a recursive mkdir never returns)', async () => {
    expect(await help({ XDG_CACHE_HOME: '/proc' })).toMatch(/^dopt — /)
    expect(await help({ XDG_CACHE_HOME: join(dir, 'missing') })).toMatch(/^dopt — /)
    expect(await readdir(dir)).toEqual([])
  })
})
