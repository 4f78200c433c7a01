import { resolve } from 'node:path'
import {
  assertNetnsAvailable, BASELINE_KINDS, CHECK_KINDS, MAX_LATENCY, MAX_LOSS, MAX_NODES, parseArrival, parseRate, parseScenario, parseSize, readScenario, renderCharts,
  runLab, systemsFor, writeReport, formatArrival
} from '@dopt/lab'
import type { Chart, LabProgress, Report, ResolvedScenario, Scenario } from '@dopt/lab'
import { AbortedError, DoptError } from '@dopt/node'
import { formatBytes } from './progress.js'
import { EXIT_JOB_ERROR, EXIT_OK, UsageError, parse } from './usage.js'

const MiB = 1024 * 1024

/** The reference scenario: what `dopt lab` runs with no options (docs/lab.md). */
export const REFERENCE: Scenario = {
  name: 'reference',
  nodes: 4,
  fileSize: 64 * MiB,
  originRate: 20 * MiB,
  uploadRate: 20 * MiB,
  arrival: { kind: 'together' },
  check: 'sha256'
}

export interface LabOptions {
  scenario: ResolvedScenario
  repeat: number
  out: string
  json: boolean
}

/** Reads `dopt lab` options: a scenario file (or the reference), with the options given laid over it. */
export async function parseLab (argv: string[]): Promise<LabOptions> {
  const { values, positionals } = parse({
    args: argv,
    allowPositionals: true,
    options: {
      scenario: { type: 'string' },
      nodes: { type: 'string' },
      size: { type: 'string' },
      'piece-size': { type: 'string' },
      'origin-rate': { type: 'string' },
      'upload-rate': { type: 'string' },
      'download-rate': { type: 'string' },
      check: { type: 'string' },
      arrival: { type: 'string' },
      baseline: { type: 'string' },
      name: { type: 'string' },
      timeout: { type: 'string' },
      repeat: { type: 'string' },
      out: { type: 'string' },
      netns: { type: 'boolean', default: false },
      latency: { type: 'string' },
      loss: { type: 'string' },
      json: { type: 'boolean', default: false }
    }
  })
  if (positionals.length > 0) throw new UsageError(`lab takes no arguments, got "${positionals[0]!}"`)
  // A bad value names the option it came from; a bad scenario file names its field.
  const option = <T>(name: string, read: () => T): T => {
    try {
      return read()
    } catch (err) {
      if (err instanceof DoptError) throw new UsageError(err.message)
      throw err
    }
  }
  const base: Scenario = values.scenario === undefined ? REFERENCE : await readScenario(values.scenario)
  const over: Partial<Scenario> = {}
  if (values.nodes !== undefined) over.nodes = option('--nodes', () => wholeNumber(values.nodes!, '--nodes', 1, MAX_NODES))
  if (values.size !== undefined) over.fileSize = option('--size', () => parseSize(values.size, '--size'))
  if (values['piece-size'] !== undefined) over.pieceSize = option('--piece-size', () => parseSize(values['piece-size'], '--piece-size'))
  if (values['origin-rate'] !== undefined) over.originRate = option('--origin-rate', () => parseRate(values['origin-rate'], '--origin-rate'))
  if (values['upload-rate'] !== undefined) over.uploadRate = option('--upload-rate', () => parseRate(values['upload-rate'], '--upload-rate'))
  if (values['download-rate'] !== undefined) over.downloadRate = option('--download-rate', () => parseRate(values['download-rate'], '--download-rate'))
  if (values.check !== undefined) {
    if (!CHECK_KINDS.includes(values.check as Scenario['check'])) throw new UsageError(`--check must be one of ${CHECK_KINDS.join(', ')}, not "${values.check}"`)
    over.check = values.check as Scenario['check']
  }
  if (values.arrival !== undefined) over.arrival = option('--arrival', () => parseArrival(values.arrival!))
  if (values.baseline !== undefined) {
    const list = values.baseline.split(',').map(s => s.trim()).filter(s => s !== '')
    const bad = list.find(b => !BASELINE_KINDS.includes(b as typeof BASELINE_KINDS[number]))
    if (bad !== undefined) throw new UsageError(`--baseline takes a comma-separated list of ${BASELINE_KINDS.join(', ')}, not "${bad}"`)
    over.baselines = list as Scenario['baselines']
  }
  if (values.name !== undefined) over.name = values.name
  if (values.timeout !== undefined) over.timeout = option('--timeout', () => positiveNumber(values.timeout!, '--timeout'))
  if (values.netns || values.latency !== undefined || values.loss !== undefined) {
    const given = base.network?.mode === 'netns' ? base.network : undefined
    if (!values.netns && given === undefined) throw new UsageError(`--${values.latency !== undefined ? 'latency' : 'loss'} needs --netns (on loopback nothing shapes the network)`)
    over.network = {
      mode: 'netns',
      latency: values.latency === undefined ? (given?.latency ?? 0) : boundedNumber(values.latency, '--latency', 'milliseconds', MAX_LATENCY),
      loss: values.loss === undefined ? (given?.loss ?? 0) : boundedNumber(values.loss, '--loss', 'percent', MAX_LOSS)
    }
  }
  const scenario = option('--scenario', () => parseScenario({ ...base, ...over }))
  systemsFor(scenario) // a baseline this build lacks: bad input, before anything starts
  // Namespaces this machine cannot make (not root, no ip/tc, no netem for latency/loss): NETNS_UNAVAILABLE, exit 2.
  if (scenario.network.mode === 'netns') await assertNetnsAvailable({ netem: (scenario.network.latency ?? 0) > 0 || (scenario.network.loss ?? 0) > 0 })
  const repeat = values.repeat === undefined ? 1 : wholeNumber(values.repeat, '--repeat', 1, 100)
  const out = resolve(values.out ?? `dopt-lab-${scenario.name}-${stamp(new Date())}`)
  return { scenario, repeat, out, json: values.json }
}

