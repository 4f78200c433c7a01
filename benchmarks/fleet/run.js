// Fleet benchmark: the recorded lab scenarios in this folder (benchmarks/fleet/*.json), each run by the lab
// (packages/lab: dopt nodes as separate processes on 127.0.0.1, mDNS off, a local origin with a total egress cap,
// every node released at one instant), with the baselines this build has beside dopt. How much origin egress the
// peers save, and how close the last completion comes to its lower bound (docs/lab.md).
//
//   npm run build
//   node benchmarks/fleet/run.js [--scenarios reference-n4,large-n8] [--repeat K] [--baseline aria2,aria2-random]
//                                [--out docs/benchmarks.md] [--reports docs/fleet] [--smoke] [--keep]
//
// Each scenario's report (report.json, report.md and its charts) goes to --reports/<name>/; the summary table goes
// into --out between <!-- fleet:begin --> and <!-- fleet:end -->. --baseline defaults to every baseline the lab
// can run (packages/lab/src/baselines.ts; "none": dopt alone), and a recording refuses to run when aria2c cannot.
// --smoke: one small built-in scenario (3 nodes, 8 MiB), written to temp files, failing unless every node finished
// with a verified file, so the lab cannot rot in CI (without aria2c it runs dopt alone and says so).
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { REPO_ROOT, formatBytes, machineInfo, runBenchmark, writeSection } from '../lib.js'

const SECTION = 'fleet'
const HERE = join(REPO_ROOT, 'benchmarks/fleet')
const LAB = join(REPO_ROOT, 'packages/lab/dist/index.js')
const USAGE = 'node benchmarks/fleet/run.js [--scenarios LIST] [--repeat K] [--baseline LIST] [--out FILE] [--reports DIR] [--smoke] [--keep]'
const SMOKE = {
  name: 'smoke', description: 'CI smoke run: 3 nodes, 8 MiB, origin 20 MiB/s, uploads 20 MiB/s, together, sha256.',
  nodes: 3, fileSize: '8MiB', originRate: '20MiB/s', uploadRate: '20MiB/s', arrival: 'together', check: 'sha256', timeout: 60
}

