// Shared helpers for the benchmarks in this folder: plain ESM, Node built-ins only.
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, release, tmpdir, type as osType } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'

/** The repository root (this file lives in `<root>/benchmarks/`). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

export const MiB = 1024 * 1024
export const GiB = 1024 * MiB

/** Parses `64M`, `1G`, `1GiB`, `512MiB`, `1000000`, `1e9` into bytes. */
export function parseSize (text) {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(String(text))
  if (m == null) throw new Error(`not a size: "${text}" (try 64M, 1G or a byte count)`)
  const unit = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2].toLowerCase()]
  const bytes = Math.round(Number(m[1]) * unit)
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new Error(`size out of range: "${text}"`)
  return bytes
}

export function median (values) {
  const v = values.filter(x => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const mid = Math.floor(v.length / 2)
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

export function formatBytes (n) {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`
  return `${n} bytes`
}

/** SHA-256 of a file, hex. */
export async function sha256File (path) {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk)
  return hash.digest('hex')
}

/** What the report says about the machine. */
export function machineInfo () {
  const list = cpus()
  return {
    cores: list.length,
    cpuModel: (list[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    node: process.version,
    os: `${osType()} ${release()}`
  }
}

/** True when `cmd` can be run (`cmd --version` exits 0). */
export function commandExists (cmd) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore', timeout: 10_000 })
  return r.error == null && r.status === 0
}

/** `/usr/bin/time` if it is GNU time with `-f` and `-o` (CPU seconds of a child), else null. */
export function findGnuTime () {
  const path = '/usr/bin/time'
  if (!existsSync(path)) return null
  const r = spawnSync(path, ['-f', '%U %S', '-o', '/dev/null', 'true'], { stdio: 'ignore', timeout: 10_000 })
  return r.error == null && r.status === 0 ? path : null
}

/** Children still running, so a signal or an error can kill them all (by process group). */
const live = new Set()

function killGroup (child, signal = 'SIGKILL') {
  try { process.kill(-child.pid, signal) } catch { try { child.kill(signal) } catch { /* already gone */ } }
}

export function killAllChildren () {
  for (const child of live) killGroup(child)
  live.clear()
}

/**
 * Spawns `cmd args` in its own process group (so a timeout kills everything under it) and tracks it until it exits.
 * `options.stdio` as for `spawn`.
 */
export function spawnTracked (cmd, args, options = {}) {
  const child = spawn(cmd, args, { ...options, detached: true })
  live.add(child)
  child.once('exit', () => live.delete(child))
  child.once('error', () => live.delete(child))
  return child
}

/**
 * Runs a command to completion with a hard timeout, timing its wall clock with `process.hrtime` and, when `gnuTime`
 * is given, its CPU seconds (user + system, children included). Resolves with
 * `{ code, signal, seconds, cpu: {user, system} | null, stdout, stderr }`; rejects on timeout or spawn failure.
 */
export async function runTimed (cmd, args, { timeoutMs, gnuTime = null, cpuFile = null, cwd = REPO_ROOT, env = process.env } = {}) {
  const useTime = gnuTime != null && cpuFile != null
  const argv = useTime ? [gnuTime, '-f', '%U %S', '-o', cpuFile, cmd, ...args] : [cmd, ...args]
  const stdout = []
  const stderr = []
  const started = process.hrtime.bigint()
  const child = spawnTracked(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.on('data', b => stdout.push(b))
  child.stderr.on('data', b => stderr.push(b))
  const { code, signal, timedOut } = await new Promise((resolve, reject) => {
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; killGroup(child) }, timeoutMs)
    child.once('error', err => { clearTimeout(timer); reject(err) })
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, timedOut }) })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const out = Buffer.concat(stdout).toString('utf8')
  const err = Buffer.concat(stderr).toString('utf8')
  if (timedOut) throw new Error(`${cmd} timed out after ${timeoutMs / 1000} s\n${err.slice(-2000)}`)
  let cpu = null
  if (useTime) {
    try {
      // GNU time prints "Command exited with non-zero status N" first when the child fails; the figures are last.
      const last = (await readFile(cpuFile, 'utf8')).trim().split('\n').pop()
      const [user, system] = last.split(/\s+/).map(Number)
      if (Number.isFinite(user) && Number.isFinite(system)) cpu = { user, system }
    } catch { /* no figures: CPU stays unknown */ }
    await rm(cpuFile, { force: true })
  }
  return { code, signal, seconds, cpu, stdout: out, stderr: err }
}

/**
 * Writes `body` into `docPath` between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, replacing what was there and
 * leaving the rest of the file as it was; appends the section if the markers are missing; creates the file if needed.
 */
export async function writeSection (docPath, name, body) {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const section = `${begin}\n${body.trim()}\n${end}`
  let text = null
  try { text = await readFile(docPath, 'utf8') } catch (err) { if (err.code !== 'ENOENT') throw err }
  let next
  if (text == null) {
    next = `# Benchmarks\n\nEach section below is written by its benchmark script; do not edit between the markers.\n\n${section}\n`
  } else {
    const i = text.indexOf(begin)
    const j = i < 0 ? -1 : text.indexOf(end, i + begin.length)
    if (i >= 0 && j >= 0) next = text.slice(0, i) + section + text.slice(j + end.length)
    else next = `${text.replace(/\s*$/, '')}\n\n${section}\n`
  }
  await mkdir(dirname(docPath), { recursive: true })
  await writeFile(docPath, next)
}

/**
 * Starts benchmarks/origin/server.js for `file` (absolute) in its own process (`extraArgs`: `['--tls', KEY, CERT]`
 * for https); resolves with
 * `{ url, cpu(), close() }` once it has printed its URL. `cpu()` is the server's user + system seconds so far.
 */
export async function startOriginServer (file, timeoutMs = 30_000, extraArgs = []) {
  const { createInterface } = await import('node:readline')
  const child = spawnTracked(process.execPath, [join(REPO_ROOT, 'benchmarks/origin/server.js'), file, ...extraArgs], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const waiting = []
  const exited = new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal })))
  lines.on('line', line => {
    let msg
    try { msg = JSON.parse(line) } catch { return }
    waiting.shift()?.(msg)
  })
  const next = async (what) => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`origin server: no ${what} within ${timeoutMs / 1000} s`)), timeoutMs)
    waiting.push(msg => { clearTimeout(timer); resolve(msg) })
    void exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`origin server exited (${code ?? signal}) before its ${what}`)) })
  })
  let url
  try {
    ({ url } = await next('URL'))
    if (typeof url !== 'string' || !/^https?:\/\/127\.0\.0\.1:/.test(url)) throw new Error(`origin server: unexpected URL ${url}`)
  } catch (err) {
    killGroup(child)
    throw err
  }
  return {
    url,
    async cpu () {
      child.stdin.write('cpu\n')
      const { cpu } = await next('CPU figures')
      return (cpu.user + cpu.system) / 1e6
    },
    async close () {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin.end('quit\n')
      const timer = setTimeout(() => killGroup(child), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** User + system CPU seconds a live process has used so far (Linux /proc), or NaN. */
export async function procCpuSeconds (pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields after the command name start at field 3 (state): utime is field 14, stime 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return NaN
  }
}

let ticks = null
function clockTicks () {
  if (ticks == null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 })
    ticks = Number(r.stdout?.trim()) || 100
  }
  return ticks
}

