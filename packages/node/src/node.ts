import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createJobEngine } from '@dopt/engine'
import type { JobEngine } from '@dopt/engine'
import { LocalFileError } from '@dopt/interface'
import type { JobManager } from '@dopt/interface'
import { createOriginClient } from '@dopt/origin'
import { openLevelStore } from '@dopt/store'
import { checkMode, defaultDataDir } from './config.js'
import type { DownloadMode, NodeConfig } from './config.js'

/** A running dopt node. */
export interface DoptNode {
  /** BITS' IBackgroundCopyManager: create, get and enumerate jobs. */
  readonly jobs: JobManager
  readonly dataDir: string
  readonly mode: DownloadMode
  /** Halts transfers (jobs are kept and resume on the next start) and closes the database. */
  stop(): Promise<void>
}

/**
 * Starts a node: opens the database in `dataDir`, loads the saved jobs, and resumes those that were transferring.
 * One process at a time may own a data folder; a second one fails with `LOCAL_FILE`.
 */
export async function createNode (config: NodeConfig = {}): Promise<DoptNode> {
  const dataDir = config.dataDir ?? defaultDataDir()
  const mode = checkMode(config.mode ?? 'lan')
  try {
    await mkdir(dataDir, { recursive: true })
  } catch (err) {
    throw new LocalFileError(`cannot create the data folder ${dataDir}: ${(err as Error).message}`, { cause: err, context: 'local-file', path: dataDir })
  }
  const store = await openLevelStore({ location: join(dataDir, 'db') })
  let engine: JobEngine
  try {
    engine = await createJobEngine({ store, originClient: createOriginClient(config.origin) }, config)
  } catch (err) {
    await store.close()
    throw err
  }
  let stopping: Promise<void> | null = null
  return {
    jobs: engine,
    dataDir,
    mode,
    async stop () {
      stopping ??= (async () => {
        await engine.stop()
        await store.close()
      })()
      await stopping
    }
  }
}