function options () {
  const usage = (message) => {
    if (message) process.stderr.write(`fleet bench: ${message}\n`)
    process.stderr.write(`usage: ${USAGE}\n`)
    process.exit(2)
  }
  let values
  try {
    ({ values } = parseArgs({
      options: {
        scenarios: { type: 'string' },
        repeat: { type: 'string', default: '1' },
        baseline: { type: 'string' },
        out: { type: 'string' },
        reports: { type: 'string' },
        smoke: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (err) {
    usage(err.message)
  }
  if (values.help) usage()
  const repeat = Number(values.repeat)
  if (!Number.isInteger(repeat) || repeat < 1) usage('--repeat must be a whole number >= 1')
  return { ...values, repeat, usage }
}

async function scenarioFiles (names, usage) {
  const all = (await readdir(HERE)).filter(f => f.endsWith('.json')).sort(byNodes)
  if (names === undefined) return all.map(f => join(HERE, f))
  const wanted = names.split(',').map(s => s.trim()).filter(Boolean)
  const missing = wanted.filter(n => !all.includes(`${n}.json`))
  if (missing.length > 0) usage(`no scenario ${missing.join(', ')} in benchmarks/fleet (there are: ${all.map(f => basename(f, '.json')).join(', ')})`)
  return wanted.map(n => join(HERE, `${n}.json`))
}

/** reference-n4 before reference-n16: names with their numbers in order. */
function byNodes (a, b) {
  return a.localeCompare(b, 'en', { numeric: true })
}

async function main () {
  const opts = options()
  let lab
  try {
    lab = await import(LAB)
  } catch (err) {
    throw new Error(`cannot load packages/lab/dist (run "npm run build" first): ${err.message}`)
  }
  const log = m => process.stderr.write(`${m}\n`)
  const temp = opts.smoke ? await mkdtemp(join(tmpdir(), 'dopt-bench-fleet-smoke-')) : null
  const out = opts.out !== undefined ? resolve(opts.out) : opts.smoke ? join(temp, 'benchmarks.md') : join(REPO_ROOT, 'docs/benchmarks.md')
  const reportsDir = opts.reports !== undefined ? resolve(opts.reports) : opts.smoke ? join(temp, 'fleet') : join(REPO_ROOT, 'docs/fleet')
  const available = Object.keys(lab.BASELINES)
  const baselines = opts.baseline === undefined ? available : opts.baseline.split(',').map(s => s.trim()).filter(s => s !== '' && s !== 'none')
  const missing = baselines.filter(b => !available.includes(b))
  if (missing.length > 0) opts.usage(`baseline ${missing.join(', ')} is not available in this build (available: ${available.join(', ') || 'none yet'})`)
  // The comparison is the point of a recording: without aria2 it would silently be dopt alone (it was, once, on a
  // fresh machine). A smoke run goes on without it and says so.
  let aria2Skipped = false
  if (baselines.some(b => b.startsWith('aria2'))) {
    const aria2 = await lab.aria2Available()
    if (!aria2.ok && !opts.smoke) {
      opts.usage(`${aria2.reason}: the aria2 baselines cannot run. Install Debian's aria2 (scripts/ensure-aria2), or run dopt alone with --baseline none`)
    }
    if (!aria2.ok) log(`fleet bench: aria2 baselines skipped: ${aria2.reason}`)
    aria2Skipped = !aria2.ok
  }

  const scenarios = opts.smoke
    ? [{ file: '(built in)', scenario: lab.parseScenario({ ...SMOKE, baselines }) }]
    : await Promise.all((await scenarioFiles(opts.scenarios, opts.usage)).map(async file => {
      const scenario = await lab.readScenario(file)
      // A scenario file may name its own baselines (large-n8: stock aria2 would send ~8 GiB at 20 MiB/s, 7 minutes a
      // run, to show what the 64 MiB runs show); --baseline wins over it.
      const named = JSON.parse(await readFile(file, 'utf8')).baselines // the file's own, not the parsed default []
      const own = opts.baseline === undefined && Array.isArray(named) ? scenario.baselines.filter(b => available.includes(b)) : null
      return { file: relative(REPO_ROOT, file), scenario: lab.parseScenario({ ...scenario, baselines: own ?? baselines }) }
    }))
  log(`fleet bench: ${scenarios.length} scenario(s), ${opts.repeat} run(s) each, systems: dopt${baselines.filter(b => !(aria2Skipped && b.startsWith('aria2'))).map(b => `, ${b}`).join('')}`)

  const rows = []
  let unfinished = 0
  try {
    for (const { file, scenario } of scenarios) {
      const started = Date.now()
      log(`fleet bench: ${scenario.name}: ${scenario.nodes} nodes, ${formatBytes(scenario.fileSize)}, arrival ${lab.formatArrival(scenario.arrival)}, check ${scenario.check}`)
      let last = 0
      const report = await lab.runLab({
        scenario,
        repeat: opts.repeat,
        keep: opts.keep,
        onProgress: p => {
          if (Date.now() - last < 5000) return
          last = Date.now()
          log(`  [${p.system} ${p.repeat}/${p.repeats}] ${p.settled}/${p.nodes} done, origin ${lab.formatBytes(p.originBytes)}, ${p.elapsed === null ? 'starting' : `${p.elapsed.toFixed(0)} s`}`)
        }
      })
      const charts = await lab.renderCharts(report)
      const written = await lab.writeReport(join(reportsDir, scenario.name), report, charts)
      for (const s of report.summary) {
        log(`  ${s.system}: last done ${fmt(s.lastDone.median)} s (${fmt(s.lastDoneOverBound.median)} × bound ${fmt(report.bounds.lastDone)} s), origin copies ${fmt(s.originCopies.median)}, ${fmt(s.cpuSecondsPerGiBPerNode.median)} CPU-s/GiB/node`)
      }
      unfinished += report.runs.flatMap(r => r.nodes.filter(n => !n.verified && n.seed !== true && !left(scenario, n.index))).length
      rows.push({ file, scenario, report, written, seconds: (Date.now() - started) / 1000 })
    }
    await writeSection(out, SECTION, section(rows, opts, out, lab))
    log(`fleet bench: written to ${out}; reports in ${reportsDir}`)
  } finally {
    if (temp !== null && !opts.keep) await rm(temp, { recursive: true, force: true })
  }
  if (unfinished > 0) {
    const message = `${unfinished} node(s) did not finish with a verified file (see the reports)`
    if (opts.smoke) throw new Error(message)
    log(`fleet bench: ${message}`)
  }
}

function left (scenario, index) {
  return scenario.churn.some(e => e.node === index && e.action === 'leave')
}

const fmt = (x, d = 2) => x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d)

function section (rows, opts, out, lab) {
  const m = machineInfo()
  const systems = [...new Set(rows.flatMap(r => r.scenario.baselines))]
  const link = (path) => relative(join(out, '..'), path)
  const table = rows.flatMap(({ scenario, report, written }) => report.summary.map(s => {
    const runs = report.runs.filter(r => r.system === s.system)
    const verified = runs.every(r => r.lastDone !== null) ? 'yes' : 'no'
    return `| [${scenario.name}](${link(written.markdown)}) | ${scenario.nodes} | ${formatBytes(scenario.fileSize)} | ${lab.formatArrival(scenario.arrival)} | ${scenario.check} | ${s.system} | ${fmt(s.lastDone.median)} | ${fmt(report.bounds.lastDone)} | **${fmt(s.lastDoneOverBound.median)}** | **${fmt(s.originCopies.median)}** | ${fmt(s.cpuSecondsPerGiBPerNode.median)} | ${verified} |`
  }))
  const reference = rows.filter(r => r.scenario.name.startsWith('reference-'))
  const shown = reference.at(-1) ?? rows[0]
  const charts = shown === undefined ? [] : shown.written.charts.map(path => `![${basename(path, '.svg')} of ${shown.scenario.name}](${link(path)})`)
  return `## Fleet: origin egress saved by peers (\`dopt lab\`)

Written by \`node benchmarks/fleet/run.js${opts.smoke ? ' --smoke' : ''}\` on ${new Date().toISOString()}.

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}; dopt at ${rows[0]?.report.dopt.commit.slice(0, 12) ?? '?'}${rows[0]?.report.dopt.dirty ? ' (with uncommitted changes)' : ''}
- Scenarios: ${opts.smoke ? 'a built-in smoke scenario' : '`benchmarks/fleet/*.json`'}; ${opts.repeat} run(s) of each system; systems: dopt${systems.map(b => `, ${b}`).join('')} (a scenario file may name fewer: its rows show which ran)${systems.length === 0 ? ' (no baseline in this build yet: the aria2 runner is integrated through packages/lab/src/baselines.ts)' : ''}.
- Each dopt node is its own process with its own data folder, on 127.0.0.1, all nodes static peers of each other, mDNS off; all start their process first and are released at one instant. The origin's egress cap is one token bucket over all its responses. Every output is checked against the payload's SHA-256.
- **last done ÷ bound**: the last node's completion (seconds after the release) over the Kumar & Ross lower bound for the scenario; **origin copies**: bytes the origin sent ÷ the file size (1.00 is the least possible). Medians over the runs. See [lab.md](lab.md) for every figure.

| scenario | N | file | arrival | check | system | last done s | bound s | last done ÷ bound | origin copies | CPU-s/GiB/node | all verified |
|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|---|
${table.join('\n')}

${charts.join('\n\n')}

Each scenario's report (every node's start, done, bytes by source, uploads, CPU and memory; origin egress over time)
is linked from its name. How to read the rows: origin copies near N means every node fetched the whole file from the
origin, and last done ÷ bound near N at the reference (where the bound is one copy at the origin's rate) follows
from it; a run whose time exceeds what its origin copies explain (copies × F ÷ origin rate) lost time elsewhere (the
origin idle while nodes looked for peers, or CPU: N processes on ${m.cores} cores). CPU-s/GiB/node counts each node's
process from its download's start to the end of the run, so waiting and serving peers are in it. Its sum over the
nodes ÷ ${m.cores} cores is a floor of its own on the last completion: when it comes near the time measured, the run
was CPU-bound (N processes on ${m.cores} cores), not bound by the rates the bound counts. The machines are shared and
noisy: compare systems within a row's scenario, run by run.`
}

await runBenchmark('fleet bench', main)
