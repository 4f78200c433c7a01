import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AbortedError, InvalidArgumentError } from '@dopt/interface'
import { aria2Available, runAria2Fleet } from '../src/baseline-aria2.js'
import { BaselineUnavailableError } from '../src/errors.js'
import { randomBytesSeeded } from '../src/random-file.js'
import { startOrigin } from '../src/origin-server.js'
import { findOnPath } from '../src/tracker.js'
import type { Aria2FleetInit } from '../src/baseline-aria2.js'
import type { Scenario } from '../src/fleet-types.js'
import type { Origin, OriginFile } from '../src/types.js'

const MiB = 1024 * 1024

/** Processes whose command line mentions `text` (our aria2c and opentracker children name their folders). */
async function processesMentioning (text: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`)
    } catch { /* gone meanwhile */ }
  }
  return found
}

/**
 * The origin as the fleet sees it, with each alias the fleet registers throttled to `rate` bytes/s (the origin's own
 * per-path `rate` fault), so the clients have a reason to trade pieces; the aliases are recorded in order.
 */
function throttled (origin: Origin, rate: number, aliases: string[]): Origin {
  return {
    get baseUrl () { return origin.baseUrl },
    url: path => origin.url(path),
    setFile: (path: string, file: OriginFile) => {
      origin.setFile(path, file)
      origin.setFault(path, { rate })
      aliases.push(path)
    },
    setFault: (path, fault) => { origin.setFault(path, fault) },
    redirect: (from, to, status) => { origin.redirect(from, to, status) },
    get requests () { return origin.requests },
    get bytesSent () { return origin.bytesSent },
    get egressRate () { return origin.egressRate },
    close: async () => { await origin.close() }
  }
}

describe('aria2 baseline', () => {
  let dir: string
  let origin: Origin
  let payloadPath: string
  let payloadSha256: string

  const scenario = (over: Partial<Scenario>): Scenario => ({
    name: 'test', nodes: 3, fileSize: 3 * MiB, pieceSize: 256 * 1024, originRate: 0, uploadRate: 0,
    arrival: { kind: 'together' }, check: 'sha256', timeout: 20, ...over
  })
  const fleet = async (over: Partial<Aria2FleetInit> & { scenario: Scenario }): Promise<Aria2FleetInit> => {
    const workDir = join(dir, `work-${Math.random().toString(36).slice(2)}`)
    await mkdir(workDir)
    return { kind: 'aria2-random', payloadPath, payloadSha256, origin, workDir, ...over }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dopt-aria2-'))
    const data = randomBytesSeeded(3 * MiB, 5)
    payloadPath = join(dir, 'payload.bin')
    await writeFile(payloadPath, data)
    payloadSha256 = createHash('sha256').update(data).digest('hex')
    origin = await startOrigin()
  })
  afterEach(async () => {
    await origin.close()
    expect(await processesMentioning(dir)).toEqual([])
    await rm(dir, { recursive: true, force: true })
  })

  it('tells the installed aria2c version', async () => {
    const available = await aria2Available()
    expect(available).toEqual({ ok: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) })
  })

  it('says clearly when aria2c is missing, and the fleet refuses to run without it', async () => {
    const empty = join(dir, 'empty-bin')
    await mkdir(empty)
    const missing = await aria2Available({ env: { PATH: empty } })
    expect(missing.ok).toBe(false)
    expect(!missing.ok && missing.reason).toMatch(/aria2c not found on the PATH/)
    const wrongPath = await aria2Available({ binary: join(empty, 'aria2c') })
    expect(!wrongPath.ok && wrongPath.reason).toMatch(/not found/)
    const notAria2 = await aria2Available({ binary: '/bin/false' })
    expect(!notAria2.ok && notAria2.reason).toMatch(/not a working aria2c/)

    const init = await fleet({ scenario: scenario({}), env: { PATH: empty } })
    const error = await runAria2Fleet(init).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(BaselineUnavailableError)
    expect((error as BaselineUnavailableError).code).toBe('BASELINE_UNAVAILABLE')
    expect(origin.requests).toEqual([])
  })

  it('runs 3 clients released together: all verified, origin bytes per client add up, peers only on 127.0.0.1', async () => {
    const aliases: string[] = []
    origin = throttled(origin, 1 * MiB, aliases)
    const result = await runAria2Fleet(await fleet({ scenario: scenario({}) }))

    expect(result.aria2Version).toBe((await aria2Available() as { version: string }).version)
    expect(result.tracker).toBe(await findOnPath('opentracker', process.env.PATH ?? '') === null ? 'builtin' : 'opentracker')
    expect(result.releaseTime).toBeGreaterThan(Date.now() - 60_000)
    expect(result.nodes).toHaveLength(3)
    for (const node of result.nodes) {
      expect(node.verified).toBe(true)
      expect(node.error).toBeUndefined()
      expect(node.start).toBeGreaterThanOrEqual(0)
      expect(node.start).toBeLessThan(0.2)
      expect(node.done).toBeGreaterThan(node.start)
      expect(node.peakRss).toBeGreaterThan(MiB)
      expect(node.cpuSeconds).toBeGreaterThanOrEqual(0)
      expect(node.bytesFromOrigin + node.bytesFromPeers).toBeGreaterThanOrEqual(3 * MiB)
    }
    // Each client had its own web-seed path; the per-client counts are the origin's own, and cover all it sent.
    expect(aliases).toHaveLength(3)
    aliases.forEach((alias, k) => {
      expect(alias).toMatch(new RegExp(`/c${k}/payload\\.bin$`))
      const bytes = origin.requests.filter(r => r.path === alias).reduce((s, r) => s + r.bytesSent, 0)
      expect(result.nodes[k]!.bytesFromOrigin).toBe(bytes)
    })
    expect(result.nodes.reduce((s, x) => s + x.bytesFromOrigin, 0)).toBe(origin.bytesSent)
    // One copy from the origin at 1 MiB/s per client would take 3 s; trading pieces beats that.
    expect(origin.bytesSent).toBeLessThan(3 * 3 * MiB)
    expect(result.nodes.reduce((s, x) => s + x.bytesFromPeers, 0)).toBeGreaterThan(0)
    expect(result.nodes.reduce((s, x) => s + x.bytesUploaded, 0)).toBeGreaterThan(0)

    expect(result.peerAddresses).toEqual(['127.0.0.1'])
    expect(result.aria2Options).toEqual(expect.arrayContaining([
      '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      '--disable-ipv6=true', '--interface=127.0.0.1', '--stream-piece-selector=random', '--max-overall-upload-limit=0'
    ]))
  })

  it('seed-first with the built-in tracker: client 0 seeds from the release, the other takes the file from it', async () => {
    const aliases: string[] = []
    origin = throttled(origin, 128 * 1024, aliases)
    const result = await runAria2Fleet(await fleet({
      kind: 'aria2', tracker: 'builtin', scenario: scenario({ nodes: 2, arrival: { kind: 'seed-first' }, uploadRate: 4 * MiB })
    }))
    expect(result.tracker).toBe('builtin')
    const [seed, leecher] = result.nodes
    expect(seed).toMatchObject({ index: 0, start: 0, done: 0, bytesFromOrigin: 0, bytesFromPeers: 0, verified: true })
    expect(leecher?.verified).toBe(true)
    expect(leecher?.bytesFromPeers).toBeGreaterThan(2 * MiB)
    expect(seed?.bytesUploaded).toBeGreaterThan(2 * MiB)
    expect(result.aria2Options).toContain('--max-overall-upload-limit=4194304')
    expect(result.aria2Options).not.toContain('--stream-piece-selector=random')
  })

  it('staggers starts, and applies churn: a killed client restarts and resumes, a leaving one is reported', async () => {
    const aliases: string[] = []
    origin = throttled(origin, 1 * MiB, aliases)
    const result = await runAria2Fleet(await fleet({
      scenario: scenario({
        arrival: { kind: 'staggered', every: 0.3 },
        churn: [{ node: 1, at: 0.9, action: 'kill-restart', restartAfter: 0.3 }, { node: 2, at: 0.9, action: 'leave' }]
      })
    }))
    const [n0, n1, n2] = result.nodes
    expect(n0!.start).toBeLessThan(0.1)
    expect(n1!.start).toBeGreaterThanOrEqual(0.3)
    expect(n1!.start).toBeLessThan(0.45)
    expect(n2!.start).toBeGreaterThanOrEqual(0.6)
    expect(n2!.start).toBeLessThan(0.75)
    expect(n0).toMatchObject({ verified: true })
    // The restarted client checked what it had on disk and asked the origin again from there, not from byte 0 only.
    expect(n1).toMatchObject({ verified: true })
    expect(n1!.done).toBeGreaterThan(1.2)
    const n1Requests = origin.requests.filter(r => r.path === aliases[1])
    expect(n1Requests.length).toBeGreaterThanOrEqual(2)
    expect(n2).toMatchObject({ done: null, verified: false, error: expect.stringMatching(/left at 0\.9 s/) })
  })

  it('stops every process when aborted, and throws AbortedError', async () => {
    origin = throttled(origin, 64 * 1024, [])
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 1500)
    const started = Date.now()
    const error = await runAria2Fleet(await fleet({ scenario: scenario({}), signal: controller.signal })).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(AbortedError)
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it('checks its input before it starts anything', async () => {
    await expect(runAria2Fleet(await fleet({ scenario: scenario({ fileSize: 123 }) }))).rejects.toThrow(InvalidArgumentError)
    await expect(runAria2Fleet(await fleet({ scenario: scenario({ churn: [{ node: 3, at: 1, action: 'leave' }] }) })))
      .rejects.toThrow(/No node 3/)
    await expect(runAria2Fleet(await fleet({ scenario: scenario({}), payloadSha256: 'abc' }))).rejects.toThrow(InvalidArgumentError)
    expect(origin.requests).toEqual([])
  })
})
