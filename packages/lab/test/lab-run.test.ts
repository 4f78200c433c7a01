import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { manifestOfFile } from '@dopt/content'
import { AbortedError } from '@dopt/interface'
import { ARIA2_NETNS_REASON, listNamespaces, lowerBounds, netnsAvailable, parseScenario, renderMarkdown, runLab, writeReport } from '../src/index.js'
import type { Report, SystemRun } from '../src/index.js'

const MiB = 1024 * 1024

// The netns run needs root and iproute2 (netns.test.ts tests the network itself); elsewhere it is skipped, saying why.
const netns = await netnsAvailable()
if (!netns.ok) console.log(`lab run in network namespaces skipped: ${netns.reason}`)

/** Node processes this test process started that are still there (zombies included). */
function childNodes (): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n').filter(line => line.includes('lab-node'))
  } catch {
    return [] // ps exits 1 when it lists nothing
  }
}

/**
 * Figures that must hold for any run of any system: what the nodes say adds up with what the origin saw. A node
 * takes the file's bytes once, plus what it fetched of the manifest's sidecar (up to `manifestSize`: the sidecar
 * and the peers are asked at once), plus the endgame's second copies, plus, when it was killed, what was in flight
 * then (the origin sent that too).
 */
function expectConsistent (run: SystemRun, report: Report, manifestSize = 0): void {
  const F = report.scenario.fileSize
  const leaving = new Set((report.scenario.churn ?? []).filter(e => e.action === 'leave').map(e => e.node))
  for (const node of run.nodes.filter(n => !leaving.has(n.index))) {
    expect(node.verified, JSON.stringify(node)).toBe(true)
    expect(node.done).not.toBeNull()
    const extra = node.bytesFromOrigin + node.bytesFromPeers - F
    expect(extra, JSON.stringify(node)).toBeGreaterThanOrEqual(0)
    // The endgame may fetch a last piece twice (at most two requests each, for at most max(2, peers) pieces): the
    // second copy's bytes arrived too, and count.
    const endgame = Math.max(2, report.scenario.nodes - 1) * (report.scenario.pieceSize ?? MiB)
    if ((node.restarts ?? 0) === 0) expect(extra, JSON.stringify(node)).toBeLessThanOrEqual(manifestSize + endgame)
    expect(node.cpuSeconds).toBeGreaterThan(0)
    expect(node.peakRss).toBeGreaterThan(10 * MiB)
  }
  const fromOrigin = run.nodes.reduce((s, n) => s + n.bytesFromOrigin, 0)
  const fromPeers = run.nodes.reduce((s, n) => s + n.bytesFromPeers, 0)
  const uploaded = run.nodes.reduce((s, n) => s + n.bytesUploaded, 0)
  // Whatever a node took from peers some peer uploaded; whatever it took from the origin, the origin sent. A killed
  // process takes with it what it uploaded since its last report (every 250 ms), at most its upload rate's worth.
  const kills = (report.scenario.churn ?? []).filter(e => e.action === 'kill-restart').length
  expect(uploaded).toBeGreaterThanOrEqual(fromPeers - kills * 0.25 * report.scenario.uploadRate)
  expect(run.origin.bytesSent).toBeGreaterThanOrEqual(fromOrigin)
  expect(run.origin.bytesSent).toBeGreaterThanOrEqual(report.bounds.oneCopyBytes)
  expect(run.originCopies).toBeCloseTo(run.origin.bytesSent / F, 10)
  expect(run.origin.requests).toBeGreaterThan(0)
  // Egress over time: increasing, ending at what was sent.
  const egress = run.origin.egress
  for (let i = 1; i < egress.length; i++) {
    expect(egress[i]![0]).toBeGreaterThanOrEqual(egress[i - 1]![0])
    expect(egress[i]![1]).toBeGreaterThanOrEqual(egress[i - 1]![1])
  }
  expect(egress.at(-1)![1]).toBe(run.origin.bytesSent)
  // Nothing beats the lower bound (the egress bucket may run one ~25 ms burst ahead of its rate).
  expect(run.lastDone).not.toBeNull()
  expect(run.lastDone!).toBeGreaterThanOrEqual(report.bounds.lastDone * 0.95)
  expect(run.lastDone).toBe(Math.max(...run.nodes.filter(n => n.seed !== true && !leaving.has(n.index)).map(n => n.done!)))
}

