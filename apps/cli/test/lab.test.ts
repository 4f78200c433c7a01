import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listNamespaces, netnsAvailable } from '@dopt/lab'
import type { Report } from '@dopt/lab'
import { BIN, hasStackTrace, run, start, waitUntil } from './helpers.js'
import type { RunResult } from './helpers.js'

const MiB = 1024 * 1024
// `dopt lab --netns` for real needs root and iproute2; elsewhere that test is skipped, saying why.
const netns = await netnsAvailable()
if (!netns.ok) console.log(`dopt lab --netns run skipped: ${netns.reason}`)
const root = process.getuid?.() === 0
if (!root) console.log('dopt lab --netns as a non-root user skipped: the test process is not root, so it cannot switch to one')

interface LabJson {
  report: string
  markdown: string
  charts: string[]
  scenario: string
  nodes: number
  fileSize: number
  bound: number
  systems: Array<{ system: string, repeats: number, lastDone: number | null, lastDoneOverBound: number | null, originCopies: number, cpuSecondsPerGiBPerNode: number }>
  allDone: boolean
}

function expectUsage (r: RunResult, pattern: RegExp): void {
  expect(r.code, r.stdout + r.stderr).toBe(2)
  expect(hasStackTrace(r.stderr)).toBe(false)
  expect(r.stderr.split('\n')[0]).toMatch(pattern)
}

