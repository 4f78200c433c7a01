import { lstat, readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { AccessDeniedError, InvalidPathError } from '@dopt/interface'

/** The groups of a user: its primary group and every group that lists it, from /etc/passwd and /etc/group. */
export async function groupsOf (uid: number): Promise<Set<number>> {
  const [passwd, group] = await Promise.all([
    readFile('/etc/passwd', 'utf8').catch(() => ''),
    readFile('/etc/group', 'utf8').catch(() => '')
  ])
  const user = passwd.split('\n').map(l => l.split(':')).find(f => f.length >= 4 && f[2] !== '' && Number(f[2]) === uid)
  const gids = new Set<number>()
  if (user == null) return gids
  gids.add(Number(user[3]))
  for (const f of group.split('\n').map(l => l.split(':'))) {
    if (f.length >= 4 && (f[3] ?? '').split(',').map(s => s.trim()).includes(user[0]!)) gids.add(Number(f[2]))
  }
  return gids
}

/** Whether `uid` has `want` (a mask of 4 read, 2 write, 1 search) on a file of `mode`, `fileUid` and `fileGid`. */
function permits (uid: number, groups: Set<number>, st: { mode: number, uid: number, gid: number }, want: number): boolean {
  if (uid === 0) return true
  const bits = st.uid === uid ? (st.mode >> 6) & 7 : groups.has(st.gid) ? (st.mode >> 3) & 7 : st.mode & 7
  return (bits & want) === want
}

/** Every folder above `path` must let the user search it, as the kernel's path walk would. */
async function checkSearch (uid: number, groups: Set<number>, path: string): Promise<void> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => null)
    if (st != null && !permits(uid, groups, st, 1)) throw new AccessDeniedError(`user ${uid} may not enter ${dir}`, { path, context: 'local-file' })
    if (dirname(dir) === dir) return
  }
}

/**
 * A daemon that runs as root writes and reads files for its callers: it checks, by the files' modes as the
 * kernel would for the caller, that the caller could do so itself. The temporary file is then opened without
 * following links and given to the caller (engine/transfer.ts), so what the check saw is what gets written.
 */
export async function checkMayWrite (uid: number, localPath: string): Promise<void> {
  if (uid === 0) return
  const dir = dirname(localPath)
  const groups = await groupsOf(uid)
  await checkSearch(uid, groups, dir)
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new InvalidPathError(`the folder ${dir} cannot be used: ${err.code ?? err.message}`, { path: localPath, context: 'local-file' })
  })
  if (!st.isDirectory() || !permits(uid, groups, st, 3)) {
    throw new AccessDeniedError(`user ${uid} may not create files in ${dir}`, { path: localPath, context: 'local-file' })
  }
  const existing = await lstat(localPath).catch(() => null)
  if (existing != null && (existing.isDirectory() || (existing.isFile() && !permits(uid, groups, existing, 2)))) {
    throw new AccessDeniedError(`user ${uid} may not replace ${localPath}`, { path: localPath, context: 'local-file' })
  }
}

export async function checkMayRead (uid: number, path: string): Promise<void> {
  if (uid === 0) return
  const groups = await groupsOf(uid)
  await checkSearch(uid, groups, path)
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new InvalidPathError(`${path} cannot be read: ${err.code ?? err.message}`, { path, context: 'local-file' })
  })
  if (!permits(uid, groups, st, 4)) throw new AccessDeniedError(`user ${uid} may not read ${path}`, { path, context: 'local-file' })
}
