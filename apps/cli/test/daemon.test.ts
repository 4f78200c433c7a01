import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { exists, hasStackTrace, run, sandbox, servePayload, sha256Hex, start, waitUntil } from './helpers.js'
import type { RunResult, Running, Sandbox } from './helpers.js'

const MiB = 1024 * 1024

interface Ready { peerId: string | null, listen: string[], api: string, pid: number, dataDir: string }

/** `dopt daemon --json` on the box's data folder; resolves once it printed its ready line. */
async function startDaemon (box: Sandbox, extra: string[] = [], timeoutMs = 60_000): Promise<{ daemon: Running, ready: Ready }> {
  const daemon = start(['daemon', '--data-dir', box.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json', ...extra], { timeoutMs })
  await waitUntil('the daemon is ready', () => daemon.stdout.includes('\n') || daemon.child.exitCode !== null, { timeoutMs: 20_000 })
  if (!daemon.stdout.includes('\n')) throw new Error(`the daemon did not start: ${daemon.stderr}`)
  return { daemon, ready: JSON.parse(daemon.stdout.split('\n')[0]!) as Ready }
}

/** Runs a job command against the box's daemon and parses its one JSON line. */
async function cmd (box: Sandbox, args: string[]): Promise<{ r: RunResult, json: Record<string, unknown> }> {
  const r = await run([...args, '--data-dir', box.dataDir, '--json'])
  const lines = r.stdout.split('\n').filter(l => l !== '')
  if (lines.length !== 1) throw new Error(`dopt ${args.join(' ')}: expected one JSON line, got:\n${r.stdout}\n${r.stderr}`)
  return { r, json: JSON.parse(lines[0]!) as Record<string, unknown> }
}

async function stopDaemon (daemon: Running): Promise<RunResult> {
  if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGTERM')
  return await daemon.done
}

let box: Sandbox
let daemons: Running[] = []
beforeEach(async () => {
  box = await sandbox()
  daemons = []
})
afterEach(async () => {
  for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGKILL')
  await Promise.all(daemons.map(async d => await d.done.catch(() => null)))
  await box.cleanup()
})

describe('dopt daemon and the job commands', () => {
  it('every job command works end to end through a spawned daemon', { timeout: 90_000 }, async () => {
    const { daemon, ready } = await startDaemon(box)
    daemons.push(daemon)
    expect(ready.api).toBe(join(box.dataDir, 'control.sock'))
    expect(ready.listen[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    const { data, url, out } = servePayload(box, 'a.bin', 4 * MiB, 61)
    box.origin.setFault('/a.bin', { rate: 8 * MiB })

    const created = await cmd(box, ['create', 'nightly update'])
    const id = created.json.jobId as string
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    const added = await cmd(box, ['addfile', id, url, out, '--sha256', sha256Hex(data)])
    expect(added.json).toMatchObject({ jobId: id, file: { index: 0, remoteName: url, localName: out, sha256: sha256Hex(data) } })
    const notified = join(box.dir, 'notified')
    const program = join(box.dir, 'on-transfer.sh')
    await writeFile(program, `#!/bin/sh\necho "$1 $DOPT_JOB_EVENT" > ${notified}\n`, { mode: 0o755 })
    const set = await cmd(box, ['set', id, '--priority', 'high', '--retry-delay', '5', '--no-progress-timeout', '60', '--notify-flags', '0x3', '--description', 'from a test', '--notify-cmd', program, '--notify-cmd', '{jobId}'])
    expect(set.json).toMatchObject({ jobId: id, priority: 'high', minimumRetryDelay: 5, noProgressTimeout: 60, notifyFlags: 3, description: 'from a test', notifyCmdLine: [program, '{jobId}'] })
    const relative = await run(['set', id, '--notify-cmd', 'on-transfer.sh', '--data-dir', box.dataDir, '--json'])
    expect([relative.code, JSON.parse(relative.stdout).error.code]).toEqual([2, 'INVALID_ARGUMENT'])
    // Not transferred yet: a verdict is refused.
    const early = await run(['validate', id, '0', 'valid', '--data-dir', box.dataDir, '--json'])
    expect(early.code).toBe(1)
    expect(JSON.parse(early.stdout).error.code).toBe('PENDING')

    const monitor = start(['monitor', id, '--data-dir', box.dataDir, '--json'], { timeoutMs: 30_000 })
    // Its first line is the job as it is: from then on it misses nothing.
    await waitUntil('the monitor is following', () => monitor.stdout.includes('"type":"snapshot"') || monitor.child.exitCode !== null, { timeoutMs: 10_000 })
    expect((await cmd(box, ['resume', id])).json).toMatchObject({ jobId: id })
    await waitUntil('the job is transferred', async () => (await cmd(box, ['info', id])).json.state === 'transferred', { timeoutMs: 30_000 })
    await waitUntil('the monitor saw it', () => monitor.stdout.includes('"state":"transferred"'), { timeoutMs: 10_000 })
    monitor.child.kill('SIGINT')
    const watched = await monitor.done
    expect(watched.code, watched.stderr).toBe(0)
    const events = watched.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { type: string, jobId: string, bytesTransferred: number })
    expect(events.every(e => e.jobId === id)).toBe(true)
    expect(events.some(e => e.type === 'progress')).toBe(true)
    expect(events.map(e => e.type)).toContain('transferred')

    // No callback was registered: the notify command line ran, as the job's owner, with the job's id.
    await waitUntil('the notify command ran', async () => await exists(notified), { timeoutMs: 10_000 })
    expect((await readFile(notified, 'utf8')).trim()).toBe(`${id} transferred`)
    const info = (await cmd(box, ['info', id])).json
    expect(info).toMatchObject({ jobId: id, state: 'transferred', bytesTotal: 4 * MiB, bytesFromOrigin: 4 * MiB, owner: process.getuid?.() })
    expect(((await cmd(box, ['list'])).json.jobs as Array<{ jobId: string }>).map(j => j.jobId)).toEqual([id])
    expect((await cmd(box, ['complete', id])).json).toEqual({ jobId: id, state: 'acknowledged' })
    expect(sha256Hex(await readFile(out))).toBe(sha256Hex(data))
    expect((await cmd(box, ['list'])).json).toEqual({ jobs: [] })
    const cache = (await cmd(box, ['cache'])).json as { items: Array<{ size: number }>, bytes: number }
    expect(cache.items).toHaveLength(1)
    expect(cache.bytes).toBe(4 * MiB)
    expect((await cmd(box, ['peers'])).json).toEqual({ peers: [], banned: [] })

    // suspend and cancel, on a second job.
    const second = (await cmd(box, ['create', 'second'])).json.jobId as string
    await cmd(box, ['addfile', second, url, join(box.dir, 'b.bin')])
    box.origin.setFault('/a.bin', { rate: 1 * MiB })
    await cmd(box, ['resume', second])
    expect((await cmd(box, ['suspend', second])).json).toEqual({ jobId: second, state: 'suspended' })
    expect((await cmd(box, ['cancel', second])).json).toEqual({ jobId: second, state: 'cancelled' })
    expect(await exists(join(box.dir, 'b.bin'))).toBe(false)
    const gone = await run(['info', second, '--data-dir', box.dataDir, '--json'])
    expect(gone.code).toBe(2)
    expect(JSON.parse(gone.stdout).error.code).toBe('JOB_NOT_FOUND')
    expect(hasStackTrace(gone.stderr)).toBe(false)

    const stopped = await stopDaemon(daemon)
    expect(stopped.code).toBe(0)
    expect(await exists(ready.api)).toBe(false)
  })

  it('dopt get goes through the daemon when one runs for the data folder, --validate-cmd included', { timeout: 60_000 }, async () => {
    const { daemon } = await startDaemon(box)
    daemons.push(daemon)
    const { data, url, out } = servePayload(box, 'g.bin', 2 * MiB, 62)
    const r = await run(['get', url, '-o', out, '--data-dir', box.dataDir, '--validate-cmd', 'test -s', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout) as { state: string, peerId: string, error: unknown }
    expect(result).toMatchObject({ state: 'acknowledged', error: null })
    expect(sha256Hex(await readFile(out))).toBe(sha256Hex(data))
    // The daemon's own log is where the work happened: its cache has the file.
    expect(((await cmd(box, ['cache'])).json.items as unknown[]).length).toBe(1)
    const human = await run(['get', url, '-o', join(box.dir, 'h.bin'), '--data-dir', box.dataDir])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stderr).toContain(`through the daemon of ${box.dataDir}`)
  })

  it('a second daemon on the same folder is refused, naming the first', { timeout: 60_000 }, async () => {
    const { daemon, ready } = await startDaemon(box)
    daemons.push(daemon)
    const second = await run(['daemon', '--data-dir', box.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'], { timeoutMs: 20_000 })
    expect(second.code).toBe(2)
    expect(hasStackTrace(second.stderr)).toBe(false)
    expect(second.stderr).toContain(`pid ${ready.pid}`)
    expect(JSON.parse(second.stdout).error.code).toBe('DAEMON_RUNNING')
    // The first is unharmed.
    expect((await cmd(box, ['list'])).json).toEqual({ jobs: [] })
  })

  it('keeps its jobs across a SIGKILL and resumes them from their verified pieces', { timeout: 90_000 }, async () => {
    const first = await startDaemon(box)
    daemons.push(first.daemon)
    const { data, url, out } = servePayload(box, 'k.bin', 8 * MiB, 63)
    box.origin.setFault('/k.bin', { rate: 4 * MiB })
    const id = (await cmd(box, ['create', 'survivor'])).json.jobId as string
    await cmd(box, ['addfile', id, url, out])
    await cmd(box, ['resume', id])
    await waitUntil('a third is saved', async () => ((await cmd(box, ['info', id])).json.bytesTransferred as number) >= 3 * MiB, { timeoutMs: 30_000 })
    first.daemon.child.kill('SIGKILL')
    await first.daemon.done
    box.origin.setFault('/k.bin', null)
    const sentBefore = box.origin.bytesSent
    const second = await startDaemon(box)
    daemons.push(second.daemon)
    await waitUntil('transferred after the restart', async () => (await cmd(box, ['info', id])).json.state === 'transferred', { timeoutMs: 30_000 })
    // What was saved before the kill (pieces are flushed in batches: not every byte that had arrived) is kept.
    expect(box.origin.bytesSent - sentBefore).toBeLessThanOrEqual(7 * MiB)
    await cmd(box, ['complete', id])
    expect(sha256Hex(await readFile(out))).toBe(sha256Hex(data))
  })

  it('keeps its jobs across a clean restart, in their states', { timeout: 60_000 }, async () => {
    const first = await startDaemon(box)
    daemons.push(first.daemon)
    const { url, out } = servePayload(box, 'r.bin', 1 * MiB, 64)
    const id = (await cmd(box, ['create', 'kept'])).json.jobId as string
    await cmd(box, ['addfile', id, url, out])
    await cmd(box, ['set', id, '--priority', 'low', '--description', 'across a restart'])
    expect((await stopDaemon(first.daemon)).code).toBe(0)
    const second = await startDaemon(box)
    daemons.push(second.daemon)
    expect((await cmd(box, ['info', id])).json).toMatchObject({ jobId: id, state: 'suspended', priority: 'low', description: 'across a restart', filesTotal: 1 })
    await cmd(box, ['resume', id])
    await waitUntil('transferred', async () => (await cmd(box, ['info', id])).json.state === 'transferred', { timeoutMs: 20_000 })
  })

  it('re-reads --config on SIGHUP and on dopt reload: limits change at once, the rest waits for a restart', { timeout: 60_000 }, async () => {
    const config = join(box.dir, 'dopt.json')
    await writeFile(config, JSON.stringify({ uploadRate: 1000000, maxCacheAge: 3600 }))
    const { daemon } = await startDaemon(box, ['--config', config])
    daemons.push(daemon)
    await writeFile(config, JSON.stringify({ uploadRate: 2000000, maxCacheAge: 3600, foregroundDownloadRate: 5000000, groupId: 'other' }))
    daemon.child.kill('SIGHUP')
    await waitUntil('the daemon reloaded', () => daemon.stdout.includes('"event":"reloaded"'), { timeoutMs: 10_000 })
    const hup = JSON.parse(daemon.stdout.split('\n')[1]!) as { applied: string[], restartNeeded: string[] }
    expect(hup.applied.sort()).toEqual(['foregroundDownloadRate', 'uploadRate'])
    expect(hup.restartNeeded).toEqual(['groupId'])
    const reload = await cmd(box, ['reload'])
    // The SIGHUP applied the limits; this reload finds them in force and only the group still differs.
    expect(reload.json).toEqual({ applied: [], restartNeeded: ['groupId'] })
    await writeFile(config, JSON.stringify({ uploadRate: 'fast' }))
    const refused = await run(['reload', '--data-dir', box.dataDir, '--json'])
    expect(refused.code).toBe(2)
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('uploadRate') })
    // Still running, with the settings it had.
    expect((await cmd(box, ['list'])).json).toEqual({ jobs: [] })
  })

  it('refuses a bad config file naming the setting, and job commands without a daemon say so', { timeout: 60_000 }, async () => {
    const config = join(box.dir, 'bad.json')
    await writeFile(config, JSON.stringify({ uploadRate: 1, colour: 'red' }))
    const unknown = await run(['daemon', '--data-dir', box.dataDir, '--config', config, '--no-mdns'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('colour')
    expect(hasStackTrace(unknown.stderr)).toBe(false)
    await writeFile(config, JSON.stringify({ maxCacheSize: -5 }))
    const bad = await run(['daemon', '--data-dir', box.dataDir, '--config', config, '--no-mdns'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('maxCacheSize')
    const none = await run(['list', '--data-dir', box.dataDir, '--json'])
    expect(none.code).toBe(2)
    expect(JSON.parse(none.stdout).error.code).toBe('DAEMON_UNAVAILABLE')
    expect(none.stderr).toMatch(/^dopt: no daemon answers on /)
  })
})

describe('dopt daemon --activity', () => {
  it('serves the activity page and /metrics on the loopback address it is given, and refuses any other', { timeout: 60_000 }, async () => {
    const { daemon, ready } = await startDaemon(box, ['--activity', '127.0.0.1:0'])
    daemons.push(daemon)
    const activity = (ready as Ready & { activity: string }).activity
    expect(activity).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const metrics = await (await fetch(new URL('metrics', activity))).text()
    expect(metrics).toMatch(/^dopt_/m)
    expect((await fetch(activity)).status).toBe(200)
    await stopDaemon(daemon)
    const refused = await run(['daemon', '--data-dir', join(box.dir, 'other'), '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--activity', '0.0.0.0:9464', '--json'])
    expect(refused.code).toBe(2)
    expect(hasStackTrace(refused.stderr)).toBe(false)
    expect(JSON.parse(refused.stdout).error.code).toBe('NOT_LOOPBACK')
  })
})

describe('help and version', () => {
  it('dopt --version, dopt help COMMAND and dopt COMMAND --help', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    const version = await run(['--version'])
    expect([version.code, version.stdout.trim()]).toEqual([0, `dopt ${pkg.version}`])
    for (const command of ['get', 'daemon', 'create', 'addfile', 'set', 'monitor', 'list', 'manifest']) {
      const help = await run(['help', command])
      expect(help.code).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^dopt ${command}`))
      const flag = await run([command, '--help'])
      expect(flag.stdout).toBe(help.stdout)
    }
    const unknown = await run(['help', 'frobnicate'])
    expect(unknown.code).toBe(2)
  })
})

describe('the socket', () => {
  it('is made for any local user to reach, and goes away when the daemon stops', { timeout: 60_000 }, async () => {
    const { daemon, ready } = await startDaemon(box)
    daemons.push(daemon)
    expect((await stat(ready.api)).mode & 0o777).toBe(0o666)
    daemon.child.kill('SIGINT')
    const done = await daemon.done
    expect(done.code).toBe(0)
    expect(await exists(ready.api)).toBe(false)
  })
})