/** `dopt lab`: runs the scenario, writes the report, prints the headline figures. Exit 1 if a node never finished verified. */
export async function runLabCommand (opts: LabOptions): Promise<number> {
  const controller = new AbortController()
  const onSignal = (): void => { controller.abort() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const display = opts.json ? null : new LabDisplay(process.stderr)
  const sc = opts.scenario
  if (!opts.json) {
    process.stderr.write(`dopt lab: ${sc.name}: ${sc.nodes} nodes, ${formatBytes(sc.fileSize)}, origin ${rate(sc.originRate)}, uploads ${rate(sc.uploadRate)}, ` +
      `arrival ${formatArrival(sc.arrival)}, check ${sc.check}${opts.repeat > 1 ? `, ${opts.repeat} runs` : ''}${networkText(sc)}\n`)
  }
  let report: Report
  try {
    report = await runLab({ scenario: sc, repeat: opts.repeat, signal: controller.signal, onProgress: p => { display?.update(p) } })
  } catch (err) {
    display?.done()
    if (err instanceof AbortedError) {
      process.stderr.write(`dopt lab: interrupted; every node process was stopped${sc.network.mode === 'netns' ? ' and every network namespace removed' : ''}, no report written\n`)
      return 130
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  display?.done()
  let charts: Chart[] = []
  try {
    charts = await renderCharts(report)
  } catch (err) {
    // The figures matter more than their pictures: write the report without charts, and say why.
    process.stderr.write(`dopt lab: charts not drawn: ${(err as Error).message}\n`)
  }
  const written = await writeReport(opts.out, report, charts)
  const allVerified = report.runs.every(r => r.lastDone !== null)
  const headline = {
    report: written.json,
    markdown: written.markdown,
    charts: written.charts,
    scenario: sc.name,
    nodes: sc.nodes,
    fileSize: sc.fileSize,
    bound: report.bounds.lastDone,
    systems: report.summary.map(x => ({
      system: x.system,
      repeats: x.repeats,
      lastDone: x.lastDone.median,
      lastDoneOverBound: x.lastDoneOverBound.median,
      originCopies: x.originCopies.median,
      cpuSecondsPerGiBPerNode: x.cpuSecondsPerGiBPerNode.median
    })),
    allDone: allVerified
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(headline) + '\n')
  } else {
    const b = report.bounds
    process.stderr.write(`dopt lab: lower bound of the last completion ${b.lastDone.toFixed(2)} s ` +
      `(F/u_s ${b.terms.originUpload.toFixed(2)}, F/d_min ${b.terms.slowestDownload.toFixed(2)}, n·F/(u_s+Σu) ${b.terms.totalUpload.toFixed(2)}); one copy ${formatBytes(b.oneCopyBytes)}\n`)
    for (const x of headline.systems) {
      process.stderr.write(`dopt lab: ${x.system}: last done ${fixed(x.lastDone)} s (${fixed(x.lastDoneOverBound)} × the bound), ` +
        `origin copies ${fixed(x.originCopies)}, ${fixed(x.cpuSecondsPerGiBPerNode)} CPU-s per GiB per node${x.repeats > 1 ? ` (medians of ${x.repeats})` : ''}\n`)
    }
    if (!allVerified) process.stderr.write('dopt lab: some node never finished with a verified file (see the report)\n')
    process.stderr.write(`dopt lab: report in ${written.markdown} and ${written.json}\n`)
  }
  return allVerified ? EXIT_OK : EXIT_JOB_ERROR
}

/** One line on a terminal: nodes done, origin egress so far, elapsed. Nothing when stderr is not a terminal. */
class LabDisplay {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  #drawn = false

  constructor (stream: NodeJS.WriteStream) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
  }

  update (p: LabProgress): void {
    if (!this.#enabled) return
    const run = p.repeats > 1 ? ` ${p.repeat}/${p.repeats}` : ''
    const when = p.elapsed === null ? 'starting nodes' : `${p.elapsed.toFixed(1)} s`
    const line = `[${p.system}${run}] ${p.settled}/${p.nodes} nodes done · origin ${formatBytes(p.originBytes)} (${(p.originBytes / p.fileSize).toFixed(2)} copies) · ${when}`
    this.#stream.write(`\r${line}\x1b[K`)
    this.#drawn = true
  }

  done (): void {
    if (this.#drawn) this.#stream.write('\n')
    this.#drawn = false
  }
}

/** ", in network namespaces (tc shapes the rates), latency 20 ms, loss 1 %", or nothing on loopback. */
function networkText (sc: ResolvedScenario): string {
  const net = sc.network
  if (net.mode !== 'netns') return ''
  return `, in network namespaces (tc shapes the rates)${(net.latency ?? 0) > 0 ? `, latency ${net.latency!} ms` : ''}${(net.loss ?? 0) > 0 ? `, loss ${net.loss!} %` : ''}`
}

const fixed = (x: number | null): string => x === null ? 'never' : x.toFixed(2)
const rate = (r: number): string => r > 0 ? `${formatBytes(r)}/s` : 'no limit'

function wholeNumber (text: string, name: string, min: number, max: number): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not "${text}"`)
  return n
}

function boundedNumber (text: string, name: string, unit: string, max: number): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`${name} must be a number of ${unit} from 0 to ${max}, not "${text}"`)
  return n
}

function positiveNumber (text: string, name: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a number of seconds > 0, not "${text}"`)
  return n
}

/** 20261203-143005 */
function stamp (d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0')
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`
}
