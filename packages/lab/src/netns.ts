import { execFile, execFileSync, spawn } from 'node:child_process'
import type { Server as NetServer } from 'node:net'
import { LabRunError, NetnsUnavailableError } from './errors.js'
import { runnerPath } from './node-process.js'
import { NETNS_PREFIX, ownerOf, planNetwork, runIdOf } from './netns-plan.js'
import type { NetnsHost, NetworkPlan, NetworkShape } from './netns-plan.js'

/** Each `ip`/`tc` call may take this long (a namespace's deletion waits for the kernel a little). */
const COMMAND_TIMEOUT_MS = 10_000
/** How long the listener child may take to open its socket and hand it over. */
const LISTEN_TIMEOUT_MS = 15_000

/** Networks of this process not yet destroyed: removed on the process's exit, whatever ends it. */
const live = new Set<LabNetwork>()
let exitHook = false
let seq = 0

/** Runs one command line; rejects with its stderr. */
async function run (cmd: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(cmd[0]!, cmd.slice(1), { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${cmd.join(' ')}: ${stderr.trim() !== '' ? stderr.trim() : err.message}`, { cause: err }))
      else resolve(stdout)
    })
  })
}

/**
 * Whether this machine can build a lab network: root, `ip` and `tc` (iproute2), namespaces allowed, the tbf qdisc,
 * and netem when `netem` (latency or loss). Tried for real on a namespace of its own, removed after.
 */
export async function netnsAvailable (options: { netem?: boolean } = {}): Promise<{ ok: true } | { ok: false, reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux's; this is ${process.platform}` }
  const uid = process.getuid?.()
  if (uid !== 0) return { ok: false, reason: `network namespaces need root, and this process runs as uid ${uid ?? '?'}` }
  for (const [tool, args] of [['ip', ['-V']], ['tc', ['-V']]] as const) {
    try {
      await run([tool, ...args])
    } catch (err) {
      const missing = (err as { cause?: { code?: unknown } }).cause?.code === 'ENOENT'
      return { ok: false, reason: missing ? `${tool} is not on the PATH (Debian: apt-get install iproute2)` : `${tool} does not run: ${(err as Error).message}` }
    }
  }
  const probe = `${NETNS_PREFIX}${runIdOf(process.pid, 0)}-hub`
  try {
    await run(['ip', 'netns', 'add', probe])
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace: ${(err as Error).message}` }
  }
  try {
    try {
      await run(['tc', '-n', probe, 'qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'tbf', 'rate', '8mbit', 'burst', '65536', 'latency', '100ms'])
    } catch (err) {
      return { ok: false, reason: `this kernel has no tbf qdisc (sch_tbf), which shapes the rates: ${(err as Error).message}` }
    }
    if (options.netem === true) {
      try {
        await run(['tc', '-n', probe, 'qdisc', 'replace', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'])
      } catch (err) {
        return { ok: false, reason: `this kernel has no netem qdisc (sch_netem), which latency and loss need (rates alone work): ${(err as Error).message}` }
      }
    }
    return { ok: true }
  } finally {
    await run(['ip', 'netns', 'delete', probe]).catch(() => {})
  }
}

/** Throws NetnsUnavailableError (NETNS_UNAVAILABLE) with the reason, unless `netnsAvailable` is ok. */
export async function assertNetnsAvailable (options: { netem?: boolean } = {}): Promise<void> {
  const check = await netnsAvailable(options)
  if (!check.ok) throw new NetnsUnavailableError(`the lab cannot use network namespaces here: ${check.reason}`)
}

/** The names of every network namespace there is (`ip netns list`). */
export async function listNamespaces (): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list'])
  return out.split('\n').map(line => line.trim().split(/\s/)[0] ?? '').filter(name => name !== '')
}

/**
 * Deletes the namespaces left by lab runs whose process is gone (a SIGKILLed lab): names of the lab's form whose
 * owner pid no longer runs. Another live lab's namespaces are left alone. Resolves with what it deleted.
 */
export async function removeStaleNetworks (): Promise<string[]> {
  const stale = (await listNamespaces()).filter(ns => {
    const pid = ownerOf(ns)
    return pid !== null && pid !== process.pid && !alive(pid)
  })
  await Promise.all(stale.map(async ns => { await run(['ip', 'netns', 'delete', ns]).catch(() => {}) }))
  return stale
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Builds a lab network for `nodes` nodes (netns-plan.ts): namespaces, bridge, veths, addresses, qdiscs. Leftovers of
 * dead labs go first. On any failure what was made is removed and LabRunError says which command failed.
 */
export async function createNetwork (nodes: number, shape: NetworkShape): Promise<LabNetwork> {
  await removeStaleNetworks()
  const network = new LabNetwork(planNetwork(runIdOf(process.pid, ++seq), nodes, shape))
  if (!exitHook) {
    exitHook = true
    process.once('exit', destroyAllSync)
  }
  live.add(network)
  try {
    for (const cmd of network.plan.setup) await run(cmd)
  } catch (err) {
    await network.destroy()
    throw new LabRunError(`could not build the lab's network: ${(err as Error).message}`, { cause: err })
  }
  return network
}

/** Removes every network of this process at once (synchronously: it runs on the process's exit). */
function destroyAllSync (): void {
  for (const network of live) {
    for (const cmd of network.plan.teardown) {
      try {
        execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS })
      } catch { /* gone already */ }
    }
  }
  live.clear()
}

/** A lab network that exists: its plan, a way to listen inside it, and its removal. */
export class LabNetwork {
  readonly plan: NetworkPlan
  #destroying: Promise<void> | null = null

  constructor (plan: NetworkPlan) {
    this.plan = plan
  }

  get origin (): NetnsHost {
    return this.plan.origin
  }

  get nodes (): NetnsHost[] {
    return this.plan.nodes
  }

  /**
   * A TCP server listening on `host`'s address (`port`, 0 for any) inside its namespace, for this process to serve
   * on (`http.Server.listen(handle)`): a child in the namespace opens it and hands it over (netns-listener.ts).
   */
  async listen (host: NetnsHost, port = 0): Promise<NetServer> {
    const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, runnerPath('netns-listener.js'), host.address, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc']
    })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-2000) })
    try {
      return await new Promise<NetServer>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new LabRunError(`no listening socket from ${host.ns} after ${LISTEN_TIMEOUT_MS} ms`)) }, LISTEN_TIMEOUT_MS)
        child.on('message', (msg: unknown, handle: unknown) => {
          clearTimeout(timer)
          if (msg === 'server' && handle !== undefined) resolve(handle as NetServer)
          else reject(new LabRunError(`cannot listen on ${host.address}:${port} in ${host.ns}: ${(msg as { error?: string }).error ?? JSON.stringify(msg)}`))
        })
        child.once('exit', code => {
          clearTimeout(timer)
          reject(new LabRunError(`the listener in ${host.ns} exited (${code ?? 'signal'}) without a socket: ${stderr.trim()}`))
        })
      })
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }

  /** Deletes every namespace of the network (their veths and the bridge go with them). Never rejects. */
  async destroy (): Promise<void> {
    this.#destroying ??= (async () => {
      await Promise.all(this.plan.teardown.map(async cmd => { await run(cmd).catch(() => {}) }))
      live.delete(this)
    })()
    await this.#destroying
  }
}
