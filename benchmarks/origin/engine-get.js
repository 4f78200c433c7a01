// `dopt get --mode http` without the CLI, with a chosen transport for http: - the origin benchmark's A/B of
// dopt's raw-socket transport against undici, everything else equal (engine defaults, level store, O_DIRECT writes).
//
//   node benchmarks/origin/engine-get.js URL OUT DATADIR net|undici|node-https
//
// net: dopt's raw socket transport for http: and https: (the default); undici: undici for http:; node-https:
// node:https for https:. A test CA can be given the usual way (NODE_EXTRA_CA_CERTS).
// Prints one JSON line, { state, error, bytesFromOrigin, requests }; exit 0 when the job was acknowledged.
import { join } from 'node:path'
import { REPO_ROOT } from '../lib.js'

const [url, out, dataDir, transportName] = process.argv.slice(2)
if (url === undefined || out === undefined || dataDir === undefined || !['net', 'undici', 'node-https'].includes(transportName)) {
  process.stderr.write('usage: node benchmarks/origin/engine-get.js URL OUT DATADIR net|undici|node-https\n')
  process.exit(2)
}
const dist = (p) => join(REPO_ROOT, 'packages', p)
const { openLevelStore } = await import(dist('store/dist/index.js'))
const { createJobEngine } = await import(dist('engine/dist/index.js'))
const { DefaultOriginClient } = await import(dist('origin/dist/origin-client.js'))
const { NetTransport } = await import(dist('origin/dist/net-transport.js'))
const { NodeHttpTransport } = await import(dist('origin/dist/node-http-transport.js'))
const { UndiciTransport } = transportName === 'undici' ? await import('./undici-transport.js') : {}

const client = new DefaultOriginClient({}, settings => {
  const net = new NetTransport(settings)
  return {
    http: transportName === 'undici' ? new UndiciTransport(settings) : net,
    https: transportName === 'node-https' ? new NodeHttpTransport(settings) : net
  }
})
const store = await openLevelStore({ location: join(dataDir, 'db') })
const engine = await createJobEngine({ store, originClient: client }, {})
const job = await engine.createJob('bench', 'download')
await job.addFile(url, out)
await job.setPriority('foreground')
await job.resume()
let state = await job.waitFor(['transferred', 'error', 'cancelled'])
if (state === 'transferred') {
  await job.complete()
  state = job.getState()
}
const progress = job.getProgress()
process.stdout.write(`${JSON.stringify({ state, error: job.getError(), bytesTotal: progress.bytesTotal, transport: transportName })}\n`)
await engine.stop()
await store.close()
process.exit(state === 'acknowledged' ? 0 : 1)
