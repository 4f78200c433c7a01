import { open, rm, stat } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { AbortedError, InvalidArgumentError, InvalidPathError, InvalidUrlError, JOB_PRIORITIES } from '@dopt/interface'
import type { AbortOptions, JobPriority } from '@dopt/interface'
import { MAX_JOB_SECONDS } from './settings.js'

/** BITS limits display names to 256 characters. */
export const MAX_DISPLAY_NAME = 256
export const MAX_DESCRIPTION = 1024

/**
 * Refuses to start `what` under an aborted signal (ABORTED, nothing changed). Job calls are short local operations
 * (store writes, state changes), so the signal is checked when they start; the waits (`waitFor`, `events`) follow
 * it throughout.
 */
export function checkNotAborted (options: AbortOptions | undefined, what: string, context: Record<string, unknown> = {}): void {
  const signal = options?.signal
  if (signal?.aborted === true) throw new AbortedError(`${what} aborted`, { ...context, cause: signal.reason })
}

export function checkDisplayName (name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidArgumentError('the job name is required')
  }
  if ([...name].length > MAX_DISPLAY_NAME) {
    throw new InvalidArgumentError(`the job name has ${[...name].length} characters; at most ${MAX_DISPLAY_NAME} are allowed`)
  }
  return name
}

export function checkDescription (text: unknown): string {
  if (typeof text !== 'string') throw new InvalidArgumentError('the description must be a string')
  if ([...text].length > MAX_DESCRIPTION) throw new InvalidArgumentError(`the description is longer than ${MAX_DESCRIPTION} characters`)
  return text
}

export function checkPriority (priority: unknown): JobPriority {
  if (!JOB_PRIORITIES.includes(priority as JobPriority)) {
    throw new InvalidArgumentError(`priority must be one of ${JOB_PRIORITIES.join(', ')}, not "${String(priority)}"`)
  }
  return priority as JobPriority
}

/** Seconds: a finite number >= 0 (fractions allowed, for tests and tight SLAs). */
/** Seconds from 0 to `max` (BITS takes a ULONG of seconds for a job's retry delay and no-progress timeout). */
export function checkSeconds (value: unknown, what: string, max = MAX_JOB_SECONDS): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`${what} must be a number of seconds from 0 to ${max}, not ${String(value)}`)
  }
  return value
}

export function checkUrl (url: unknown): string {
  if (typeof url !== 'string' || url === '') throw new InvalidUrlError('the URL is required')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (err) {
    throw new InvalidUrlError(`"${url}" is not a valid URL`, { cause: err, url })
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidUrlError(`"${url}" is not an http or https URL`, { url })
  }
  if (parsed.hostname === '') throw new InvalidUrlError(`"${url}" has no host`, { url })
  return parsed.href
}

/**
 * The destination must be absolute, not a folder, and in a writable folder that exists, so that mistakes show at
 * `addFile` and not an hour into the download.
 */
/** The longest file name (bytes of UTF-8) that common file systems take: ext4, XFS, btrfs, APFS, NTFS (255 units). */
export const NAME_MAX = 255

/**
 * `name` cut to at most `bytes` bytes of UTF-8, at a character boundary.
 */
export function truncateUtf8 (name: string, bytes: number): string {
  let used = 0
  let out = ''
  for (const ch of name) {
    const size = Buffer.byteLength(ch)
    if (used + size > bytes) break
    used += size
    out += ch
  }
  return out
}

export async function checkLocalPath (path: unknown): Promise<string> {
  if (typeof path !== 'string' || path === '') throw new InvalidPathError('the local path is required')
  if (!isAbsolute(path)) throw new InvalidPathError(`"${path}" is not an absolute path`, { path })
  if (path.endsWith('/')) throw new InvalidPathError(`"${path}" names a folder, not a file`, { path })
  const full = resolve(path)
  const name = basename(full)
  if (Buffer.byteLength(name) > NAME_MAX) {
    throw new InvalidPathError(`the file name ${name.slice(0, 40)}... is ${Buffer.byteLength(name)} bytes long; file systems allow at most ${NAME_MAX}`, { path, context: 'local-file' })
  }
  const dir = dirname(full)
  const info = await stat(dir).catch(() => null)
  if (info == null || !info.isDirectory()) throw new InvalidPathError(`the folder ${dir} does not exist`, { path, context: 'local-file' })
  // Create a probe file rather than ask access(): root passes access() on read-only mounts and 0555 folders.
  const probe = join(dir, `.dopt-probe-${randomBytes(6).toString('hex')}`)
  try {
    await (await open(probe, 'wx')).close()
    await rm(probe, { force: true })
  } catch (err) {
    throw new InvalidPathError(`the folder ${dir} is not writable`, { path, cause: err, context: 'local-file' })
  }
  const target = await stat(full).catch(() => null)
  if (target?.isDirectory() === true) throw new InvalidPathError(`${full} is a folder`, { path, context: 'local-file' })
  // complete() renames the downloaded file over the local name: over /dev/null (as root) that would replace the
  // device with a regular file. Devices, FIFOs and sockets are refused.
  if (target != null && !target.isFile()) {
    throw new InvalidPathError(`${full} is not a regular file (a device, FIFO or socket): dopt delivers a file in its place`, { path, context: 'local-file' })
  }
  return full
}
