import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidArgumentError } from '@dopt/interface'
import type { Chart } from './charts.js'
import type { Report, SystemRun } from './fleet-types.js'
import { NETNS_SUBNET } from './netns-plan.js'
import { formatArrival } from './scenario.js'
import { cpuSecondsPerGiBPerNode, overBound } from './summary.js'
import { formatBytes } from './units.js'

export interface WrittenReport {
  json: string
  markdown: string
  charts: string[]
}

/** Writes `DIR/report.json`, `DIR/<chart>.svg` for each chart, and `DIR/report.md` (which embeds the charts). */
export async function writeReport (dir: string, report: Report, charts: Chart[] = []): Promise<WrittenReport> {
  for (const chart of charts) {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(chart.name) || chart.name.startsWith('.') || chart.name === 'report') {
      throw new InvalidArgumentError(`a chart's name must be a plain file name (letters, digits, '.', '_', '-'), not ${JSON.stringify(chart.name)}`)
    }
  }
  await mkdir(dir, { recursive: true })
  const json = join(dir, 'report.json')
  await writeFile(json, JSON.stringify(report, null, 2) + '\n')
  const written: string[] = []
  for (const chart of charts) {
    const path = join(dir, `${chart.name}.svg`)
    await writeFile(path, chart.svg)
    written.push(path)
  }
  const markdown = join(dir, 'report.md')
  await writeFile(markdown, renderMarkdown(report, charts))
  return { json, markdown, charts: written }
}

const s = (x: number | null, digits = 2): string => x === null || !Number.isFinite(x) ? '—' : x.toFixed(digits)
const rate = (r: number): string => r > 0 ? `${formatBytes(r)}/s` : 'no limit'
const mib = (b: number): string => (b / 1024 ** 2).toFixed(1)

