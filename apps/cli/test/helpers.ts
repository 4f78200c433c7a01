import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, randomBytesSeeded, startOrigin } from '@dopt/lab'
export { waitUntil } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

/** The built command, as users run it: the committed bin/dopt.js, which runs the bundle `npm run build` makes. */
export const BIN = fileURLToPath(new URL('../bin/dopt.js', import.meta.url))

export interface RunResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** True when the helper had to kill the child because it ran past its timeout. */
  timedOut: boolean
}

/** A running `dopt` child: its output so far and a promise of its end. */
export interface Running {
  child: ChildProcess
  readonly stdout: string
  readonly stderr: string
  done: Promise<RunResult>
}

/**
 * Starts `node bin/dopt.js ...args`. The child is SIGKILLed if it is still running after `timeoutMs`, so a hung
 * command fails its test instead of the whole suite.
 */
export interface RunOptions {
  /** Kill the child after this long. @default 30000 */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
}

/** The network guard of the test processes (test/setup/loopback-only.mjs), loaded into every child too. */
const GUARD = fileURLToPath(new URL('../../../test/setup/loopback-only.mjs', import.meta.url))
/** Commands that start a node: their mDNS is kept on the loopback interface, so tests send nothing off the machine. */
const NODE_COMMANDS = new Set(['get', 'daemon'])

export function start (args: string[], { timeoutMs = 30_000, env, cwd }: RunOptions = {}): Running {
  const local = NODE_COMMANDS.has(args[0] ?? '') && !args.includes('--mdns-interface') && !args.includes('--no-mdns') ? ['--mdns-interface', '127.0.0.1'] : []
  const child = spawn(process.execPath, [BIN, ...args.slice(0, 1), ...local, ...args.slice(1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${GUARD}`.trim(), ...env }
  })
  let stdout = ''
  let stderr = ''
  let timedOut = false
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once('error', err => {
      clearTimeout(timer)
      reject(err)
    })
    // 'close' rather than 'exit': the pipes are drained by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      // The child's network guard refused something that would have left the machine: that is a failure.
      if (stderr.includes('OFF-MACHINE')) reject(new Error(`dopt ${args.join(' ')} tried to reach beyond 127.0.0.0/8:\n${stderr}`))
      else resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
  return {
    child,
    get stdout () { return stdout },
    get stderr () { return stderr },
    done
  }
}

/** Runs `dopt ...args` to its end. */
export async function run (args: string[], options?: RunOptions): Promise<RunResult> {
  return await start(args, options).done
}

/** What `dopt get --json` prints (CONTRACT.md); a usage error prints only `error`. */
export interface GetJson {
  jobId: string
  state: string
  bytesTotal: number
  bytesTransferred: number
  bytesFromPeers: number
  bytesFromOrigin: number
  files: Array<{ remoteName: string, localName: string, bytesTotal: number, bytesFromPeers: number, bytesFromOrigin: number }>
  error: { code: string, context?: string, message: string, httpStatus?: number, path?: string } | null
}

/** The single JSON line a `--json` command prints on stdout; fails unless there is exactly one. */
export function jsonLine (result: RunResult): GetJson {
  const lines = result.stdout.split('\n').filter(l => l.trim() !== '')
  if (lines.length !== 1) {
    throw new Error(`expected exactly one line on stdout, got ${lines.length}:\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
  return JSON.parse(lines[0]!) as GetJson
}

/** Serves `size` seeded random bytes at `/name` of the box's origin; returns them, their URL and an output path. */
export function servePayload (box: Sandbox, name: string, size: number, seed: number): { data: Uint8Array, url: string, out: string } {
  const data = randomBytesSeeded(size, seed)
  box.origin.setFile(`/${name}`, { data })
  return { data, url: box.origin.url(`/${name}`), out: join(box.dir, name) }
}

/** A fresh temporary folder and a local origin; `cleanup()` closes and removes both. */
export interface Sandbox {
  dir: string
  dataDir: string
  origin: Origin
  cleanup(): Promise<void>
}

export async function sandbox (): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'dopt-cli-test-'))
  const origin = await startOrigin()
  return {
    dir,
    dataDir: join(dir, 'data'),
    origin,
    async cleanup () {
      await origin.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export function sha256Hex (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** dopt's temporary files (`.NAME.ID-N.dopt-tmp`) in a folder. */
export async function temporaryFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(name => name.endsWith('.dopt-tmp'))
}

export async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}

/** True when a stack trace (`    at fn (file:line:col)`) is in the text. */
export function hasStackTrace (text: string): boolean {
  return /^\s+at /m.test(text)
}

/** http://127.0.0.1:PORT/ of a port that was just free: connecting to it is refused. */
export async function closedPortUrl (path = '/x.bin'): Promise<string> {
  return `http://127.0.0.1:${await freePort()}${path}`
}
