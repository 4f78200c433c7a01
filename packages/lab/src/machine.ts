import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { cpus, release, totalmem, type as osType } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Report } from './fleet-types.js'

/** The machine a report was made on. */
export function machineInfo (): Report['machine'] {
  const list = cpus()
  return {
    cpus: list.length,
    cpuModel: (list[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    memoryBytes: totalmem(),
    os: `${osType()} ${release()}`,
    node: process.version
  }
}

/**
 * Which dopt made a report: the git commit of the checkout this module runs from (and whether it had changes), and
 * versions (dopt's package, Node). `unknown` outside a git checkout.
 */
export async function doptInfo (): Promise<Report['dopt']> {
  const here = dirname(fileURLToPath(import.meta.url))
  const commit = await git(here, ['rev-parse', 'HEAD'])
  const status = commit === null ? null : await git(here, ['status', '--porcelain', '--untracked-files=no'])
  return {
    commit: commit ?? 'unknown',
    dirty: status !== null && status !== '',
    versions: { dopt: await packageVersion(here), node: process.version }
  }
}

async function git (cwd: string, args: string[]): Promise<string | null> {
  return await new Promise(resolve => {
    execFile('git', args, { cwd, timeout: 5000 }, (err, stdout) => { resolve(err === null ? stdout.trim() : null) })
  })
}

/** The version in the nearest package.json above `dir` (packages/lab's, or the CLI's when bundled). */
async function packageVersion (dir: string): Promise<string> {
  for (let d = dir, i = 0; i < 10; d = dirname(d), i++) {
    try {
      const pkg = JSON.parse(await readFile(join(d, 'package.json'), 'utf8')) as { version?: unknown }
      if (typeof pkg.version === 'string') return pkg.version
    } catch { /* not here: one folder up */ }
    if (dirname(d) === d) break
  }
  return 'unknown'
}
