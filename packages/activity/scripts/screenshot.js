// Makes docs/activity.png: the activity page of a real node, in Debian's chromium, during a run with uploads,
// downloads from a peer, from the origin, and from both. About 45 s. Run after `npm run build`:
//   node packages/activity/scripts/screenshot.js [OUT.png]
// Everything stays on 127.0.0.1: a local origin (rate-limited per file), two nodes with mDNS off.
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'
import { startActivityServer } from '@dopt/activity'
import { createNode } from '@dopt/node'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import { launchOptions } from './chromium.mjs'

const MiB = 1 << 20
const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(process.argv[2] ?? join(here, '../../../docs/activity.png'))
const say = text => process.stdout.write(`${text}\n`)

const dir = await mkdtemp(join(tmpdir(), 'dopt-screenshot-'))
const origin = await startOrigin()
const nodes = []
let server = null
let browser = null
try {
  const files = {}
  const serve = (name, size, rate) => {
    const data = randomBytesSeeded(size, name.length)
    origin.setFile(`/${name}`, { data })
    if (rate !== undefined) origin.setFault(`/${name}`, { rate })
    files[name] = { url: origin.url(`/${name}`), sha256: createHash('sha256').update(data).digest('hex') }
  }
  const config = { mode: 'lan', mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], originDelay: 0, discoveryTimeout: 0.5, minFileSizeToCache: 0, modificationInterval: 100 }
  const start = async (name, more = {}) => {
    const node = await createNode({ ...config, ...more, dataDir: join(dir, name) })
    nodes.push(node)
    return node
  }
  const get = async (node, name, display) => {
    const job = await node.jobs.createJob(display ?? name)
    await job.addFile(files[name].url, join(dir, `${node.peerId.slice(-6)}-${name}`), { sha256: files[name].sha256 })
    await job.resume()
    return job
  }

  serve('app-1.4.pkg', 24 * MiB)
  serve('os-update-2026.12.img', 48 * MiB, 3 * MiB)
  serve('driver-pack.bin', 32 * MiB, 2 * MiB)
  serve('fonts.tar', 24 * MiB, 1 * MiB)

  // A neighbour that already has the app (in its cache) and serves at most 4 MiB/s.
  const seed = await start('seed', { uploadRate: 4 * MiB })
  const first = await get(seed, 'app-1.4.pkg')
  await first.waitFor()
  await first.complete()
  const node = await start('node', { peers: seed.getMultiaddrs() })
  server = await startActivityServer(node, { interval: 500 })
  say(`activity page: ${server.url}`)
  browser = await chromium.launch(launchOptions())
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, deviceScaleFactor: 1 })
  await page.goto(server.url)
  await page.waitForSelector('#status[data-state="live"]')

  await sleep(3000)
  const os = await get(node, 'os-update-2026.12.img', 'OS update 2026.12')
  await sleep(5000)
  const app = await get(node, 'app-1.4.pkg', 'App 1.4')
  await app.waitFor()
  await app.complete()
  await sleep(4000)
  // Both nodes want the driver pack at once: they split the origin's pieces and trade the rest.
  const drivers = await get(node, 'driver-pack.bin', 'Driver pack')
  const seedDrivers = await get(seed, 'driver-pack.bin', 'Driver pack')
  await drivers.waitFor()
  await seedDrivers.waitFor()
  await os.waitFor()
  await get(node, 'fonts.tar', 'Fonts')
  await sleep(6000)
  await page.screenshot({ path: out, fullPage: true })
  say(`wrote ${out}`)
} finally {
  await browser?.close()
  await server?.close()
  await Promise.allSettled(nodes.map(n => n.stop()))
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
