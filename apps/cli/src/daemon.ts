import { createNode } from '@dopt/node'
import { NODE_OPTIONS, nodeConfig } from './node-options.js'
import { EXIT_OK, parse } from './usage.js'

/** The daemon listens on every interface unless told otherwise: it serves the LAN. */
const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/0']

/**
 * `dopt daemon`: one node for the machine. It resumes saved jobs, serves its cache to peers, prints where it
 * listens, and runs until SIGTERM or SIGINT, when it stops cleanly and keeps every job for the next start.
 */
export async function runDaemon (argv: string[]): Promise<number> {
  const { values, positionals } = parse({ args: argv, allowPositionals: false, options: NODE_OPTIONS })
  void positionals
  const config = await nodeConfig(values, 'lan')
  config.listen ??= DEFAULT_LISTEN
  const node = await createNode(config)
  // The control API (Unix socket in the data folder) is a separate milestone: `api` stays null until then.
  const ready = { peerId: node.peerId, listen: node.getMultiaddrs(), api: null, mode: node.mode, dataDir: node.dataDir }
  if (values.json) process.stdout.write(JSON.stringify(ready) + '\n')
  else process.stderr.write(`dopt daemon: peer ${node.peerId ?? '(none, mode http)'} listening on ${ready.listen.join(' ') || '(nothing)'}; data in ${node.dataDir}\n`)
  // Signal handlers keep no process alive, and in mode http (no listeners) with no job running nothing else does:
  // the daemon exited at once there. It runs until told to stop.
  const keepAlive = setInterval(() => {}, 0x7fffffff)
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve)
    process.once('SIGINT', resolve)
  })
  clearInterval(keepAlive)
  await node.stop()
  if (!values.json) process.stderr.write('dopt daemon: stopped; jobs are kept\n')
  return EXIT_OK
}
