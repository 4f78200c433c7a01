// A folder on tmpfs for the origin benchmark's second run: the system's temp folder when it is tmpfs, else /dev/shm,
// else (as root) a tmpfs of our own, mounted for the run and unmounted after. Null when none can be had.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The file system type of `path` as `stat -f` names it ('tmpfs', 'ext2/ext3', ...), or null. */
export function fsType (path) {
  const r = spawnSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8', timeout: 5000 })
  return r.status === 0 ? r.stdout.trim() : null
}

/**
 * `{ dir, how, cleanup() }` for a fresh folder on tmpfs with room for `bytes`, or `{ dir: null, how }` saying why
 * not. `how` says where the folder is, for the report.
 */
export async function tmpfsFolder (bytes) {
  for (const base of [tmpdir(), '/dev/shm']) {
    if (fsType(base) !== 'tmpfs') continue
    const free = freeBytes(base)
    if (free != null && free < bytes * 1.2) continue
    const dir = await mkdtemp(join(base, 'dopt-bench-tmpfs-'))
    return { dir, how: `${base} (tmpfs)`, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
  }
  if (process.getuid?.() !== 0) return { dir: null, how: 'no tmpfs found (and not root, so none mounted)' }
  const dir = await mkdtemp(join(tmpdir(), 'dopt-bench-tmpfs-'))
  const size = Math.ceil(bytes * 1.2 / (1 << 20)) + 16
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}m,mode=0700`, 'tmpfs', dir], { encoding: 'utf8', timeout: 10_000 })
  if (r.status !== 0 || fsType(dir) !== 'tmpfs') {
    await rm(dir, { recursive: true, force: true })
    return { dir: null, how: `mounting a tmpfs failed: ${(r.stderr ?? '').trim()}` }
  }
  return {
    dir,
    how: `a tmpfs mounted for the run (${size} MiB)`,
    cleanup: async () => {
      spawnSync('umount', [dir], { timeout: 10_000 })
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function freeBytes (path) {
  const r = spawnSync('df', ['-B1', '--output=avail', path], { encoding: 'utf8', timeout: 5000 })
  const n = Number(r.stdout?.trim().split('\n').pop())
  return r.status === 0 && Number.isFinite(n) ? n : null
}