describe('a real lab run (child processes, level, libp2p on 127.0.0.1)', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-lab-test-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('seed-first, N = 3: every node verified, the figures add up, report.json and report.md written', async () => {
    const scenario = parseScenario({ name: 'seeded', nodes: 3, fileSize: 4 * MiB, originRate: 8 * MiB, uploadRate: 8 * MiB, arrival: 'seed-first', check: 'sha256', timeout: 60 })
    const seen: number[] = []
    const report = await runLab({ scenario, workDir: dir, onProgress: p => { seen.push(p.settled) } })
    expect(report.runs).toHaveLength(1)
    const [run] = report.runs
    expect(run!.system).toBe('dopt')
    expectConsistent(run!, report)
    expect(report.bounds).toEqual(lowerBounds(scenario))
    const [seed, ...others] = run!.nodes
    // The seed got its copy before the release, from the origin; the others start at the release.
    expect(seed!.seed).toBe(true)
    expect(seed!.done!).toBeLessThan(0)
    expect(seed!.bytesFromOrigin).toBe(4 * MiB)
    for (const n of others) expect(Math.abs(n.start)).toBeLessThan(1)
    // Released only once the static full mesh had formed: every node connected to both others.
    expect(run!.nodes.map(n => n.peersAtRelease)).toEqual([2, 2, 2])
    expect(seen.at(-1)).toBe(3) // the live display counted every node done, the seed too
    expect(report.summary).toEqual([expect.objectContaining({ system: 'dopt', repeats: 1, lastDone: { median: run!.lastDone, min: run!.lastDone, max: run!.lastDone } })])

    const written = await writeReport(join(dir, 'report'), report)
    const json = JSON.parse(await readFile(written.json, 'utf8')) as Report
    expect(json).toEqual(JSON.parse(JSON.stringify(report)))
    const md = await readFile(written.markdown, 'utf8')
    expect(md).toMatch(/^# dopt lab: seeded/)
    expect(md).toMatch(/Lower bound of the last completion: \d+\.\d\d s/)
    expect(md).toContain(`| dopt | 1 | ${run!.lastDone!.toFixed(2)} |`)
    expect(md.match(/^\| [0-2] \| /gm)).toHaveLength(3)
    expect(childNodes()).toEqual([])
  })

  it('check manifest, staggered: the pinned CID is served as the origin\'s sidecar, outputs verify, node 1 starts later', async () => {
    const scenario = parseScenario({ name: 'pinned', nodes: 2, fileSize: 3 * MiB + 5, pieceSize: 256 * 1024, originRate: 16 * MiB, uploadRate: 16 * MiB, check: 'manifest', arrival: 'staggered:0.6', timeout: 60 })
    const report = await runLab({ scenario, workDir: dir })
    const run = report.runs[0]!
    // The payload's manifest: its size depends on the file's size and piece size only (no source URL in it).
    const sample = join(dir, 'sample.bin')
    await writeFile(sample, Buffer.alloc(scenario.fileSize))
    const { bytes } = await manifestOfFile(sample, { pieceSize: scenario.pieceSize })
    expectConsistent(run, report, bytes.byteLength)
    // The first node had no peer to ask: it took the manifest from the sidecar, and the origin's count shows it.
    expect(run.nodes[0]!.bytesFromOrigin + run.nodes[0]!.bytesFromPeers).toBe(scenario.fileSize + bytes.byteLength)
    expect(run.nodes[0]!.start).toBeLessThan(0.3)
    expect(run.nodes[1]!.start).toBeGreaterThanOrEqual(0.59)
    expect(run.nodes[1]!.start).toBeLessThan(1.2)
    expect(report.bounds.terms.lastArrival).toBeCloseTo(0.6, 10)
  })

  it('churn: a node SIGKILLed mid-download comes back on its data folder and resumes its job; one that leaves is reported as gone', async () => {
    const scenario = parseScenario({
      name: 'churn', nodes: 3, fileSize: 8 * MiB, pieceSize: 256 * 1024, originRate: 4 * MiB, uploadRate: 4 * MiB, timeout: 60,
      churn: [{ node: 1, at: 1.5, action: 'kill-restart', restartAfter: 0.3 }, { node: 2, at: 0.8, action: 'leave' }]
    })
    const report = await runLab({ scenario, workDir: dir })
    const run = report.runs[0]!
    expectConsistent(run, report)
    const killed = run.nodes[1]!
    expect(killed.restarts).toBe(1)
    // It found its job by name with pieces already verified: a resume, not a new download.
    expect(killed.resumedBytes).toBeGreaterThan(0)
    expect(killed.resumedBytes).toBeLessThan(8 * MiB)
    const gone = run.nodes[2]!
    expect(gone.done).toBeNull()
    expect(gone.verified).toBe(false)
    expect(gone.error).toMatch(/left at 0\.8 s/)
    expect(gone.cpuSeconds).toBeGreaterThan(0) // its last figures arrived before it exited
    expect(childNodes()).toEqual([])
  })

  it.skipIf(!netns.ok)('network netns, N = 3: each node in its namespace, tc shaping instead of dopt\'s limits, a kill-restart resumes, every node verified, nothing left behind', async () => {
    const scenario = parseScenario({
      name: 'netns', nodes: 3, fileSize: 4 * MiB, pieceSize: 256 * 1024, originRate: 4 * MiB, uploadRate: 4 * MiB, timeout: 60,
      network: 'netns', baselines: ['aria2'], churn: [{ node: 1, at: 0.5, action: 'kill-restart', restartAfter: 0.2 }]
    })
    const mine = async (): Promise<string[]> => (await listNamespaces()).filter(ns => ns.startsWith(`dopt-${process.pid}r`))
    let during: string[] = []
    const report = await runLab({
      scenario,
      workDir: dir,
      onProgress: p => { if (p.elapsed !== null && during.length === 0) void mine().then(list => { during = list }) }
    })
    // One namespace per node, the origin's and the hub's existed during the run, and none is left after it.
    expect(during).toHaveLength(5)
    expect(await mine()).toEqual([])
    expect(childNodes()).toEqual([])
    expect(report.limits).toBe('tc')
    expect(report.scenario.network).toEqual({ mode: 'netns', latency: 0, loss: 0 })
    // aria2 stays on 127.0.0.1: skipped, and the report says why.
    expect(report.skipped).toEqual([{ system: 'aria2', reason: ARIA2_NETNS_REASON }])
    expect(report.runs.map(r => r.system)).toEqual(['dopt'])
    const run = report.runs[0]!
    // Every figure adds up, and nothing beat the bound: with the origin's token bucket and dopt's limits off, only
    // tc's tbf held the origin to 4 MiB/s (F/u_s = 1 s).
    expectConsistent(run, report)
    expect(report.bounds.lastDone).toBeCloseTo(1, 10)
    expect(run.nodes.map(n => n.peersAtRelease)).toEqual([2, 2, 2])
    expect(run.nodes[1]!.restarts).toBe(1)
    expect(renderMarkdown(report)).toMatch(/Network: netns, each node in a network namespace of its own/)
  })

  it.skipIf(!netns.ok)('network netns, interrupted: every node process stopped and every namespace removed', async () => {
    const scenario = parseScenario({ name: 'netns-stop', nodes: 2, fileSize: 8 * MiB, originRate: MiB, uploadRate: MiB, timeout: 60, network: 'netns' })
    const controller = new AbortController()
    let before: string[] = []
    const running = runLab({
      scenario,
      workDir: dir,
      signal: controller.signal,
      onProgress: p => {
        if (p.elapsed !== null && p.elapsed > 0.3 && !controller.signal.aborted) {
          before = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(l => l.startsWith(`dopt-${process.pid}r`))
          controller.abort()
        }
      }
    })
    await expect(running).rejects.toThrow(AbortedError)
    expect(before).toHaveLength(4)
    expect((await listNamespaces()).filter(ns => ns.startsWith(`dopt-${process.pid}r`))).toEqual([])
    expect(childNodes()).toEqual([])
  })

  it('an interrupted lab stops every node process and rejects with ABORTED', async () => {
    const scenario = parseScenario({ name: 'stop', nodes: 2, fileSize: 8 * MiB, originRate: MiB, uploadRate: MiB, timeout: 60 })
    const controller = new AbortController()
    let aborted = false
    const running = runLab({
      scenario,
      workDir: dir,
      signal: controller.signal,
      onProgress: p => {
        if (p.elapsed !== null && p.elapsed > 0.5 && !aborted) {
          aborted = true
          expect(childNodes()).toHaveLength(2)
          controller.abort()
        }
      }
    })
    await expect(running).rejects.toThrow(AbortedError)
    expect(aborted).toBe(true)
    expect(childNodes()).toEqual([])
  })
})
