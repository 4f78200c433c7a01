/**
 * The lab's three charts as Vega-Lite specs, data inline: a completion-time CDF, bytes by source per node, origin
 * egress over time. Pure functions of a report; charts.ts renders them. Each aims at about 800×400 px.
 */
import type { Config, TopLevelSpec } from 'vega-lite'
import {
  BYTE_KINDS, cdfRows, egressRows, formatBytes, formatSeconds, labelRuns, niceCeil, nodeBytesRows, runNotes,
  systemsOf, timeExtent, type System
} from './chart-data.js'
import type { Report } from './fleet-types.js'

export const CHART_WIDTH = 800
export const CHART_HEIGHT = 400

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

/** A layer drawn once (a rule, its label) still needs a row to draw from. */
const ONE_ROW = { values: [{}] }

/** One colour per system, the same in every chart. */
const SYSTEM_COLOURS: Record<System, string> = { dopt: '#1f77b4', aria2: '#ff7f0e', 'aria2-random': '#9467bd' }
/** Origin bytes in red (what dopt saves), peer bytes in green, uploads in grey. */
const BYTE_COLOURS = ['#d62728', '#2ca02c', '#8c8c8c']

const CONFIG: Config = {
  font: 'DejaVu Sans, Verdana, sans-serif',
  title: { anchor: 'start', fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 11 },
  header: { labelFontSize: 13, labelFontWeight: 'bold' },
  view: { stroke: '#bbbbbb' }
}

export type ChartName = 'completion-cdf' | 'bytes-by-source' | 'origin-egress'

export interface ChartSpec { name: ChartName, title: string, spec: TopLevelSpec }

export function chartSpecs (report: Report): ChartSpec[] {
  return [completionCdf(report), bytesBySource(report), originEgress(report)]
}

function scenarioLine (report: Report): string {
  const s = report.scenario
  return `${s.name}: ${s.nodes} nodes, ${formatBytes(s.fileSize)} file`
}

/** The repeat count per system, as "dopt ×2, aria2 ×2", or '' when every system ran once. */
function repeatsLine (report: Report): string {
  const runs = labelRuns(report)
  const counts = systemsOf(report).map(system => ({ system, n: runs.filter(r => r.system === system).length }))
  return counts.some(c => c.n > 1) ? counts.map(c => `${c.system} ×${c.n}`).join(', ') : ''
}

function colourScale (systems: System[]): { domain: System[], range: string[] } {
  return { domain: systems, range: systems.map(s => SYSTEM_COLOURS[s]) }
}

/**
 * Subtitle lines of at most ~80 characters: without a canvas Vega estimates a text's width generously (0.8 em per
 * character), and a longer line would widen the SVG past the chart.
 */
function withHeadline (text: string, headline: string): string {
  return headline === '' ? text : `${text} (${headline})`
}

function titleWithNotes (text: string, lines: string[]): { text: string, subtitle: string[] } {
  return { text, subtitle: lines.filter(line => line !== '').flatMap(line => wrap(line, 80)) }
}

function wrap (line: string, width: number): string[] {
  const out: string[] = []
  let current = ''
  for (const word of line.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > width) {
      out.push(current)
      current = word
    } else {
      current = current === '' ? word : `${current} ${word}`
    }
  }
  if (current !== '') out.push(current)
  return out
}

/** The time axis shared by the CDF and the egress chart, so they line up. */
function timeAxis (report: Report): { end: number, x: object } {
  const end = niceCeil(timeExtent(report))
  return { end, x: { type: 'quantitative', scale: { domain: [0, end], nice: false }, title: 'time after release (s)' } }
}

function completionCdf (report: Report): ChartSpec {
  const systems = systemsOf(report)
  const runs = labelRuns(report)
  const { end, x } = timeAxis(report)
  const repeated = new Set(systems.filter(s => runs.filter(r => r.system === s).length > 1))
  // A system run once is drawn solid; one run several times has its repeats faint and its pooled curve solid.
  const rows = cdfRows(report, end).map(row => ({
    ...row, solid: !repeated.has(row.system) || row.series === 'pooled'
  }))
  const { headline, unfinished: notes } = runNotes(report)
  const bound = report.bounds.lastDone
  const boundLabel = `lower bound ${formatSeconds(bound)}`
  const labelOnLeft = bound > end * 0.7
  const title = withHeadline('Completion time: nodes done after the release', headline)
  const line = (solid: boolean): object => ({
    data: { name: 'cdf' },
    transform: [{ filter: solid ? 'datum.solid' : '!datum.solid' }],
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: solid ? 2.5 : 1.2, opacity: solid ? 1 : 0.4 },
    encoding: {
      x: { field: 't', ...x },
      y: {
        field: 'fraction', type: 'quantitative', scale: { domain: [0, 1] },
        axis: { format: '.0%' }, title: 'nodes done (% of nodes)'
      },
      // The legend shows the solid line, whichever layer it is drawn from.
      color: {
        field: 'system', type: 'nominal', scale: colourScale(systems), title: 'system',
        legend: { symbolOpacity: 1, symbolStrokeWidth: 2.5 }
      },
      detail: { field: 'series', type: 'nominal' }
    }
  })
  const layers: object[] = [line(false), line(true)]
  if (Number.isFinite(bound) && bound > 0) {
    layers.push(
      { data: ONE_ROW, mark: { type: 'rule', strokeDash: [6, 4], color: '#333', strokeWidth: 1.2 }, encoding: { x: { datum: bound, ...x } } },
      {
        data: ONE_ROW,
        mark: { type: 'text', align: labelOnLeft ? 'right' : 'left', baseline: 'top', dx: labelOnLeft ? -5 : 5, dy: 5, fontSize: 11 },
        encoding: { x: { datum: bound, ...x }, y: { value: 0 }, text: { value: boundLabel } }
      }
    )
  }
  return {
    name: 'completion-cdf',
    title,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      autosize: { type: 'fit', contains: 'padding' },
      title: titleWithNotes(title, [
        scenarioLine(report),
        repeated.size > 0 ? `thin lines: each repeat; thick: a system's repeats pooled (${repeatsLine(report)})` : '',
        ...notes
      ]),
      datasets: { cdf: rows },
      layer: layers
    } as TopLevelSpec
  }
}