/** report.md: the scenario, the bounds, the summary per system, the charts, then every run's nodes. */
export function renderMarkdown (report: Report, charts: Chart[] = []): string {
  const sc = report.scenario
  const b = report.bounds
  const t = b.terms
  const lines: string[] = []
  lines.push(`# dopt lab: ${sc.name}`, '')
  if (sc.description !== undefined) lines.push(sc.description, '')
  lines.push(
    `- Started ${report.startedAt}; dopt ${report.dopt.versions.dopt ?? ''} at ${report.dopt.commit.slice(0, 12)}${report.dopt.dirty ? ' (with uncommitted changes)' : ''}; Node ${report.machine.node}`,
    `- Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${formatBytes(report.machine.memoryBytes)}; ${report.machine.os}`,
    `- Scenario: ${sc.nodes} nodes, ${formatBytes(sc.fileSize)} file in ${formatBytes(sc.pieceSize ?? 1 << 20)} pieces; origin egress ${rate(sc.originRate)} in total; uploads ${rate(sc.uploadRate)} per node; downloads ${rate(sc.downloadRate ?? 0)} per node`,
    `- Arrival ${formatArrival(sc.arrival)}; check ${sc.check}; mode ${sc.mode ?? 'lan'}; churn ${(sc.churn ?? []).length === 0 ? 'none' : (sc.churn ?? []).map(e => `node ${e.node} ${e.action} at ${e.at} s${e.action === 'kill-restart' ? ` (back after ${e.restartAfter ?? 1} s)` : ''}`).join(', ')}`,
    `- dopt settings from the scenario: ${Object.keys(sc.dopt ?? {}).length === 0 ? 'none (defaults)' : `\`${JSON.stringify(sc.dopt)}\``}`,
    `- ${networkLine(report)}; mDNS off; times in seconds after the release instant.`,
    '',
    '## Bounds',
    '',
    `- **Lower bound of the last completion: ${s(b.lastDone)} s** = max(F/u_s ${s(t.originUpload)}, F/d_min ${s(t.slowestDownload)}, n·F/(u_s + Σu_i) ${s(t.totalUpload)}${t.lastArrival === undefined ? '' : `, last arrival + F/d_min ${s(t.lastArrival)}`}) (Kumar & Ross; docs/lab.md)`,
    `- **The origin sends at least one copy**: ${formatBytes(b.oneCopyBytes)} (origin copies ≥ 1)`,
    '',
    '## Summary',
    '',
    '| system | runs | last done s (median) | min – max | last done ÷ bound | origin copies (median) | min – max | CPU-s per GiB per node |',
    '|---|---:|---:|---:|---:|---:|---:|---:|'
  )
  for (const x of report.summary) {
    lines.push(`| ${x.system} | ${x.repeats} | ${s(x.lastDone.median)} | ${s(x.lastDone.min)} – ${s(x.lastDone.max)} | ${s(x.lastDoneOverBound.median)} | ${s(x.originCopies.median)} | ${s(x.originCopies.min)} – ${s(x.originCopies.max)} | ${s(x.cpuSecondsPerGiBPerNode.median)} |`)
  }
  lines.push('', '"—": some node never finished (a run that never finished counts as the slowest).', '')
  for (const skip of report.skipped ?? []) lines.push(`**${skip.system} did not run here:** ${skip.reason}. dopt ran alone.`, '')
  if (charts.length > 0) {
    lines.push('## Charts', '')
    for (const chart of charts) lines.push(`![${chart.title.replaceAll(']', '\\]')}](${chart.name}.svg)`, '')
  }
  const counts = new Map<string, number>()
  for (const run of report.runs) {
    const k = (counts.get(run.system) ?? 0) + 1
    counts.set(run.system, k)
    lines.push(...runSection(run, k, report))
  }
  return lines.join('\n') + '\n'
}

/** Where the processes ran and what applied the rates (Report.limits). */
function networkLine (report: Report): string {
  const net = report.scenario.network ?? { mode: 'loopback' }
  if (net.mode === 'loopback') return 'Network: loopback, every process on 127.0.0.1; the rates are the applications\' own limits (dopt\'s uploadRate and foregroundDownloadRate, the origin\'s token bucket)'
  return `Network: netns, each node in a network namespace of its own on a bridge, the origin in one too (${NETNS_SUBNET}); ` +
    `the rates are shaped by tc (tbf: origin egress, each node's upload and download), dopt's own limits and the origin's token bucket off; ` +
    `latency ${net.latency ?? 0} ms one way, loss ${net.loss ?? 0} % (netem)`
}

function runSection (run: SystemRun, k: number, report: Report): string[] {
  const lines = [
    `## ${run.system}, run ${k}`,
    '',
    `Last done **${s(run.lastDone)} s** (${s(overBound(run.lastDone, report.bounds))} × the bound); the origin sent ${formatBytes(run.origin.bytesSent)} in ${run.origin.requests} requests: **${s(run.originCopies)} copies**; ${s(cpuSecondsPerGiBPerNode(run, report.scenario))} CPU-s per GiB per node.${run.releasedAt === undefined ? '' : ` Released at ${run.releasedAt}.`}`,
    '',
    '| node | start s | done s | from origin MiB | from peers MiB | uploaded MiB | CPU s | peak RSS MiB | verified | note |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---|---|'
  ]
  for (const n of run.nodes) {
    const note = [n.seed === true ? 'seed (before the release)' : '', n.restarts !== undefined ? `restarted ${n.restarts}×` : '', n.error ?? '']
      .filter(x => x !== '').join('; ').replaceAll('|', '\\|').replaceAll('\n', ' ')
    lines.push(`| ${n.index} | ${s(n.start)} | ${s(n.done)} | ${mib(n.bytesFromOrigin)} | ${mib(n.bytesFromPeers)} | ${mib(n.bytesUploaded)} | ${s(n.cpuSeconds)} | ${mib(n.peakRss)} | ${n.verified ? 'yes' : 'no'} | ${note} |`)
  }
  lines.push('')
  return lines
}
