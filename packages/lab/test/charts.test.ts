import { describe, expect, it } from 'vitest'
import { chartSpecs } from '../src/chart-specs.js'
import { renderCharts, type Chart } from '../src/charts.js'
import type { Report } from '../src/fleet-types.js'
import { sampleReport } from '../src/sample-report.js'

/**
 * Checks that an SVG string is well-formed XML as far as these charts go: one root `<svg>`, every tag closed in
 * order, attributes quoted, no raw `<` or `&` in text. Returns the text of its `<text>` elements (one entry per
 * line: a multi-line text is `<tspan>`s).
 */
function parseSvg (svg: string): { width: number, height: number, viewBox: string, texts: string[] } {
  const stack: string[] = []
  const texts: string[] = []
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy
  let root: { attrs: string } | undefined
  let m: RegExpExecArray | null
  let at = 0
  while (at < svg.length) {
    token.lastIndex = at
    m = token.exec(svg)
    if (m === null) throw new Error(`not well-formed at ${at}: ${svg.slice(at, at + 60)}`)
    at = token.lastIndex
    const [, closing, tag, attrs, selfClosing, text] = m
    if (text !== undefined) {
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[\da-f]+);)/i.test(text)) throw new Error(`raw & in text: ${text}`)
      if (stack.at(-1) === 'text' || stack.at(-1) === 'tspan') texts.push(text)
      else if (text.trim() !== '') throw new Error(`text outside <text>: ${text}`)
      continue
    }
    if (closing === '/') {
      const open = stack.pop()
      if (open !== tag) throw new Error(`</${tag}> closes <${open}>`)
      continue
    }
    if (root === undefined) {
      if (tag !== 'svg') throw new Error(`root is <${tag}>`)
      root = { attrs: attrs ?? '' }
    } else if (stack.length === 0) {
      throw new Error(`second root <${tag}>`)
    }
    if (selfClosing !== '/') stack.push(tag!)
  }
  if (root === undefined || stack.length > 0) throw new Error(`unclosed: ${stack.join(' > ')}`)
  const rootAttrs = root.attrs
  const attr = (name: string): string => new RegExp(`\\s${name}="([^"]*)"`).exec(rootAttrs)?.[1] ?? ''
  return { width: Number(attr('width')), height: Number(attr('height')), viewBox: attr('viewBox'), texts }
}

function byName (charts: Chart[], name: string): Chart {
  const chart = charts.find(c => c.name === name)
  if (chart === undefined) throw new Error(`no chart ${name}`)
  return chart
}

async function render (report: Report): Promise<{ charts: Chart[], warnings: string[] }> {
  const warnings: string[] = []
  const charts = await renderCharts(report, { onWarning: message => warnings.push(message) })
  return { charts, warnings }
}

describe('parseSvg (the test\'s own check)', () => {
  it('refuses what is not well-formed', () => {
    expect(parseSvg('<svg width="1" height="2" viewBox="0 0 1 2"><text>a &amp; b</text></svg>'))
      .toEqual({ width: 1, height: 2, viewBox: '0 0 1 2', texts: ['a &amp; b'] })
    for (const bad of ['<svg><g></svg>', '<svg><text>a & b</text></svg>', '<svg x=1></svg>', '<svg></svg><svg></svg>', '<g></g>']) {
      expect(() => parseSvg(bad), bad).toThrow()
    }
  })
})

