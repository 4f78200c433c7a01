import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { makeDirectory } from '../src/index.js'

describe('makeDirectory', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-mkdir-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('creates a folder and its missing parents, and accepts one that exists', async () => {
    const path = join(dir, 'a', 'b', 'c')
    await makeDirectory(path)
    expect((await stat(path)).isDirectory()).toBe(true)
    await makeDirectory(path)
    await makeDirectory(dir)
    expect((await stat(path)).isDirectory()).toBe(true)
  })

  it('fails under a dangling symlink', async () => {
    await symlink(join(dir, 'gone'), join(dir, 'dangling'))
    await expect(makeDirectory(join(dir, 'dangling', 'data'))).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(makeDirectory(join(dir, 'dangling', 'x', 'y'))).rejects.toMatchObject({ code: 'ENOENT' })
  })

  // Where Node's own recursive mkdir never settles (make-directory.ts).
  it.runIf(process.platform === 'linux')('fails with ENOENT under /proc', async () => {
    await expect(makeDirectory('/proc/dopt-no-such-folder/data')).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('fails when the path or a parent is a file', async () => {
    const file = join(dir, 'file')
    await writeFile(file, 'x')
    await expect(makeDirectory(file)).rejects.toMatchObject({ code: 'ENOTDIR' })
    await expect(makeDirectory(join(file, 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})
