import { existsSync } from 'node:fs'
import { connectDaemon, socketPath } from '@dopt/control'
import type { DaemonClient } from '@dopt/control'
import { DaemonUnavailableError } from '@dopt/interface'
import type { JobManager } from '@dopt/interface'
import { defaultDataDir } from './config.js'
import type { NodeConfig } from './config.js'
import { createNode } from './node.js'
import type { DoptNode } from './node.js'

/** What an application holds either way: jobs, and a way to let go of them. */
export interface JobService {
  readonly jobs: JobManager
  readonly dataDir: string
  /** True when the jobs are the daemon's (`node` is then null), false for an embedded node. */
  readonly daemon: boolean
  /** The embedded node, when there is one. */
  readonly node: DoptNode | null
  /** The daemon connection, when there is one. */
  readonly client: DaemonClient | null
  /** Stops the embedded node, or closes the connection to the daemon (which runs on). */
  stop(): Promise<void>
}

export interface OpenOptions extends NodeConfig {
  /**
   * `auto`: the daemon of the data folder if one runs, else an embedded node; `require`: the daemon or
   * `DAEMON_UNAVAILABLE`; `never`: an embedded node. The same code runs either way: only this setting changes.
   * @default 'auto'
   */
  daemon?: 'auto' | 'require' | 'never'
}

/**
 * Jobs for an application, from the daemon of the data folder or from a node of its own: an update agent switches
 * between them by configuration. With a daemon, the node settings in `options` are the daemon's business and are
 * not used.
 */
export async function openNode (options: OpenOptions = {}): Promise<JobService> {
  const { daemon = 'auto', ...config } = options
  const dataDir = config.dataDir ?? defaultDataDir()
  if (daemon !== 'never' && (daemon === 'require' || existsSync(socketPath(dataDir)))) {
    try {
      const client = await connectDaemon({ dataDir })
      return { jobs: client.jobs, dataDir, daemon: true, node: null, client, stop: async () => { await client.close() } }
    } catch (err) {
      // A socket a dead daemon left: run embedded (the node's own lock says if a daemon still holds the folder).
      if (daemon === 'require' || !(err instanceof DaemonUnavailableError)) throw err
    }
  }
  const node = await createNode({ ...config, dataDir })
  return { jobs: node.jobs, dataDir, daemon: false, node, client: null, stop: async () => { await node.stop() } }
}