describe('renderCharts', () => {
  const report = sampleReport({ nodes: 12, repeats: 2, baselines: ['aria2'] })

  it('draws the three charts as well-formed SVG of about 800×400, without warnings', async () => {
    const { charts, warnings } = await render(report)
    expect(charts.map(c => c.name)).toEqual(['completion-cdf', 'bytes-by-source', 'origin-egress'])
    expect(warnings).toEqual([])
    for (const chart of charts) {
      expect(chart.svg.startsWith('<svg')).toBe(true)
      const svg = parseSvg(chart.svg)
      expect(svg.viewBox).toBe(`0 0 ${svg.width} ${svg.height}`)
      expect(svg.width).toBeGreaterThanOrEqual(700)
      expect(svg.width).toBeLessThanOrEqual(850)
      expect(svg.height).toBeGreaterThanOrEqual(350)
      expect(svg.height).toBeLessThanOrEqual(450)
      expect(svg.texts).toContain(chart.title)
      expect(svg.texts).toContain('sample: 12 nodes, 64 MiB file')
    }
  })

  it('completion CDF: a legend entry per system, axis titles with units, the lower bound as a labelled rule', async () => {
    const { charts } = await render(report)
    const { texts } = parseSvg(byName(charts, 'completion-cdf').svg)
    expect(texts).toEqual(expect.arrayContaining([
      'dopt', 'aria2', 'system', 'time after release (s)', 'nodes done (% of nodes)', 'lower bound 5.49 s', '100%'
    ]))
    expect(texts.some(t => t.startsWith('thin lines: each repeat; thick: a system\'s repeats pooled'))).toBe(true)
    // The bound's rule: a dashed line the height of the plot (axis grid lines are role-axis-grid, not role-mark).
    expect(/class="mark-rule role-mark[^"]*"[^>]*><line [^>]*stroke-dasharray="6,4"/.test(byName(charts, 'completion-cdf').svg))
      .toBe(true)
  })

  it('bytes by source: one column per system on one shared byte scale', async () => {
    const { charts } = await render(report)
    const { texts } = parseSvg(byName(charts, 'bytes-by-source').svg)
    expect(texts).toEqual(expect.arrayContaining(['dopt', 'aria2', 'from origin', 'from peers', 'uploaded', 'node']))
    // A shared y scale is drawn as one y axis, on the left column only.
    expect(texts.filter(t => t === 'bytes (MiB)')).toHaveLength(1)
    expect(texts.filter(t => t === 'node')).toHaveLength(2)
  })

  it('origin egress: a line per run, the one-copy line labelled, the same time axis as the CDF', async () => {
    const { charts } = await render(report)
    const { texts } = parseSvg(byName(charts, 'origin-egress').svg)
    expect(texts).toEqual(expect.arrayContaining(['dopt', 'aria2', 'one copy (64 MiB)', 'origin bytes sent (MiB)']))
    expect(/class="mark-rule role-mark[^"]*"[^>]*><line [^>]*stroke-dasharray="6,4"/.test(byName(charts, 'origin-egress').svg))
      .toBe(true)
    const [cdf, , egress] = chartSpecs(report)
    const xDomain = (spec: unknown): unknown => (spec as { layer: Array<{ encoding: { x: { scale: unknown } } }> })
      .layer[0]?.encoding.x.scale
    expect(xDomain(egress!.spec)).toEqual(xDomain(cdf!.spec))
    expect(xDomain(cdf!.spec)).toEqual({ domain: [0, 20], nice: false })
  })

  it('gives the same bytes for the same report, and carries no run time', async () => {
    const first = await renderCharts(report)
    const second = await renderCharts(structuredClone(report))
    expect(second.map(c => c.svg)).toEqual(first.map(c => c.svg))
    for (const chart of first) expect(chart.svg).not.toContain(report.startedAt.slice(0, 10))
  })

  it('says so when nodes never finished, and draws a run where none did', async () => {
    const failed = structuredClone(report)
    for (const node of failed.runs[3]!.nodes) node.done = null
    failed.runs[3]!.lastDone = null
    failed.runs[1]!.nodes[0]!.done = null
    failed.runs[1]!.lastDone = null
    const { charts, warnings } = await render(failed)
    expect(warnings).toEqual([])
    const cdf = byName(charts, 'completion-cdf')
    expect(cdf.title).toBe('Completion time: nodes done after the release (some nodes never finished)')
    const { texts } = parseSvg(cdf.svg)
    expect(texts).toEqual(expect.arrayContaining([
      cdf.title, 'dopt #2: 1 of 12 nodes never finished', 'aria2 #2: 12 of 12 nodes never finished'
    ]))
    expect(byName(charts, 'bytes-by-source').title).toBe('Bytes by source per node (some nodes never finished)')
  })

  it('draws a report where nothing finished, runs without nodes or samples, and one without runs', async () => {
    const broken = sampleReport({ repeats: 1 })
    for (const run of broken.runs) {
      for (const node of run.nodes) node.done = null
      run.lastDone = null
    }
    broken.runs[1]!.nodes = []
    broken.runs[1]!.origin = { bytesSent: 0, requests: 0, egress: [] }
    const { charts, warnings } = await render(broken)
    expect(warnings).toEqual([])
    expect(charts.map(c => c.title)).toEqual([
      'Completion time: nodes done after the release (no node finished)',
      'Bytes by source per node (no node finished)',
      'Origin egress over time (some runs have no samples)'
    ])
    for (const chart of charts) parseSvg(chart.svg)
    expect(parseSvg(charts[0]!.svg).texts).toContain('aria2 #1: no nodes reported')
    expect(parseSvg(charts[2]!.svg).texts).toContain('aria2 #1: no egress samples')

    const empty = { ...sampleReport(), runs: [] }
    const none = await render(empty)
    expect(none.warnings).toEqual([])
    for (const chart of none.charts) {
      expect(chart.title).toMatch(/\(no runs\)$/)
      parseSvg(chart.svg)
    }
  })
})
