// Writes the lab's charts as SVG (and PNG where rsvg-convert is installed: Debian's librsvg2-bin) to look at them.
//
//   node packages/lab/scripts/render-sample-charts.mjs [report.json] [out-dir]
//
// Without a report it draws the synthetic sample (src/sample-report.ts); out-dir defaults to a new temporary folder.
// Needs `npm run build` first: it runs the compiled dist/.
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderCharts } from '../dist/charts.js'
import { sampleReport } from '../dist/sample-report.js'

const [reportPath, outArg] = process.argv.slice(2)
const report = reportPath !== undefined && reportPath !== '-'
  ? JSON.parse(await readFile(reportPath, 'utf8'))
  : sampleReport()
const out = outArg ?? await mkdtemp(join(tmpdir(), 'dopt-charts-'))
await mkdir(out, { recursive: true })

const charts = await renderCharts(report, { onWarning: message => process.stderr.write(`warning: ${message}\n`) })
for (const chart of charts) {
  const svg = join(out, `${chart.name}.svg`)
  await writeFile(svg, chart.svg)
  let png = ''
  try {
    execFileSync('rsvg-convert', ['--background-color=white', '-o', join(out, `${chart.name}.png`), svg])
    png = ` (+ ${chart.name}.png)`
  } catch {
    // No rsvg-convert: the SVG alone.
  }
  process.stdout.write(`${svg}${png}: ${chart.title}\n`)
}
