import { spawn } from 'node:child_process'
import { chmod, chown, copyFile, cp, link, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  connectDaemon, createNode, DaemonUnavailableError, InvalidUrlError, JobEmptyError, JobNotFoundError, NotifyFlags,
  openNode, serveControl
} from '@dopt/node'
import type { ControlServer, DaemonClient, DoptNode, Job } from '@dopt/node'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'
import { FAST, digest, digestOf, rejectsWith, until } from './helpers/harness.js'

const MiB = 1 << 20
const isRoot = process.getuid?.() === 0
/** A user other than this one, for the ownership tests (root switches to it). */
const OTHER_UID = 65534

interface Daemon {
  dir: string
  dataDir: string
  origin: Origin
  node: DoptNode
  control: ControlServer
  client: DaemonClient
  serve(name: string, size: number, seed?: number): { url: string, data: Uint8Array }
  close(): Promise<void>
}

/** A node on a real database, its control API on a real socket, an origin, and a client signed in over the socket. */
async function daemon (adminGroup?: string): Promise<Daemon> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-api-'))
  // Other users reach the socket and their own folders below it, as they would under /var/lib.
  await chmod(dir, 0o755)
  const origin = await startOrigin()
  const dataDir = join(dir, 'data')
  const node = await createNode({ ...FAST, dataDir, mode: 'http' })
  const control = await serveControl(node, adminGroup !== undefined ? { adminGroup } : {})
  const client = await connectDaemon({ dataDir })
  return {
    dir, dataDir, origin, node, control, client,
    serve (name, size, seed = 1) {
      const data = randomBytesSeeded(size, seed)
      origin.setFile(`/${name}`, { data })
      return { url: origin.url(`/${name}`), data }
    },
    async close () {
      await client.close()
      await control.close()
      await node.stop()
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** A raw request on the socket: what a client that is not dopt's might send. */
async function raw (path: string, method: string, route: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<{ status: number, body: { error?: { code: string, message: string } } & Record<string, unknown> }> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method, path: route, headers }, res => {
      let text = ''
      res.setEncoding('utf8').on('data', (d: string) => { text += d }).on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) })
      })
    })
    req.once('error', reject)
    req.end(body)
  })
}

/** Signs in by hand, as connectDaemon does: challenge, proof file, token. */
async function token (d: Daemon): Promise<string> {
  const { body } = await raw(d.control.path, 'POST', '/v1/session')
  await writeFile(join(body.dir as string, body.challenge as string), body.challenge as string, { mode: 0o644 })
  const proof = await raw(d.control.path, 'POST', '/v1/session/proof', { 'content-type': 'application/json' }, JSON.stringify({ challenge: body.challenge }))
  return proof.body.token as string
}

let d: Daemon
beforeEach(async () => { d = await daemon() })
afterEach(async () => { await d.close() })

