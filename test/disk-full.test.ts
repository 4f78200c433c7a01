import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

const child = fileURLToPath(new URL('./fixtures/disk-full-child.mjs', import.meta.url))
const MiB = 1 << 20

let dir: string
let origin: Origin
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-full-'))
  origin = await startOrigin()
})
afterEach(async () => {
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

describe('a data folder that fills up', () => {
  // A real full file system: a 2 MiB tmpfs, mounted in a mount namespace of the child's own (as root; as another
  // user, in a user namespace too), so nothing of the machine's is touched.
  it('fails the job with LOCAL_FILE saying the disk is full, not an unknown error', { timeout: 60_000 }, async () => {
    origin.setFile('/big.bin', { data: randomBytesSeeded(24 * MiB, 71) })
    origin.setFault('/big.bin', { rate: 8 * MiB })
    const dataDir = join(dir, 'data')
    await mkdir(dataDir)
    const asRoot = process.getuid?.() === 0
    const script = `mount -t tmpfs -o size=2m tmpfs "$1" && exec "$2" "$3" "$1" "$4" "$5"`
    const result = await new Promise<string>((resolve, reject) => {
      const p = spawn('unshare', [...(asRoot ? [] : ['-Ur']), '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dataDir, process.execPath, child, origin.url('/big.bin'), join(dir, 'big.bin')], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      p.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
      p.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
      p.once('error', reject)
      p.once('close', code => {
        if (code === 0) resolve(out)
        else reject(new Error(`the child failed (${String(code)}): ${err}`))
      })
    })
    const { state, error } = JSON.parse(result.trim()) as { state: string, error: { code: string, context: string, message: string } | null }
    expect(state).toBe('error')
    expect(error).toMatchObject({ code: 'LOCAL_FILE', context: 'local-file' })
    expect(error?.message).toMatch(/disk is full|no space/i)
  })
})
