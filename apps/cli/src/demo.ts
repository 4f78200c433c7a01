import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import { runGet } from './get.js'

const DEMO_SIZE = 256 * 1024 * 1024

/**
 * The embedded default: a local origin serving a generated 256 MiB file, downloaded through a dopt job with a
 * progress bar, then checked against its SHA-256. Everything lives in a temporary folder that is removed after.
 */
export async function runDemo (): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-demo-'))
  const origin = await startOrigin()
  try {
    const data = randomBytesSeeded(DEMO_SIZE, 7)
    origin.setFile('/payload.bin', { data })
    const { createHash } = await import('node:crypto')
    const sha256 = createHash('sha256').update(data).digest('hex')
    process.stderr.write(`dopt demo: origin at ${origin.baseUrl}, downloading 256 MiB into ${dir}\n`)
    const started = Date.now()
    const code = await runGet({
      url: origin.url('/payload.bin'), output: join(dir, 'payload.bin'), node: { dataDir: join(dir, 'data'), mode: 'http' },
      json: false, sha256, priority: 'foreground', retryDelay: 1, noProgressTimeout: 30, seedFor: 0
    })
    const seconds = (Date.now() - started) / 1000
    process.stderr.write(`dopt demo: ${code === 0 ? 'verified' : 'failed'} in ${seconds.toFixed(2)} s (${(DEMO_SIZE / 1048576 / seconds).toFixed(0)} MiB/s); the origin sent ${origin.bytesSent} bytes in ${origin.requests.length} requests\n`)
    return code
  } finally {
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }
}