describe('the daemon\'s control API and its client', () => {
  it('offers the JobManager and Job of an embedded node: create, add, resume, wait, complete', async () => {
    const { url, data } = d.serve('a.bin', 3 * MiB)
    const out = join(d.dir, 'a.bin')
    const job = await d.client.jobs.createJob('through the socket')
    expect(job.getState()).toBe('suspended')
    expect(job.getOwner()).toBe(process.getuid?.())
    const file = await job.addFile(url, out)
    expect(file.localName).toBe(out)
    expect(file.temporaryName).toContain('.dopt-tmp')
    const states: string[] = []
    job.addEventListener('state', e => { states.push(e.detail.state) })
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    expect(job.getProgress()).toMatchObject({ bytesTotal: 3 * MiB, bytesTransferred: 3 * MiB, bytesFromOrigin: 3 * MiB, filesTransferred: 1 })
    await job.complete()
    expect(job.getState()).toBe('acknowledged')
    expect(await digestOf(out)).toBe(digest(data))
    await until(() => states.includes('transferred'))
    // The daemon's own view agrees.
    expect((await d.node.jobs.enumJobs()).map(j => j.id)).not.toContain(job.id)
  })

  it('errors come back as the same classes, with their codes and context', async () => {
    const missing = await d.client.jobs.getJob('00000000-0000-0000-0000-000000000000').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(JobNotFoundError)
    const job = await d.client.jobs.createJob('errors')
    expect(await job.resume().catch((e: unknown) => e)).toBeInstanceOf(JobEmptyError)
    const bad = await job.addFile('ftp://x/y', join(d.dir, 'y')).catch((e: unknown) => e) as InvalidUrlError
    expect(bad).toBeInstanceOf(InvalidUrlError)
    expect(bad.code).toBe('INVALID_URL')
    await rejectsWith(d.client.jobs.createJob(''), 'INVALID_ARGUMENT')
    await rejectsWith(job.setPriority('urgent' as 'high'), 'INVALID_ARGUMENT')
    await job.cancel()
  })

  it('a client\'s fileTransferred callback is the validation: the daemon waits for its verdict', async () => {
    const { url } = d.serve('v.bin', 2 * MiB)
    const rejected = await d.client.jobs.createJob('rejected')
    await rejected.addFile(url, join(d.dir, 'v1.bin'))
    rejected.setNotifyFlags(NotifyFlags.FileTransferred | NotifyFlags.JobError)
    const seen: string[] = []
    rejected.setNotifyInterface({
      async fileTransferred (_job, file) {
        seen.push(file.temporaryName)
        await file.setValidationState(false)
      }
    })
    await rejected.resume()
    expect(await rejected.waitFor(['error'])).toBe('error')
    expect(rejected.getError()?.code).toBe('VALIDATION_FAILED')
    expect(seen).toHaveLength(1)

    const accepted = await d.client.jobs.createJob('accepted')
    await accepted.addFile(url, join(d.dir, 'v2.bin'))
    accepted.setNotifyFlags(NotifyFlags.FileTransferred | NotifyFlags.JobTransferred)
    accepted.setNotifyInterface({
      async fileTransferred (_job, file) { await file.setValidationState(true) },
      async jobTransferred (job) { await job.complete() }
    })
    await accepted.resume()
    expect(await accepted.waitFor(['acknowledged', 'error'])).toBe('acknowledged')
    await rejected.cancel()
  })

  it('a callback whose client goes away is retried by the daemon, and the next client that registers gets it', async () => {
    const { url } = d.serve('r.bin', 1 * MiB)
    const job = await d.client.jobs.createJob('handover')
    await job.addFile(url, join(d.dir, 'r.bin'))
    job.setNotifyFlags(NotifyFlags.JobTransferred)
    // The first client registers, then leaves before the job is transferred.
    const first = await connectDaemon({ dataDir: d.dataDir })
    const mine = await first.jobs.getJob(job.id)
    let firstCalls = 0
    mine.setNotifyInterface({ jobTransferred: () => { firstCalls++ } })
    await until(async () => (await d.node.jobs.getJob(job.id)).getNotifyInterface() != null)
    await first.close()
    await until(async () => (await d.node.jobs.getJob(job.id)).getNotifyInterface() == null)
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    const later = await d.client.jobs.getJob(job.id)
    later.setNotifyInterface({ async jobTransferred (j) { await j.complete() } })
    expect(await later.waitFor(['acknowledged'])).toBe('acknowledged')
    expect(firstCalls).toBe(0)
  })

  it('openNode uses the daemon when one runs for the data folder, and a node of its own when none does', async () => {
    const viaDaemon = await openNode({ dataDir: d.dataDir })
    expect(viaDaemon.daemon).toBe(true)
    const job = await viaDaemon.jobs.createJob('by configuration')
    expect((await d.node.jobs.getJob(job.id)).getDisplayName()).toBe('by configuration')
    await job.cancel()
    await viaDaemon.stop()
    const alone = join(d.dir, 'alone')
    const embedded = await openNode({ dataDir: alone, mode: 'http' })
    expect(embedded.daemon).toBe(false)
    await embedded.stop()
    await rejectsWith(openNode({ dataDir: alone, daemon: 'require' }), 'DAEMON_UNAVAILABLE')
    expect(await connectDaemon({ dataDir: alone }).catch((e: unknown) => e)).toBeInstanceOf(DaemonUnavailableError)
  })

  it('events of every job stream to a monitor, jobs created after it started included', async () => {
    const { url } = d.serve('m.bin', 1 * MiB)
    const controller = new AbortController()
    const seen: Array<{ type: string, jobId: string }> = []
    const watching = (async () => {
      for await (const e of d.client.events({ signal: controller.signal })) {
        seen.push({ type: e.type, jobId: e.jobId })
        if (e.type === 'state' && e.job.state === 'transferred') break
      }
    })()
    const job = await d.client.jobs.createJob('monitored')
    await job.addFile(url, join(d.dir, 'm.bin'))
    await job.resume()
    await watching
    controller.abort()
    expect(seen.some(e => e.jobId === job.id && e.type === 'state')).toBe(true)
    await job.cancel()
  })

  it('malformed requests get a 4xx with a code, and the daemon goes on answering', async () => {
    const path = d.control.path
    const auth = { authorization: `Bearer ${await token(d)}`, 'content-type': 'application/json' }
    expect((await raw(path, 'GET', '/v1/jobs')).body.error?.code).toBe('UNAUTHENTICATED')
    expect((await raw(path, 'GET', '/v1/jobs', { authorization: 'Bearer nope' })).status).toBe(401)
    const badJson = await raw(path, 'POST', '/v1/jobs', auth, '{"displayName":')
    expect([badJson.status, badJson.body.error?.code]).toEqual([400, 'BAD_REQUEST'])
    const unknown = await raw(path, 'POST', '/v1/jobs', auth, JSON.stringify({ displayName: 'x', colour: 'red' }))
    expect(unknown.status).toBe(400)
    expect(unknown.body.error?.message).toContain('colour')
    const wrongType = await raw(path, 'POST', '/v1/jobs', auth, JSON.stringify({ displayName: 7 }))
    expect(wrongType.body.error?.message).toContain('displayName')
    const array = await raw(path, 'POST', '/v1/jobs', auth, '[1,2]')
    expect(array.body.error?.code).toBe('BAD_REQUEST')
    const big = await raw(path, 'POST', '/v1/jobs', auth, JSON.stringify({ displayName: 'x'.repeat(200_000) }))
    expect([big.status, big.body.error?.code]).toEqual([413, 'BODY_TOO_LARGE'])
    const media = await raw(path, 'POST', '/v1/jobs', { ...auth, 'content-type': 'text/plain' }, 'displayName=x')
    expect([media.status, media.body.error?.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE'])
    const route = await raw(path, 'GET', '/v1/nothing', auth)
    expect([route.status, route.body.error?.code]).toEqual([404, 'NO_SUCH_ROUTE'])
    expect((await raw(path, 'GET', '/v2/jobs', auth)).body.error?.code).toBe('NO_SUCH_ROUTE')
    const method = await raw(path, 'DELETE', '/v1/jobs', auth)
    expect([method.status, method.body.error?.code]).toEqual([405, 'METHOD_NOT_ALLOWED'])
    const notFound = await raw(path, 'GET', '/v1/jobs/abc', auth)
    expect([notFound.status, notFound.body.error?.code]).toEqual([404, 'JOB_NOT_FOUND'])
    const flags = await raw(path, 'POST', '/v1/jobs', auth, JSON.stringify({ displayName: 'ok' }))
    const patch = await raw(path, 'PATCH', `/v1/jobs/${flags.body.jobId as string}`, auth, JSON.stringify({ notifyFlags: 999 }))
    expect([patch.status, patch.body.error?.code]).toEqual([400, 'INVALID_ARGUMENT'])
    // Not HTTP at all.
    const garbage = await new Promise<string>((resolve, reject) => {
      const s = connect(path)
      let text = ''
      s.setEncoding('utf8').on('data', (c: string) => { text += c }).on('close', () => { resolve(text) }).on('error', reject)
      s.write('\x00\x01 not http\r\n\r\n')
    })
    expect(garbage).toMatch(/^HTTP\/1\.1 400/)
    // Still answering, and still right.
    expect((await d.client.jobs.enumJobs()).map(j => j.getDisplayName())).toContain('ok')
  })

  it('the socket admits any local user and the proof folder lists no one\'s proofs', async () => {
    expect((await stat(d.control.path)).mode & 0o777).toBe(0o666)
    const proofs = join(d.dataDir, 'control-auth')
    expect((await stat(proofs)).mode & 0o7777).toBe(0o1733)
  })

  it('a proof that is not a fresh file of its own holding the challenge is refused', async () => {
    const path = d.control.path
    const ask = async (): Promise<{ challenge: string, dir: string }> => (await raw(path, 'POST', '/v1/session')).body as unknown as { challenge: string, dir: string }
    const prove = async (challenge: string): Promise<string | undefined> =>
      (await raw(path, 'POST', '/v1/session/proof', { 'content-type': 'application/json' }, JSON.stringify({ challenge }))).body.error?.code
    // No file at all.
    expect(await prove((await ask()).challenge)).toBe('UNAUTHENTICATED')
    // A symbolic link to a file that holds the challenge.
    const a = await ask()
    const elsewhere = join(d.dir, 'elsewhere')
    await writeFile(elsewhere, a.challenge)
    await symlink(elsewhere, join(a.dir, a.challenge))
    expect(await prove(a.challenge)).toBe('UNAUTHENTICATED')
    // A hard link to someone's file.
    const b = await ask()
    const victim = join(d.dir, 'victim')
    await writeFile(victim, b.challenge)
    await link(victim, join(b.dir, b.challenge))
    expect(await prove(b.challenge)).toBe('UNAUTHENTICATED')
    // The wrong content.
    const c = await ask()
    await writeFile(join(c.dir, c.challenge), 'x'.repeat(64))
    expect(await prove(c.challenge)).toBe('UNAUTHENTICATED')
    // A challenge the daemon never gave, and one used twice.
    expect(await prove('ab'.repeat(32))).toBe('UNAUTHENTICATED')
    const e = await ask()
    await writeFile(join(e.dir, e.challenge), e.challenge)
    expect(await prove(e.challenge)).toBeUndefined()
    // The proof is removed once checked.
    await expect(lstat(join(e.dir, e.challenge))).rejects.toThrow()
    await writeFile(join(e.dir, e.challenge), e.challenge)
    expect(await prove(e.challenge)).toBe('UNAUTHENTICATED')
  })
})

describe('notify command lines', () => {
  /** A program that appends its arguments and environment to a file. */
  async function recorder (): Promise<{ program: string, log: string, lines(): Promise<string[]> }> {
    const log = join(d.dir, 'notified.log')
    const program = join(d.dir, 'notify.sh')
    await writeFile(program, `#!/bin/sh\necho "$1 $2 $DOPT_JOB_ID $DOPT_JOB_EVENT $(id -u)" >> ${log}\n`, { mode: 0o755 })
    return { program, log, lines: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(l => l !== '') }
  }

  it('runs on transfer when no callback is registered, with the job id in its arguments and environment', async () => {
    const { url } = d.serve('n.bin', 1 * MiB)
    const { program, lines } = await recorder()
    const job = await d.client.jobs.createJob('notified')
    await job.addFile(url, join(d.dir, 'n.bin'))
    await job.setNotifyCmdLine([program, '{jobId}', '{event}'])
    expect(job.getNotifyCmdLine()).toEqual([program, '{jobId}', '{event}'])
    await job.resume()
    await until(async () => (await lines()).length > 0)
    expect((await lines())[0]).toBe(`${job.id} transferred ${job.id} transferred ${process.getuid?.() ?? 0}`)
    await job.cancel()
  })

  it('runs once instead of a jobTransferred callback that throws, which is then not called again', async () => {
    const { url } = d.serve('t.bin', 1 * MiB)
    const { program, lines } = await recorder()
    const job = await d.client.jobs.createJob('thrower')
    await job.addFile(url, join(d.dir, 't.bin'))
    await job.setNotifyCmdLine([program, '{event}'])
    let calls = 0
    job.setNotifyInterface({ jobTransferred: () => { calls++; throw new Error('not now') } })
    await job.resume()
    await until(async () => (await lines()).length > 0)
    await new Promise(resolve => setTimeout(resolve, 300)) // several callback retry delays (FAST: 50 ms)
    expect(calls).toBe(1)
    expect(await lines()).toHaveLength(1)
    await job.cancel()
  })

  it('runs on error, and a relative program or a bad command line is refused when set', async () => {
    const { program, lines } = await recorder()
    d.serve('gone.bin', 1024)
    d.origin.setFault('/gone.bin', { status: 404 })
    const job = await d.client.jobs.createJob('failing')
    await job.addFile(d.origin.url('/gone.bin'), join(d.dir, 'gone.bin'))
    await rejectsWith(job.setNotifyCmdLine(['notify.sh']), 'INVALID_ARGUMENT')
    await rejectsWith(job.setNotifyCmdLine([]), 'INVALID_ARGUMENT')
    await rejectsWith(job.setNotifyCmdLine([program, 'a\0b']), 'INVALID_ARGUMENT')
    await job.setNotifyCmdLine([program, '{event}'])
    await job.resume()
    expect(await job.waitFor(['error'])).toBe('error')
    await until(async () => (await lines()).length > 0)
    expect((await lines())[0]).toMatch(/^error /)
    await job.cancel()
  })
})

/** The client library as another user gets it: copied where that user can read it. */
async function clientForOthers (dir: string): Promise<string> {
  const root = join(dir, 'other-client')
  for (const pkg of ['control', 'interface']) {
    const from = fileURLToPath(new URL(`../packages/${pkg}/`, import.meta.url))
    const to = join(root, 'node_modules', '@dopt', pkg)
    await mkdir(to, { recursive: true })
    await cp(join(from, 'dist'), join(to, 'dist'), { recursive: true })
    await cp(join(from, 'package.json'), join(to, 'package.json'))
  }
  const script = join(root, 'client.mjs')
  await writeFile(script, `
import { connectDaemon } from '@dopt/control'
const [dataDir, action, arg] = process.argv.slice(2)
const out = (v) => process.stdout.write(JSON.stringify(v) + '\\n')
try {
  const client = await connectDaemon({ dataDir })
  const jobs = client.jobs
  if (action === 'whoami') out({ uid: client.uid, admin: client.admin })
  if (action === 'list') out({ jobs: (await jobs.enumJobs()).map(j => j.id) })
  if (action === 'list-all') out({ jobs: (await jobs.enumJobs({ allUsers: true })).map(j => j.id) })
  if (action === 'get') out((await jobs.getJob(arg)).toJSON())
  if (action === 'cancel') { await (await jobs.getJob(arg)).cancel(); out({ ok: true }) }
  if (action === 'create') out({ jobId: (await jobs.createJob('theirs')).id })
  if (action === 'setcmd') { await (await jobs.getJob(arg)).setNotifyCmdLine(['/bin/sh', '-c', 'id']); out({ ok: true }) }
  await client.close()
} catch (err) {
  out({ error: { code: err.code, message: err.message } })
}
`)
  await chmod(dir, 0o755)
  for (const p of [root, join(root, 'node_modules'), join(root, 'node_modules', '@dopt')]) await chmod(p, 0o755)
  return script
}

/**
 * A Node binary another user can run: this one, unless a folder above it is closed to others (CI's Node 24 lives in
 * a 0700 temporary folder), then a copy beside the script.
 */
async function nodeForOthers (script: string): Promise<string> {
  for (let dir = dirname(process.execPath); ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      const copy = join(dirname(script), 'node')
      if ((await stat(copy).catch(() => null)) == null) {
        await copyFile(process.execPath, copy)
        await chmod(copy, 0o755)
      }
      return copy
    }
    if (dirname(dir) === dir) return process.execPath
  }
}

async function asUser (uid: number, script: string, args: string[]): Promise<Record<string, unknown>> {
  const node = await nodeForOthers(script)
  return await new Promise((resolve, reject) => {
    const child = spawn(node, [script, ...args], { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/', env: { PATH: process.env.PATH } })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
    child.once('error', reject)
    child.once('close', () => {
      try { resolve(JSON.parse(out.trim()) as Record<string, unknown>) } catch { reject(new Error(`no JSON from the child: ${out}\n${err}`)) }
    })
  })
}

describe('ownership', () => {
  it('one user can neither see nor touch another\'s job; root and the administrators\' group see all', async () => {
    if (!isRoot) {
      // No other user to switch to as a user who is not root: what one user can check is checked.
      expect(d.client.admin).toBe(true) // the daemon's own user administers it
      await rejectsWith(d.client.jobs.getJob('not-a-job'), 'JOB_NOT_FOUND')
      return
    }
    const script = await clientForOthers(d.dir)
    const mine = await d.client.jobs.createJob('root\'s')
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'whoami'])).toEqual({ uid: OTHER_UID, admin: false })
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'list'])).toEqual({ jobs: [] })
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'get', mine.id])).toMatchObject({ error: { code: 'JOB_NOT_FOUND' } })
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'cancel', mine.id])).toMatchObject({ error: { code: 'JOB_NOT_FOUND' } })
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'list-all'])).toMatchObject({ error: { code: 'ACCESS_DENIED' } })
    expect((await d.client.jobs.getJob(mine.id)).getState()).toBe('suspended')
    const theirs = (await asUser(OTHER_UID, script, [d.dataDir, 'create'])).jobId as string
    expect((await d.node.jobs.getJob(theirs)).getOwner()).toBe(OTHER_UID)
    expect(await asUser(OTHER_UID, script, [d.dataDir, 'list'])).toEqual({ jobs: [theirs] })
    // Root sees it only when it asks for every user's jobs.
    expect((await d.client.jobs.enumJobs()).map(j => j.id)).toEqual([mine.id])
    expect((await d.client.jobs.enumJobs({ allUsers: true })).map(j => j.id)).toEqual([mine.id, theirs])
    // A job of another user: files only where that user may write; notify commands only by the owner.
    const job = await d.client.jobs.getJob(theirs)
    await rejectsWith(job.addFile(d.origin.url('/x'), join(d.dir, 'x.bin')), 'ACCESS_DENIED')
    // Root may say what runs as any user; that is root's anyway.
    await job.setNotifyCmdLine(['/bin/true'])
    expect(job.getNotifyCmdLine()).toEqual(['/bin/true'])
    await mine.cancel()

    // A daemon whose administrators' group holds the other user's group.
    await d.close()
    d = await daemon('nogroup')
    const script2 = await clientForOthers(d.dir)
    const rootJob = await d.client.jobs.createJob('root again')
    expect(await asUser(OTHER_UID, script2, [d.dataDir, 'whoami'])).toEqual({ uid: OTHER_UID, admin: true })
    expect(await asUser(OTHER_UID, script2, [d.dataDir, 'list-all'])).toEqual({ jobs: [rootJob.id] })
    // An administrator who is not root may manage root's job, but not make it run a program as root.
    expect(await asUser(OTHER_UID, script2, [d.dataDir, 'setcmd', rootJob.id])).toMatchObject({ error: { code: 'ACCESS_DENIED' } })
    expect((await d.node.jobs.getJob(rootJob.id)).getNotifyCmdLine()).toBeNull()
    expect(await asUser(OTHER_UID, script2, [d.dataDir, 'cancel', rootJob.id])).toEqual({ ok: true })
  })

  it('the temporary file is never opened through a link planted at its name; a root daemon gives it to the job\'s owner', async () => {
    const { url, data } = d.serve('o.bin', 1 * MiB)
    const home = join(d.dir, 'home')
    await mkdir(home)
    await chmod(home, 0o755)
    let job: Job
    if (isRoot) {
      const script = await clientForOthers(d.dir)
      const theirs = (await asUser(OTHER_UID, script, [d.dataDir, 'create'])).jobId as string
      await chown(home, OTHER_UID, OTHER_UID)
      job = await d.node.jobs.getJob(theirs)
    } else {
      job = await d.node.jobs.createJob('mine')
    }
    const file = await job.addFile(url, join(home, 'o.bin'))
    // The user points the temporary name at someone else's file before the transfer starts.
    const precious = join(d.dir, 'precious')
    await writeFile(precious, 'not yours')
    await symlink(precious, file.temporaryName)
    await job.resume()
    expect(await job.waitFor()).toBe('error')
    expect(job.getError()?.code).toBe('LOCAL_FILE')
    expect(await readFile(precious, 'utf8')).toBe('not yours')
    await rm(file.temporaryName)
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    const st = await stat(join(home, 'o.bin'))
    const owner = isRoot ? OTHER_UID : process.getuid?.()
    expect(st.uid).toBe(owner)
    expect(await digestOf(join(home, 'o.bin'))).toBe(digest(data))
  })
})

describe('the client\'s job as last seen', () => {
  it('follows the job live while listened to, and refresh() looks again', async () => {
    const { url } = d.serve('s.bin', 4 * MiB)
    d.origin.setFault('/s.bin', { rate: 8 * MiB })
    const job = await d.client.jobs.createJob('snapshots') as Job & { refresh(): Promise<void> }
    await job.addFile(url, join(d.dir, 's.bin'))
    const progress: number[] = []
    job.addEventListener('progress', e => { progress.push(e.detail.bytesTransferred) })
    await job.resume()
    await until(() => job.getProgress().bytesTransferred > 0, 10_000)
    expect(await job.waitFor()).toBe('transferred')
    expect(progress.length).toBeGreaterThan(0)
    const other = await d.client.jobs.getJob(job.id)
    await other.setDescription('changed elsewhere')
    expect(job.getDescription()).toBe('')
    await job.refresh()
    expect(job.getDescription()).toBe('changed elsewhere')
    await job.cancel()
  })
})
