import { randomBytes } from 'node:crypto'
import { chmod, lstat, mkdir, open, readFile, readdir, rm } from 'node:fs/promises'
import { constants } from 'node:fs'
import { join } from 'node:path'
import { AccessDeniedError } from '@dopt/interface'
import { groupsOf } from './access.js'
import { RequestError } from './wire.js'

/**
 * Who is calling, over a Unix socket, without native code: Node cannot read the socket's peer credentials
 * (SO_PEERCRED), so a caller proves its user id by what the kernel records for a file it creates.
 *
 * 1. The caller asks for a challenge: 32 random bytes, sent only on its own connection.
 * 2. It creates `<data>/control-auth/<challenge>` holding the challenge. That folder is sticky and writable by
 *    everyone but listable by no one but the daemon (mode 1733), so no one else can learn the name or replace the file.
 * 3. The daemon lstat()s the file: a regular file, one link (no hard link to someone else's file), holding the
 *    challenge (no one can write into a file of another user). Its owner is the caller's user id — the kernel sets
 *    it from the creating process, and only root (an administrator anyway) could make it say otherwise.
 * 4. The daemon deletes the file and hands out a session token (random, in memory only) for `Authorization: Bearer`.
 */

/** How long a challenge stays valid. */
const CHALLENGE_TTL_MS = 30_000
/** Bounds, so that a flood of requests cannot grow the daemon's memory. */
const MAX_CHALLENGES = 1024
const MAX_SESSIONS = 4096
/** A session unused this long is forgotten; the client signs in again. */
const SESSION_IDLE_MS = 12 * 60 * 60 * 1000

export interface Caller {
  uid: number
  /** Root, the daemon's own user, or a member of the configured administrators' group. */
  admin: boolean
}

export interface AuthInit {
  /** The folder callers create their proofs in. */
  dir: string
  /** A group (name or gid) whose members are administrators, as root is: they see and manage every job. */
  adminGroup?: string | number
}

export class Authenticator {
  readonly dir: string
  readonly #adminGroup: string | number | undefined
  readonly #challenges = new Map<string, number>()
  readonly #sessions = new Map<string, { caller: Caller, used: number }>()

  constructor (init: AuthInit) {
    this.dir = init.dir
    this.#adminGroup = init.adminGroup
  }

  /** Makes the proof folder (sticky, writable by all, listable by none) and empties it of stale proofs. */
  async start (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await chmod(this.dir, 0o1733)
    for (const name of await readdir(this.dir)) await rm(join(this.dir, name), { force: true, recursive: true })
  }

  challenge (): string {
    const now = Date.now()
    for (const [c, t] of this.#challenges) if (t < now || this.#challenges.size >= MAX_CHALLENGES) this.#challenges.delete(c)
    const challenge = randomBytes(32).toString('hex')
    this.#challenges.set(challenge, now + CHALLENGE_TTL_MS)
    return challenge
  }

  /** Checks the proof of `challenge` and opens a session for its creator. */
  async prove (challenge: string): Promise<{ token: string, caller: Caller }> {
    const expires = this.#challenges.get(challenge)
    if (expires === undefined || expires < Date.now()) throw new RequestError(401, 'UNAUTHENTICATED', 'unknown or expired challenge: ask for a new one')
    this.#challenges.delete(challenge)
    const path = join(this.dir, challenge)
    try {
      const st = await lstat(path)
      if (!st.isFile() || st.nlink !== 1 || st.size !== challenge.length) throw new RequestError(401, 'UNAUTHENTICATED', 'the proof must be a regular file of its own holding the challenge')
      const text = await readFile(path, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW })
      if (text !== challenge) throw new RequestError(401, 'UNAUTHENTICATED', 'the proof does not hold the challenge')
      const caller: Caller = { uid: st.uid, admin: await this.#isAdmin(st.uid) }
      const token = randomBytes(32).toString('hex')
      this.#remember(token, caller)
      return { token, caller }
    } catch (err) {
      if (err instanceof RequestError) throw err
      throw new RequestError(401, 'UNAUTHENTICATED', `no proof of the challenge in ${this.dir}: ${(err as Error).message}`)
    } finally {
      await rm(path, { force: true }).catch(() => {})
    }
  }

  /** The caller of a request, from its bearer token. */
  caller (authorization: string | undefined): Caller {
    const token = /^Bearer ([0-9a-f]{64})$/.exec(authorization ?? '')?.[1]
    const session = token === undefined ? undefined : this.#sessions.get(token)
    if (session == null || session.used + SESSION_IDLE_MS < Date.now()) {
      throw new RequestError(401, 'UNAUTHENTICATED', 'sign in first: POST /v1/session, then /v1/session/proof')
    }
    session.used = Date.now()
    return session.caller
  }

  #remember (token: string, caller: Caller): void {
    if (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = [...this.#sessions].sort((a, b) => a[1].used - b[1].used)[0]
      if (oldest != null) this.#sessions.delete(oldest[0])
    }
    this.#sessions.set(token, { caller, used: Date.now() })
  }

  async #isAdmin (uid: number): Promise<boolean> {
    if (uid === 0 || uid === (process.getuid?.() ?? -1)) return true
    if (this.#adminGroup === undefined) return false
    return await inGroup(uid, this.#adminGroup)
  }
}

/** Whether a user belongs to a group (a gid, or a name looked up in /etc/group), primary or listed. */
export async function inGroup (uid: number, group: string | number): Promise<boolean> {
  let gid = typeof group === 'number' ? group : null
  if (gid === null) {
    const groups = await readFile('/etc/group', 'utf8').catch(() => '')
    const entry = groups.split('\n').map(l => l.split(':')).find(f => f.length >= 3 && f[0] === group && f[2] !== '')
    if (entry == null) return false
    gid = Number(entry[2])
  }
  return (await groupsOf(uid)).has(gid)
}

/** The client's side: creates the proof file for `challenge` in `dir`. */
export async function writeProof (dir: string, challenge: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(challenge)) throw new AccessDeniedError('the daemon sent a malformed challenge')
  const handle = await open(join(dir, challenge), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
  try {
    // Readable by the daemon's user whatever this process's umask; the name is the secret, not the content.
    await handle.chmod(0o644)
    await handle.writeFile(challenge)
  } finally {
    await handle.close()
  }
}
