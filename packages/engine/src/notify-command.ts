import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import { AccessDeniedError, InvalidArgumentError } from '@dopt/interface'

/** Bounds of a notify command line: a program and its arguments, not a script. */
export const MAX_NOTIFY_ARGS = 64
export const MAX_NOTIFY_ARG_LENGTH = 4096

/** What the command is told: the job transferred, or entered `error`. */
export type NotifyEvent = 'transferred' | 'error'

/**
 * Checks a notify command line: `[program, ...args]`, the program an absolute path (no shell and no PATH lookup, so
 * nothing a caller's environment holds decides what runs), strings without NUL, bounded in count and length.
 */
export function checkNotifyCmdLine (cmdLine: unknown, jobId: string): string[] | null {
  if (cmdLine === null) return null
  if (!Array.isArray(cmdLine) || cmdLine.length === 0 || cmdLine.length > MAX_NOTIFY_ARGS ||
    !cmdLine.every(a => typeof a === 'string' && a.length <= MAX_NOTIFY_ARG_LENGTH && !a.includes('\0'))) {
    throw new InvalidArgumentError(`a notify command line is [program, ...args]: 1 to ${MAX_NOTIFY_ARGS} strings of at most ${MAX_NOTIFY_ARG_LENGTH} characters, without NUL`, { jobId })
  }
  if (!isAbsolute(cmdLine[0] as string)) {
    throw new InvalidArgumentError(`the notify program must be an absolute path, not "${String(cmdLine[0])}" (it runs without a shell or PATH)`, { jobId })
  }
  return [...cmdLine as string[]]
}

/** The user id this process runs as (0 where the platform has none). */
export function processUid (): number {
  return process.getuid?.() ?? 0
}

/**
 * Whether this process can run a program as `owner`: it is that user, or root (which switches to the owner's user
 * and primary group). A daemon refuses a command line it could never run, when it is set.
 */
export function checkCanRunAs (owner: number, jobId: string): void {
  const self = processUid()
  if (self !== 0 && self !== owner) {
    throw new AccessDeniedError(`the node runs as user ${self} and cannot run a program as the job's owner (user ${owner})`, { jobId })
  }
}

/** The primary group of a user, from /etc/passwd; null when it has no entry there. */
export async function primaryGroup (uid: number): Promise<number | null> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '')
  for (const line of passwd.split('\n')) {
    const f = line.split(':')
    if (f.length >= 4 && Number(f[2]) === uid && f[2] !== '') return Number(f[3])
  }
  return null
}

/**
 * Runs a job's notify command line as its owner, detached from the node: the node does not wait for it, and its
 * output goes nowhere (BITS launches the program the same way). `{jobId}` and `{event}` in the arguments are
 * replaced. Resolves once the program started, or rejects with why it could not.
 */
export async function runNotifyCommand (cmdLine: readonly string[], job: { id: string, owner: number }, event: NotifyEvent, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const [program, ...args] = cmdLine.map(a => a.replaceAll('{jobId}', job.id).replaceAll('{event}', event))
  checkCanRunAs(job.owner, job.id)
  const ids: { uid?: number, gid?: number } = {}
  if (processUid() === 0 && job.owner !== 0) {
    const gid = await primaryGroup(job.owner)
    ids.uid = job.owner
    ids.gid = gid ?? job.owner
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn(program!, args, {
      ...ids,
      stdio: 'ignore',
      detached: true,
      cwd: '/',
      env: { PATH: env.PATH ?? '/usr/bin:/bin', DOPT_JOB_ID: job.id, DOPT_JOB_EVENT: event }
    })
    child.once('error', reject)
    child.once('spawn', () => {
      child.unref()
      resolve()
    })
  })
}
