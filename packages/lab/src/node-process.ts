import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LabRunError } from './errors.js'
import type { FromNode, ToNode } from './node-messages.js'

/** Bytes of a child's stderr kept for error messages. */
const STDERR_TAIL = 4096

/** Every child the lab started that has not exited yet, so that an exit of the lab kills them all. */
const live = new Set<ChildProcess>()
let exitHook = false

function killGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try { child.kill(signal) } catch { /* gone already */ }
  }
}

/** SIGKILLs every lab child still running (their process groups). Called on the lab's exit, and by hand on abort. */
export function killAllNodes (): void {
  for (const child of live) killGroup(child, 'SIGKILL')
  live.clear()
}

/**
 * A runner entry of the lab's child processes, `lab-node.js` (a node) or `netns-listener.js` (netns.ts): beside this
 * module (in packages/lab/dist, or in the CLI's bundle, where apps/cli/scripts/bundle.js puts both), else
 * packages/lab/dist when running from sources (tests).
 */
export function runnerPath (file: 'lab-node.js' | 'netns-listener.js' = 'lab-node.js'): string {
  const candidates = [new URL(`./${file}`, import.meta.url), new URL(`../dist/${file}`, import.meta.url)]
  for (const url of candidates) {
    const path = fileURLToPath(url)
    if (existsSync(path)) return path
  }
  throw new LabRunError(`cannot find the lab's runner ${file} beside ${fileURLToPath(import.meta.url)}; run "npm run build" first`)
}

/**
 * One dopt node process: spawned in its own process group with an IPC channel, killed with its group. `onMessage`
 * hears everything it sends. With `netns` it runs in that network namespace: `ip netns exec NS node lab-node.js`
 * (ip execs node in place, so the child's pid and group are node's, and the IPC channel's descriptor carries over).
 */
export class NodeProcess {
  readonly child: ChildProcess
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  #stderr = ''

  constructor (runner: string, onMessage: (msg: FromNode) => void, options: { netns?: string } = {}) {
    if (!exitHook) {
      exitHook = true
      process.once('exit', killAllNodes)
    }
    // DOPT_LAB_NODE_FLAGS: Node flags for every node process, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile a fleet.
    const flags = (process.env.DOPT_LAB_NODE_FLAGS ?? '').split(' ').filter(f => f !== '')
    const [command, args] = options.netns === undefined
      ? [process.execPath, [...flags, runner]]
      : ['ip', ['netns', 'exec', options.netns, process.execPath, ...flags, runner]]
    this.child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true })
    live.add(this.child)
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-STDERR_TAIL)
    })
    this.child.on('message', (msg: FromNode) => { onMessage(msg) })
    this.exited = new Promise(resolve => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        live.delete(this.child)
        resolve({ code, signal })
      }
      // 'close', not 'exit': by then every message it sent has been read.
      this.child.once('close', done)
      this.child.once('error', () => { done(null, null) })
    })
  }

  get running (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && live.has(this.child)
  }

  /** The end of what it wrote to stderr. */
  get stderr (): string {
    return this.#stderr
  }

  send (msg: ToNode): void {
    if (this.child.connected) this.child.send(msg)
  }

  /** SIGTERM to its group: the node stops cleanly, sends its last figures and exits. */
  terminate (): void {
    killGroup(this.child, 'SIGTERM')
  }

  /** SIGKILL to its group. */
  kill (): void {
    killGroup(this.child, 'SIGKILL')
  }

  /** Asks it to stop (`stop` message), and SIGKILLs it if it has not exited after `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    if (!this.running) return
    this.send({ type: 'stop' })
    const timer = setTimeout(() => { this.kill() }, graceMs)
    await this.exited
    clearTimeout(timer)
  }
}