/**
 * Runs a benchmark's `main`: SIGINT/SIGTERM kill its children (main's finally blocks then remove temp folders),
 * a second signal or 5 s later exits; an error is printed with `label` and exits 1. Exits 0 after success, so that
 * a lingering handle (a libp2p timer, a socket) cannot keep a finished benchmark alive.
 */
/**
 * The options every benchmark takes, plus its own (`extra`, in node:util parseArgs form): --size (default 1 GiB,
 * 64 MiB with --smoke), --rounds (3; 1 with --smoke), --warmup (1), --out (docs/benchmarks.md; a temp file with
 * --smoke), --timeout (seconds; default 60 s plus 2 MiB/s, so only a hang trips it), --smoke, --keep, --help.
 * Bad input prints `usage` and exits 2. Returns the common settings and `values`, the parsed options (extras too);
 * `usage(message)` is returned as well for checking the extras.
 */
export function benchOptions (name, usageLine, extra = {}) {
  const usage = (message) => {
    if (message) process.stderr.write(`${name} bench: ${message}\n`)
    process.stderr.write(`usage: ${usageLine}\n`)
    process.exit(2)
  }
  let values
  try {
    ({ values } = parseArgs({
      options: {
        size: { type: 'string' },
        rounds: { type: 'string' },
        warmup: { type: 'string', default: '1' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        smoke: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        ...extra
      }
    }))
  } catch (err) {
    usage(err.message)
  }
  if (values.help) usage()
  const size = values.size !== undefined ? parseSize(values.size) : values.smoke ? 64 * MiB : GiB
  const rounds = values.rounds !== undefined ? Number(values.rounds) : values.smoke ? 1 : 3
  if (!Number.isInteger(rounds) || rounds < 1) usage('--rounds must be a whole number >= 1')
  const warmup = Number(values.warmup)
  if (!Number.isInteger(warmup) || warmup < 0) usage('--warmup must be a whole number >= 0')
  const out = values.out !== undefined
    ? resolve(values.out)
    : values.smoke ? join(tmpdir(), `dopt-bench-${name}-smoke.md`) : join(REPO_ROOT, 'docs/benchmarks.md')
  const timeoutMs = values.timeout !== undefined ? Number(values.timeout) * 1000 : 60_000 + size / (2 * MiB) * 1000
  if (!(timeoutMs > 0)) usage('--timeout must be a positive number of seconds')
  return { size, rounds, warmup, out, timeoutMs, smoke: values.smoke, keep: values.keep, values, usage }
}

export async function runBenchmark (label, main) {
  let interrupted = false
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      if (interrupted) process.exit(130)
      interrupted = true
      process.stderr.write(`${label}: ${sig}; stopping\n`)
      killAllChildren()
      setTimeout(() => process.exit(130), 5000).unref()
    })
  }
  try {
    await main()
    process.exit(0)
  } catch (err) {
    killAllChildren()
    process.stderr.write(`${label}: ${err?.stack ?? err}\n`)
    process.exit(interrupted ? 130 : 1)
  }
}

/** Parses the JSON line a `dopt get --json` run printed last, and checks that its job completed. */
export function doptSummary (r, what) {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code ?? r.signal}\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`)
  const last = r.stdout.trim().split('\n').pop() ?? ''
  let summary
  try { summary = JSON.parse(last) } catch { throw new Error(`${what} printed no JSON summary: ${last.slice(0, 500)}`) }
  if (summary.state !== 'acknowledged') throw new Error(`${what} ended in ${summary.state}: ${JSON.stringify(summary.error)}`)
  return summary
}
