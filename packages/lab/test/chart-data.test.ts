import { describe, expect, it } from 'vitest'
import {
  byteUnit, cdfRows, cdfSteps, egressRows, formatBytes, formatSeconds, labelRuns, niceCeil, nodeBytesRows, runNotes,
  systemsOf, timeExtent
} from '../src/chart-data.js'
import { sampleReport } from '../src/sample-report.js'

describe('cdfSteps', () => {
  it('steps once per finished node, sorted, from (0, 0) to a last point at `until`', () => {
    expect(cdfSteps([3, 1, 2, 4], 10)).toEqual([
      { t: 0, fraction: 0 }, { t: 1, fraction: 0.25 }, { t: 2, fraction: 0.5 }, { t: 3, fraction: 0.75 },
      { t: 4, fraction: 1 }, { t: 10, fraction: 1 }
    ])
  })

  it('counts unfinished nodes in the denominator and stays flat below 1', () => {
    expect(cdfSteps([2, null, 1, null], 5)).toEqual([
      { t: 0, fraction: 0 }, { t: 1, fraction: 0.25 }, { t: 2, fraction: 0.5 }, { t: 5, fraction: 0.5 }
    ])
  })

  it('draws a flat zero for a run where no node finished, nothing for a run without nodes', () => {
    expect(cdfSteps([null, null], 5)).toEqual([{ t: 0, fraction: 0 }, { t: 5, fraction: 0 }])
    expect(cdfSteps([], 5)).toEqual([])
  })
})

describe('runs and systems', () => {
  it('numbers repeats per system in the order they ran, and lists dopt first', () => {
    const report = sampleReport({ repeats: 2, baselines: ['aria2-random', 'aria2'] })
    report.runs.reverse()
    expect(labelRuns(report).map(r => r.label)).toEqual([
      'aria2 #1', 'aria2 #2', 'aria2-random #1', 'aria2-random #2', 'dopt #1', 'dopt #2'
    ])
    expect(systemsOf(report)).toEqual(['dopt', 'aria2', 'aria2-random'])
  })

  it('pools the repeats of a system into one more series', () => {
    const report = sampleReport({ nodes: 3, repeats: 2 })
    const rows = cdfRows(report, 30)
    const dopt = rows.filter(r => r.system === 'dopt')
    expect([...new Set(dopt.map(r => r.series))]).toEqual(['dopt #1', 'dopt #2', 'pooled'])
    // 3 + 3 nodes pooled: steps of 1/6, ending at 1.
    const pooled = dopt.filter(r => r.series === 'pooled')
    expect(pooled.length).toBe(8)
    expect(pooled[1]?.fraction).toBeCloseTo(1 / 6)
    expect(pooled.at(-1)).toEqual({ system: 'dopt', series: 'pooled', t: 30, fraction: 1 })
  })

  it('adds no pooled series for a system run once', () => {
    const rows = cdfRows(sampleReport({ repeats: 1 }), 30)
    expect(rows.some(r => r.series === 'pooled')).toBe(false)
  })
})

describe('nodeBytesRows', () => {
  it('averages each node index over the repeats, in one unit for all systems', () => {
    const report = sampleReport({ nodes: 2, repeats: 2 })
    const [a, b] = report.runs
    a!.nodes[0]!.bytesFromOrigin = 1024 * 1024
    b!.nodes[0]!.bytesFromOrigin = 3 * 1024 * 1024
    const { rows, unit } = nodeBytesRows(report)
    expect(unit.name).toBe('MiB')
    const origin0 = rows.find(r => r.system === 'dopt' && r.node === 0 && r.kind === 'from origin')
    expect(origin0?.value).toBe(2)
    expect(rows.filter(r => r.system === 'dopt').map(r => `${r.node}:${r.bar}:${r.kind}`)).toEqual([
      '0:received:from origin', '0:received:from peers', '0:uploaded:uploaded',
      '1:received:from origin', '1:received:from peers', '1:uploaded:uploaded'
    ])
  })
})

describe('egressRows and timeExtent', () => {
  it('puts the one-copy size in the unit choice and sorts samples by time', () => {
    const report = sampleReport({ repeats: 1, baselines: [] })
    report.bounds.oneCopyBytes = 2 * 1024 ** 3
    report.runs[0]!.origin.egress = [[2, 1024], [1, 512]]
    const { rows, unit } = egressRows(report)
    expect(unit.name).toBe('GiB')
    expect(rows.map(r => r.t)).toEqual([1, 2])
  })

  it('reaches the latest of the last node done, the last sample and the bound', () => {
    const report = sampleReport({ repeats: 1, baselines: [] })
    report.runs[0]!.origin.egress.push([99, 0])
    expect(timeExtent(report)).toBe(99)
    report.runs = []
    report.bounds.lastDone = 0
    expect(timeExtent(report)).toBe(1)
  })
})

describe('runNotes', () => {
  it('is quiet when every node finished', () => {
    expect(runNotes(sampleReport())).toEqual({ headline: '', unfinished: [], noEgress: [] })
  })

  it('names the runs with unfinished nodes, without nodes, without samples', () => {
    const report = sampleReport({ nodes: 4, repeats: 2 })
    report.runs[1]!.nodes[2]!.done = null
    report.runs[2]!.nodes = []
    report.runs[2]!.origin.egress = []
    expect(runNotes(report)).toEqual({
      headline: 'some nodes never finished',
      unfinished: ['dopt #2: 1 of 4 nodes never finished', 'aria2 #1: no nodes reported'],
      noEgress: ['aria2 #1: no egress samples']
    })
  })

  it('says when no node finished, and when there are no runs', () => {
    const report = sampleReport({ repeats: 1 })
    for (const run of report.runs) for (const node of run.nodes) node.done = null
    expect(runNotes(report).headline).toBe('no node finished')
    report.runs = []
    expect(runNotes(report)).toMatchObject({ headline: 'no runs', unfinished: ['no runs in this report'] })
  })
})

describe('formatting', () => {
  it('picks binary units and nice axis ends', () => {
    expect(byteUnit(1023).name).toBe('B')
    expect(byteUnit(1024).name).toBe('KiB')
    expect(byteUnit(64 * 1024 * 1024).name).toBe('MiB')
    expect(formatBytes(64 * 1024 * 1024)).toBe('64 MiB')
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB')
    expect(formatSeconds(5.4857)).toBe('5.49 s')
    expect(formatSeconds(140)).toBe('140 s')
    expect([0.3, 1, 1.2, 2.2, 17.6, 20, 26, 51].map(niceCeil)).toEqual([0.5, 1, 2, 2.5, 20, 20, 50, 100])
  })
})
