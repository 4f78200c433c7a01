import { createNode, connectDaemon, DaemonRunningError, defaultDataDir, InvalidArgumentError, LocalFileError, serveControl } from '@dopt/node'
import type { DoptNode, NodeConfig } from '@dopt/node'
import { NODE_OPTIONS, nodeConfig } from './node-options.js'
import { EXIT_OK, UsageError, parse } from './usage.js'

/** The daemon listens on every interface unless told otherwise: it serves the LAN. */
const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0']

export const DAEMON_OPTIONS = {
  ...NODE_OPTIONS,
  'admin-group': { type: 'string' },
  activity: { type: 'string' }
} as const

/** Settings of the config file that are the daemon's, not the node's. */
interface DaemonSettings {
  adminGroup?: string
  /** Where the activity page and /metrics are served: `127.0.0.1:PORT` (loopback only). */
  activity?: string
}

function split (config: NodeConfig & DaemonSettings): { node: NodeConfig, daemon: DaemonSettings } {
  const { adminGroup, activity, ...node } = config
  return { node, daemon: { ...(adminGroup !== undefined ? { adminGroup } : {}), ...(activity !== undefined ? { activity } : {}) } }
}

/**
 * `dopt daemon`: one node for the data folder. It resumes saved jobs, serves peers, answers the control API on
 * `<data>/control.sock` (docs/daemon.md), re-reads `--config` on SIGHUP, and runs until SIGTERM or SIGINT, when it
 * stops cleanly and keeps every job for the next start. A second daemon on the same folder is refused.
 */
export async function runDaemon (argv: string[]): Promise<number> {
  const { values } = parse({ args: argv, allowPositionals: false, options: DAEMON_OPTIONS })
  const log = (line: string): void => { if (!values.json) process.stderr.write(`dopt daemon: ${line}\n`) }
  const { node: config, daemon } = split(await nodeConfig(values, 'lan'))
  config.listen ??= DEFAULT_LISTEN
  const adminGroup = values['admin-group'] ?? daemon.adminGroup
  await refuseSecond(config.dataDir)
  let node: DoptNode
  try {
    node = await createNode(config)
  } catch (err) {
    if (err instanceof LocalFileError && /lock|in use/i.test(err.message)) {
      throw new DaemonRunningError(`the data folder ${err.path ?? config.dataDir ?? ''} is in use by another dopt process (a daemon, or a dopt get running on its own): ${err.message}`, { cause: err, context: 'local-file' })
    }
    throw err
  }
  let reloading = Promise.resolve()
  const reload = async (): Promise<object> => {
    // A bad file is the caller's mistake, said with the setting it names; the settings in force stay.
    const read = await nodeConfig(values, 'lan').catch((err: Error) => {
      throw err instanceof UsageError ? new InvalidArgumentError(err.message) : err
    })
    const next = split(read).node
    next.listen ??= DEFAULT_LISTEN
    const result = node.reconfigure(next)
    if (values.json) process.stdout.write(JSON.stringify({ event: 'reloaded', ...result }) + '\n')
    log(`reloaded ${values.config ?? '(no --config)'}: ${result.applied.length > 0 ? `changed ${result.applied.join(', ')}` : 'nothing changed'}${result.restartNeeded.length > 0 ? `; ${result.restartNeeded.join(', ')} take effect on the next start` : ''}`)
    return result
  }
  const control = await serveControl(node, {
    ...(adminGroup !== undefined ? { adminGroup: /^\d+$/.test(adminGroup) ? Number(adminGroup) : adminGroup } : {}),
    onReload: reload
  }).catch(async (err: unknown) => {
    await node.stop()
    throw err
  })
  const where = values.activity ?? daemon.activity
  let activity: { url: string, close(): Promise<void> } | null = null
  if (where !== undefined) {
    try {
      const { parseActivityAddress, startActivityServer } = await import('@dopt/activity')
      activity = await startActivityServer(node, parseActivityAddress(where))
    } catch (err) {
      await control.close()
      await node.stop()
      throw err
    }
  }
  const ready = { peerId: node.peerId, listen: node.getMultiaddrs(), api: control.path, activity: activity?.url ?? null, mode: node.mode, dataDir: node.dataDir, pid: process.pid }
  if (values.json) process.stdout.write(JSON.stringify(ready) + '\n')
  else log(`peer ${node.peerId ?? '(none, mode http)'} listening on ${ready.listen.join(' ') || '(nothing)'}; control API on ${control.path}${activity != null ? `; activity page and /metrics on ${activity.url}` : ''}; data in ${node.dataDir}`)
  const onHup = (): void => {
    reloading = reloading.then(async () => { await reload() }).catch((err: Error) => {
      if (values.json) process.stdout.write(JSON.stringify({ event: 'reload-refused', error: { code: (err as { code?: string }).code ?? 'UNKNOWN', message: err.message } }) + '\n')
      log(`reload refused, the settings in force are kept: ${err.message}`)
    })
  }
  process.on('SIGHUP', onHup)
  // Signal handlers keep no process alive, and in mode http (no listeners) with no job running nothing else does.
  const keepAlive = setInterval(() => {}, 0x7fffffff)
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  clearInterval(keepAlive)
  process.off('SIGHUP', onHup)
  await activity?.close()
  await control.close()
  await node.stop()
  log('stopped; jobs are kept')
  return EXIT_OK
}

/** A daemon that answers for the folder already: say which, rather than fail on its database lock. */
async function refuseSecond (dataDir: string | undefined): Promise<void> {
  const dir = dataDir ?? defaultDataDir()
  const client = await connectDaemon({ dataDir: dir }).catch(() => null)
  if (client == null) return
  const pid = client.pid
  await client.close()
  throw new DaemonRunningError(`a dopt daemon (pid ${pid}) already runs for ${dir}`, { context: 'local-file', path: dir })
}
