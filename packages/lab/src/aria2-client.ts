import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { BaselineFailedError } from './errors.js'
import { freePort } from './ports.js'
import { readProcSample } from './proc-stats.js'
import { signalGroup, stopGroup } from './tracker.js'
import type { ProcSample } from './proc-stats.js'
import type { ChildProcess } from 'node:child_process'

/** How long a fresh aria2c may take to answer RPC. */
const START_TIMEOUT_MS = 10_000
/** Every RPC call is bounded; aria2 answers in well under a millisecond when it is healthy. */
const CALL_TIMEOUT_MS = 5000

export interface Aria2ProcessInit {
  /** The aria2c binary (a path, or a name looked up on `env.PATH`). */
  binary: string
  /** Options after the RPC ones, as `--name=value`. */
  options: string[]
  env?: NodeJS.ProcessEnv
}

/** The fields of `aria2.tellStatus` that the lab reads (aria2 sends numbers as decimal strings). */
export interface Aria2Status {
  status: 'active' | 'waiting' | 'paused' | 'error' | 'complete' | 'removed'
  totalLength: string
  completedLength: string
  uploadLength: string
  errorCode?: string
  errorMessage?: string
}

export interface Aria2Peer {
  ip: string
  port: string
}

/**
 * One aria2c process with JSON-RPC on 127.0.0.1 (a random secret per process), in its own process group, told to
 * stop by itself if this process dies (`--stop-with-process`).
 */
export class Aria2Process {
  readonly child: ChildProcess
  readonly #port: number
  readonly #secret: string
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 })
  #nextId = 1
  #stderr = ''

  private constructor (child: ChildProcess, port: number, secret: string) {
    this.child = child
    this.#port = port
    this.#secret = secret
    child.stderr?.on('data', (b: Buffer) => { this.#stderr = (this.#stderr + b.toString()).slice(-2000) })
  }

  get pid (): number {
    return this.child.pid ?? -1
  }

  get alive (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** The end of what it wrote to stderr (for error messages). */
  get stderr (): string {
    return this.#stderr.trim()
  }

  /** Spawns aria2c and waits until it answers RPC (a few tries if its RPC port was taken meanwhile). */
  static async start (init: Aria2ProcessInit): Promise<Aria2Process> {
    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      const secret = randomBytes(12).toString('hex')
      const child = spawn(init.binary, [
        '--enable-rpc=true', `--rpc-listen-port=${port}`, '--rpc-listen-all=false', `--rpc-secret=${secret}`,
        `--stop-with-process=${process.pid}`, ...init.options
      ], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: init.env ?? process.env })
      const proc = new Aria2Process(child, port, secret)
      const spawned = new Promise<Error | null>(resolve => {
        child.once('spawn', () => { resolve(null) })
        child.once('error', err => { resolve(err) })
      })
      const spawnError = await spawned
      if (spawnError !== null) {
        throw new BaselineFailedError(`aria2c did not start: ${spawnError.message}`, { cause: spawnError })
      }
      try {
        await proc.#waitReady()
        return proc
      } catch (err) {
        lastError = err
        await proc.stop(0)
      }
    }
    throw lastError
  }

  async #waitReady (): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (!this.alive) throw new BaselineFailedError(`aria2c exited at start: ${this.stderr}`)
      try {
        await this.call('aria2.getVersion', [], 500)
        return
      } catch (err) {
        if (Date.now() > deadline) {
          throw new BaselineFailedError(`aria2c did not answer RPC within ${START_TIMEOUT_MS / 1000} s`, { cause: err })
        }
      }
      await sleep(20)
    }
  }

  /** One JSON-RPC call (the secret is added); rejects with the RPC error's message, or on timeout. */
  async call<T> (method: string, params: unknown[] = [], timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const body = JSON.stringify({ jsonrpc: '2.0', id: this.#nextId++, method, params: [`token:${this.#secret}`, ...params] })
    return await new Promise<T>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: this.#port,
        path: '/jsonrpc',
        method: 'POST',
        agent: this.#agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (b: Buffer) => chunks.push(b))
        res.on('error', reject)
        res.on('end', () => {
          try {
            const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: T, error?: { message?: string } }
            if (reply.error !== undefined) reject(new BaselineFailedError(`aria2 ${method}: ${reply.error.message ?? 'error'}`))
            else resolve(reply.result as T)
          } catch (err) {
            reject(new BaselineFailedError(`aria2 ${method}: unreadable answer`, { cause: err }))
          }
        })
      })
      req.on('timeout', () => req.destroy(new BaselineFailedError(`aria2 ${method}: no answer within ${timeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  async status (gid: string): Promise<Aria2Status> {
    return await this.call<Aria2Status>('aria2.tellStatus', [gid,
      ['status', 'totalLength', 'completedLength', 'uploadLength', 'errorCode', 'errorMessage']])
  }

  async peers (gid: string): Promise<Aria2Peer[]> {
    return await this.call<Aria2Peer[]>('aria2.getPeers', [gid])
  }

  /** CPU seconds and peak RSS so far, or null once it has exited. */
  async sample (): Promise<ProcSample | null> {
    return this.alive ? await readProcSample(this.pid) : null
  }

  /** SIGKILL at once, as a crash would. */
  kill (): void {
    this.#agent.destroy()
    signalGroup(this.child, 'SIGKILL')
  }

  /** SIGTERM (aria2 saves its control file and tells the tracker it stops), SIGKILL after `graceMs`. */
  async stop (graceMs = 2000): Promise<void> {
    this.#agent.destroy()
    await stopGroup(this.child, graceMs)
  }
}
