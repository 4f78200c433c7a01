/**
 * The fleet lab's charts as SVG, rendered in Node without a browser.
 *
 * Library: Vega-Lite specs compiled to Vega and rendered by Vega's headless `View#toSVG()` (vega 6.4, vega-lite
 * 6.4.x). Both are pure JavaScript ES modules (no node-canvas: without it Vega estimates text widths), run on Node 20
 * (vega-lite 6.4.3 declares node >= 20; 6.5 wants 22, hence the `~` range; its yargs, used only by its command-line
 * tools, asks for 20.19), and give the same bytes for the same spec, with no generated ids. Facets with one shared scale, stacked bars and rules are one line of spec each. ECharts'
 * SSR renderer was the lighter install (3 packages against ~75) but numbers its class names and clip ids from a
 * counter per process, so a second render of the same report differed; Observable Plot needs a DOM such as jsdom.
 *
 * Vega is imported when the first chart is rendered, not when the lab is: the CLI bundle keeps it in a chunk of its
 * own that only a command drawing charts loads.
 */
import { chartSpecs } from './chart-specs.js'
import type { Report } from './fleet-types.js'

export interface Chart {
  /** File stem: `completion-cdf`, `bytes-by-source`, `origin-egress`. */
  name: string
  /** The chart's title as drawn, notes included (e.g. that some nodes never finished). */
  title: string
  /** A standalone SVG document. */
  svg: string
}

export interface RenderChartsInit {
  /** Called with each warning Vega-Lite or Vega gives while compiling or rendering (a spec it had to correct). */
  onWarning?: (message: string) => void
}

/** Renders the report's charts, in a fixed order; the same report gives the same SVG bytes. */
export async function renderCharts (report: Report, init: RenderChartsInit = {}): Promise<Chart[]> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')])
  const logger = vega.logger(vega.Warn, undefined, (_method, _level, args) => {
    init.onWarning?.(args.map(String).join(' '))
  })
  const charts: Chart[] = []
  for (const { name, title, spec } of chartSpecs(report)) {
    const compiled = vegaLite.compile(spec, { logger }).spec
    const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger })
    try {
      charts.push({ name, title, svg: await view.toSVG() })
    } finally {
      view.finalize()
    }
  }
  return charts
}
