// One dopt node of a lab run, as its own process (started by node-process.ts with an IPC channel). It starts its
// node at once, then waits for `go` to create its job, so process start-up is never timed; after its download it
// keeps serving peers, as a fleet daemon would, until `stop`. It exits when the lab goes away (IPC disconnect), so
// a lab killed by SIGKILL leaves no node behind.
import { createNode, NotifyFlags } from '@dopt/node'
import type { DoptNode, Job, NodeConfig } from '@dopt/node'
import type { FromNode, InitMessage, NodeFigures, ToNode } from './node-messages.js'

const now = (): number => performance.timeOrigin + performance.now()
const cpuNow = (): number => {
  const u = process.resourceUsage()
  return (u.userCPUTime + u.systemCPUTime) / 1e6
}

let node: DoptNode | null = null
let job: Job | null = null
let init: InitMessage | null = null
let cpuAtStart = 0
let finished = false
let progressTimer: NodeJS.Timeout | null = null
let stopping: Promise<void> | null = null
let peersTimer: NodeJS.Timeout | null = null

function send (message: FromNode): void {
  if (process.connected) process.send?.(message)
}

function figures (): NodeFigures {
  const p = job?.getProgress()
  return {
    bytesTransferred: p?.bytesTransferred ?? 0,
    bytesFromOrigin: p?.bytesFromOrigin ?? 0,
    bytesFromPeers: p?.bytesFromPeers ?? 0,
    bytesUploaded: node?.getStats().bytesUploaded ?? 0,
    cpuSeconds: cpuNow() - cpuAtStart,
    peakRss: process.resourceUsage().maxRSS * 1024
  }
}

function errorOf (err: unknown): { code: string, message: string } {
  const e = err as { code?: unknown, message?: unknown }
  return { code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: String(e?.message ?? err) }
}

async function start (msg: InitMessage): Promise<void> {
  init = msg
  try {
    node = await createNode(msg.config as NodeConfig)
  } catch (err) {
    const fatal: FromNode = { type: 'fatal', ...errorOf(err) }
    if (process.connected) process.send?.(fatal, () => process.exit(1))
    else process.exit(1)
    return
  }
  send({ type: 'ready', peerId: node.peerId, addrs: node.getMultiaddrs() })
  peersTimer = setInterval(() => { send({ type: 'peers', count: node?.getPeers().length ?? 0 }) }, msg.progressInterval)
}

async function go (startAt: number): Promise<void> {
  if (peersTimer !== null) clearInterval(peersTimer)
  const wait = startAt - now()
  if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
  if (node === null || init === null || stopping !== null) return
  // A restarted process counts its whole life: it was started during the run.
  cpuAtStart = init.job === 'new' ? cpuNow() : 0
  progressTimer = setInterval(() => { send({ type: 'progress', state: job?.getState() ?? 'none', ...figures() }) }, init.progressInterval)
  try {
    if (init.job === 'none') return
    // Its job by name: the one a killed process left (or created just before it was killed, before it said so).
    job = (await node.jobs.enumJobs()).find(j => j.getDisplayName() === init?.displayName) ?? null
    if (job === null && init.job === 'resume') {
      // Killed after complete() and before the lab heard of it: the file is in place, nothing is left to do.
      send({ type: 'done', at: now(), ...figures() })
      return
    }
    if (job === null) {
      job = await node.jobs.createJob(init.displayName, 'download')
      await job.addFile(init.url, init.output, init.check)
      await job.setPriority('foreground')
    }
    watch(job)
    send({ type: 'started', at: now(), ...figures() })
    // A transferred job (killed before it was completed) needs no resume: registering the callbacks above calls
    // jobTransferred again, which completes it.
    if (job.getState() !== 'transferred') await job.resume()
  } catch (err) {
    fail(err)
  }
}

function watch (j: Job): void {
  j.setNotifyFlags(NotifyFlags.JobTransferred | NotifyFlags.JobError)
  j.setNotifyInterface({
    jobTransferred: async (transferred: Job) => { await transferred.complete() },
    jobError: (_job: Job, error) => { fail(error) }
  })
  j.addEventListener('state', e => {
    if (e.detail.state === 'acknowledged' && !finished) {
      finished = true
      send({ type: 'done', at: now(), ...figures() })
    }
  })
}

function fail (err: unknown): void {
  if (finished) return
  finished = true
  send({ type: 'failed', at: now(), ...errorOf(err), ...figures() })
}

/** Sends the last figures, stops the node (jobs are kept), and exits. */
async function stop (code: number): Promise<void> {
  stopping ??= (async () => {
    if (progressTimer !== null) clearInterval(progressTimer)
    if (peersTimer !== null) clearInterval(peersTimer)
    const last: FromNode = { type: 'final', ...figures() }
    if (process.connected) await new Promise<void>(resolve => { process.send?.(last, () => { resolve() }) })
    const force = setTimeout(() => process.exit(code), 10_000)
    force.unref()
    try {
      await node?.stop()
    } finally {
      process.exit(code)
    }
  })()
  await stopping
}

if (process.send === undefined) {
  process.stderr.write('lab-node: start me with an IPC channel (from the lab), not by hand\n')
  process.exit(2)
}
process.on('message', (msg: ToNode) => {
  if (msg.type === 'init') void start(msg)
  else if (msg.type === 'go') void go(msg.startAt)
  else if (msg.type === 'stop') void stop(0)
})
process.on('disconnect', () => { void stop(0) })
process.on('SIGTERM', () => { void stop(0) })
process.on('SIGINT', () => { void stop(0) })