describe('dopt lab', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-cli-lab-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('--json: runs the scenario quietly, writes the report, prints one line with the headline figures', async () => {
    const out = join(dir, 'out')
    const r = await run(['lab', '--nodes', '3', '--size', '4MiB', '--origin-rate', '16MiB', '--upload-rate', '16MiB', '--name', 'cli', '--repeat', '2', '--json', '--out', out], { timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toBe('')
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const line = JSON.parse(lines[0]!) as LabJson
    expect(line).toMatchObject({ report: join(out, 'report.json'), markdown: join(out, 'report.md'), scenario: 'cli', nodes: 3, fileSize: 4 * MiB, allDone: true })
    // 4 MiB at 16 MiB/s from the origin: the bound is 0.25 s.
    expect(line.bound).toBeCloseTo(0.25, 10)
    const [dopt] = line.systems
    expect(dopt!.system).toBe('dopt')
    expect(dopt!.repeats).toBe(2)
    expect(dopt!.originCopies).toBeGreaterThanOrEqual(1)
    expect(dopt!.lastDone!).toBeGreaterThan(0.2)
    expect(dopt!.lastDoneOverBound).toBeCloseTo(dopt!.lastDone! / line.bound, 10)

    const report = JSON.parse(await readFile(line.report, 'utf8')) as Report
    expect(report.scenario).toMatchObject({ name: 'cli', nodes: 3, fileSize: 4 * MiB, originRate: 16 * MiB, uploadRate: 16 * MiB, check: 'sha256', arrival: { kind: 'together' } })
    expect(report.runs).toHaveLength(2)
    for (const r of report.runs) expect(r.nodes.every(n => n.verified)).toBe(true)
    const copies = report.runs.map(r => r.originCopies)
    expect(dopt!.originCopies).toBeCloseTo((copies[0]! + copies[1]!) / 2, 10)
    expect(report.summary[0]!.originCopies).toEqual({ median: dopt!.originCopies, min: Math.min(...copies), max: Math.max(...copies) })
    const md = await readFile(line.markdown, 'utf8')
    expect(md).toMatch(/^# dopt lab: cli\n/)
    // renderCharts' charts, written beside the report and embedded in it.
    expect(line.charts.length).toBeGreaterThan(0)
    for (const path of line.charts) {
      expect(path.startsWith(out + '/') && path.endsWith('.svg')).toBe(true)
      expect(await readFile(path, 'utf8')).toMatch(/<svg[\s>]/)
      expect(md).toContain(`](${path.slice(out.length + 1)})`)
    }
  })

  it('the bundle carries the node runner beside the CLI (the lab looks for lab-node.js beside its own code)', () => {
    const runner = join(BIN, '../../dist/bundle/lab-node.js')
    // Started by hand, without the lab's IPC channel, it refuses: it loaded, and exits 2 at once.
    const r = spawnSync(process.execPath, [runner], { encoding: 'utf8', timeout: 20_000 })
    expect(r.status, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/IPC channel/)
  })

  it('--help prints the lab\'s options; dopt help lists the command', async () => {
    const help = await run(['lab', '--help'])
    expect(help.code).toBe(0)
    for (const option of ['--nodes', '--size', '--origin-rate', '--upload-rate', '--check', '--arrival', '--piece-size', '--scenario', '--repeat', '--baseline', '--out', '--json', '--netns', '--latency', '--loss']) {
      expect(help.stdout).toContain(option)
    }
    expect((await run(['help'])).stdout).toMatch(/dopt lab \[options\]/)
  })

  it('--netns where namespaces cannot be made: NETNS_UNAVAILABLE, exit 2, the reason given', async () => {
    // As root, a PATH without iproute2; as anyone else, not being root. (Running it as another user needs a clone
    // that user can read: a fresh clone in a 0700 temp folder is not.)
    const empty = await mkdtemp(join(tmpdir(), 'dopt-no-ip-'))
    try {
      const env = root ? { ...process.env, PATH: empty } : process.env
      const r = spawnSync(process.execPath, [BIN, 'lab', '--netns', '--nodes', '2', '--json'], { encoding: 'utf8', timeout: 20_000, env })
      expect(r.status, r.stderr).toBe(2)
      expect(hasStackTrace(r.stderr)).toBe(false)
      const reason = root ? 'ip is not on the PATH \\(Debian: apt-get install iproute2\\)' : 'network namespaces need root, and this process runs as uid \\d+'
      expect(r.stderr).toMatch(new RegExp(`^dopt: the lab cannot use network namespaces here: ${reason} \\(NETNS_UNAVAILABLE\\)`))
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'NETNS_UNAVAILABLE' } })
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  })

  it.skipIf(!netns.ok)('--netns: a run in network namespaces through the bundle (its netns listener too), limits applied by tc, no namespace left', async () => {
    const out = join(dir, 'netns')
    const running = start(['lab', '--netns', '--nodes', '2', '--size', '2MiB', '--origin-rate', '8MiB', '--upload-rate', '8MiB', '--name', 'cli-netns', '--json', '--out', out], { timeoutMs: 60_000 })
    const r = await running.done
    expect(r.code, r.stderr).toBe(0)
    const line = JSON.parse(r.stdout) as LabJson
    expect(line.allDone).toBe(true)
    const report = JSON.parse(await readFile(line.report, 'utf8')) as Report
    expect(report.limits).toBe('tc')
    expect(report.scenario.network).toEqual({ mode: 'netns', latency: 0, loss: 0 })
    expect(report.runs[0]!.nodes.every(n => n.verified)).toBe(true)
    expect(await readFile(line.markdown, 'utf8')).toMatch(/Network: netns/)
    // The lab's namespaces are named after its pid: none is left.
    expect((await listNamespaces()).filter(ns => ns.startsWith(`dopt-${running.child.pid!}r`))).toEqual([])
  })

  it.skipIf(!netns.ok)('--netns, Ctrl-C: exit 130, every node stopped and every namespace removed', async () => {
    const running = start(['lab', '--netns', '--nodes', '2', '--size', '8MiB', '--origin-rate', '1MiB', '--upload-rate', '1MiB', '--json', '--out', join(dir, 'netns-int')], { timeoutMs: 60_000 })
    const mine = async (): Promise<string[]> => (await listNamespaces()).filter(ns => ns.startsWith(`dopt-${running.child.pid!}r`))
    await waitUntil('its 4 namespaces exist', async () => (await mine()).length === 4, { timeoutMs: 30_000, intervalMs: 50 })
    await new Promise(resolve => setTimeout(resolve, 500)) // the nodes are starting or downloading
    running.child.kill('SIGINT')
    const r = await running.done
    expect(r.code, r.stderr).toBe(130)
    expect(r.stderr).toMatch(/interrupted; every node process was stopped and every network namespace removed/)
    expect(await mine()).toEqual([])
  })

  it('bad input: exit 2, the option or scenario field named, no stack trace, no run', async () => {
    expectUsage(await run(['lab', '--nodes', '0']), /--nodes must be a whole number from 1 to 64/)
    expectUsage(await run(['lab', '--size', 'big']), /--size must be a size/)
    expectUsage(await run(['lab', '--origin-rate', '-3']), /--origin-rate/)
    expectUsage(await run(['lab', '--check', 'md5']), /--check must be one of sha256, manifest, none/)
    expectUsage(await run(['lab', '--arrival', 'later']), /arrival/)
    expectUsage(await run(['lab', '--repeat', '0']), /--repeat/)
    expectUsage(await run(['lab', '--baseline', 'curl']), /--baseline/)
    expectUsage(await run(['lab', 'extra']), /no arguments/)
    expectUsage(await run(['lab', '--scenario', join(dir, 'missing.json')]), /cannot read/)
    const bad = join(dir, 'bad.json')
    await writeFile(bad, JSON.stringify({ nodes: 3, fileSize: '1MiB', originRate: 0, uploadRate: 0, churn: [{ node: 9, at: 1, action: 'leave' }] }))
    expectUsage(await run(['lab', '--scenario', bad]), /scenario churn\[0\]\.node: must be a whole number from 0 to 2/)
    expectUsage(await run(['lab', '--latency', '20']), /--latency needs --netns/)
    expectUsage(await run(['lab', '--netns', '--loss', '70']), /--loss must be a number of percent from 0 to 50/)
    expectUsage(await run(['lab', '--netns', '--latency', 'soon']), /--latency must be a number of milliseconds/)
    const badNet = join(dir, 'bad-net.json')
    await writeFile(badNet, JSON.stringify({ nodes: 2, fileSize: '1MiB', originRate: 0, uploadRate: 0, network: { mode: 'netns', latency: -5 } }))
    expectUsage(await run(['lab', '--scenario', badNet]), /scenario network\.latency: must be a number >= 0/)
    const json = await run(['lab', '--nodes', 'x', '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'USAGE' } })
  })
})