function bytesBySource (report: Report): ChartSpec {
  const systems = systemsOf(report)
  const { rows, unit } = nodeBytesRows(report)
  const { headline, unfinished: notes } = runNotes(report)
  const repeats = repeatsLine(report)
  const columns = Math.max(1, systems.length)
  const gap = 16
  // Per column: the whole width less the y axis (~70 px) and the gaps between columns.
  const width = Math.floor((CHART_WIDTH - 70 - gap * (columns - 1)) / columns)
  const subtitle = [
    scenarioLine(report),
    'per node: received from the origin and from peers (stacked), uploaded beside it' +
      (repeats !== '' ? `; mean over repeats (${repeats})` : ''),
    ...notes
  ]
  const title = withHeadline('Bytes by source per node', headline)
  return {
    name: 'bytes-by-source',
    title,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      title: titleWithNotes(title, subtitle),
      datasets: { bytes: rows.map(row => ({ ...row, order: BYTE_KINDS.indexOf(row.kind) })) },
      data: { name: 'bytes' },
      facet: {
        column: { field: 'system', type: 'nominal', sort: systems, title: null, header: { labelOrient: 'top' } }
      },
      spacing: gap,
      spec: {
        width,
        height: CHART_HEIGHT - 150 - 14 * subtitle.length,
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'node', type: 'ordinal', title: 'node', axis: { labelAngle: 0, labelOverlap: 'parity' } },
          xOffset: { field: 'bar', type: 'nominal', sort: ['received', 'uploaded'] },
          // An explicit domain only when there is nothing to plot (Vega would warn of an infinite extent).
          y: {
            field: 'value', type: 'quantitative', stack: 'zero', title: `bytes (${unit.name})`,
            ...(rows.length === 0 ? { scale: { domain: [0, 1] } } : {})
          },
          color: {
            field: 'kind', type: 'nominal', scale: { domain: [...BYTE_KINDS], range: BYTE_COLOURS },
            legend: { title: null, orient: 'top', direction: 'horizontal' }
          },
          order: { field: 'order' }
        }
      },
      // The point of the chart: the same byte scale in every column.
      resolve: { scale: { y: 'shared' } }
    } as TopLevelSpec
  }
}

function originEgress (report: Report): ChartSpec {
  const systems = systemsOf(report)
  const { x } = timeAxis(report)
  const { rows, unit } = egressRows(report)
  const { headline, noEgress: notes } = runNotes(report)
  const oneCopy = report.bounds.oneCopyBytes / unit.size
  const repeats = repeatsLine(report)
  const title = withHeadline('Origin egress over time', headline === 'no runs' ? headline : notes.length > 0 ? 'some runs have no samples' : '')
  const layers: object[] = [{
    data: { name: 'egress' },
    mark: { type: 'line', strokeWidth: 2, opacity: 0.85 },
    encoding: {
      x: { field: 't', ...x },
      y: {
        field: 'value', type: 'quantitative', title: `origin bytes sent (${unit.name})`,
        // An explicit domain only when there is nothing to plot, as in the bytes chart.
        ...(rows.length === 0 ? { scale: { domain: [0, Math.max(oneCopy, 1) * 1.2] } } : {})
      },
      color: { field: 'system', type: 'nominal', scale: colourScale(systems), title: 'system' },
      detail: { field: 'series', type: 'nominal' }
    }
  }]
  if (oneCopy > 0) {
    layers.push(
      { data: ONE_ROW, mark: { type: 'rule', strokeDash: [6, 4], color: '#333', strokeWidth: 1.2 }, encoding: { y: { datum: oneCopy } } },
      {
        data: ONE_ROW,
        mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -4, fontSize: 11 },
        encoding: { x: { value: 'width' }, y: { datum: oneCopy }, text: { value: `one copy (${formatBytes(report.bounds.oneCopyBytes)})` } }
      }
    )
  }
  return {
    name: 'origin-egress',
    title,
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      autosize: { type: 'fit', contains: 'padding' },
      title: titleWithNotes(title, [scenarioLine(report), repeats !== '' ? `one line per run (${repeats})` : '', ...notes]),
      datasets: { egress: rows },
      layer: layers
    } as TopLevelSpec
  }
}
