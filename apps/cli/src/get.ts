import { spawn } from 'node:child_process'
import { basename, resolve } from 'node:path'
import { MAX_DISPLAY_NAME, NotifyFlags, openNode } from '@dopt/node'
import type { ErrorInfo, Job, JobFile, JobManager, JobPriority, NodeConfig } from '@dopt/node'
import { NODE_OPTIONS, nodeConfig } from './node-options.js'
import { ProgressBar, formatBytes } from './progress.js'
import { EXIT_JOB_ERROR, EXIT_OK, EXIT_USAGE, UsageError, parse, seconds } from './usage.js'

export interface GetOptions {
  url: string
  output: string
  /** The embedded node's settings (data folder, mode, peers, listen addresses, group). */
  node: NodeConfig
  json: boolean
  sha256?: string
  manifest?: string
  /** Where the pinned manifest's bytes are, if not beside the file: a URL or a path. */
  manifestFrom?: string
  validateCmd?: string
  priority: JobPriority
  retryDelay: number
  noProgressTimeout: number
  /** Seconds to keep serving peers after the file is saved. */
  seedFor: number
}

export async function parseGet (argv: string[]): Promise<GetOptions> {
  const { values, positionals } = parse({
    args: argv,
    allowPositionals: true,
    options: {
      ...NODE_OPTIONS,
      output: { type: 'string', short: 'o' },
      sha256: { type: 'string' },
      manifest: { type: 'string' },
      'manifest-from': { type: 'string' },
      'validate-cmd': { type: 'string' },
      priority: { type: 'string', default: 'foreground' },
      'retry-delay': { type: 'string' },
      'no-progress-timeout': { type: 'string' },
      'seed-for': { type: 'string' }
    }
  })
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'get needs a URL' : `get takes one URL, got ${positionals.length}`)
  if (values.output === undefined || values.output === '') throw new UsageError('get needs -o PATH')
  if (!['foreground', 'high', 'normal', 'low'].includes(values.priority)) throw new UsageError('--priority must be foreground, high, normal or low')
  const from = values['manifest-from']
  if (from !== undefined && values.manifest === undefined) throw new UsageError('--manifest-from says where the manifest pinned with --manifest CID is: give --manifest too')
  return {
    url: positionals[0]!,
    output: resolve(values.output),
    node: await nodeConfig(values, 'lan'),
    json: values.json,
    sha256: values.sha256,
    manifest: values.manifest,
    ...(from !== undefined ? { manifestFrom: /^https?:\/\//i.test(from) ? from : resolve(from) } : {}),
    validateCmd: values['validate-cmd'],
    priority: values.priority as JobPriority,
    retryDelay: seconds(values['retry-delay'], '--retry-delay', 2),
    noProgressTimeout: seconds(values['no-progress-timeout'], '--no-progress-timeout', 60),
    seedFor: seconds(values['seed-for'], '--seed-for', 0)
  }
}

const DISPLAY_PREFIX = 'dopt get '

/** `dopt get NAME`, within the 256 characters a job name may have (a file name can be longer). */
function displayName (output: string): string {
  const name = `${DISPLAY_PREFIX}${basename(output)}`
  const chars = [...name]
  return chars.length <= MAX_DISPLAY_NAME ? name : `${chars.slice(0, MAX_DISPLAY_NAME - 1).join('')}…`
}

/** The job an interrupted `dopt get` of the same URL and path left behind, if any. */
async function findInterrupted (jobs: JobManager, url: string, output: string): Promise<Job | null> {
  for (const job of await jobs.enumJobs()) {
    const files = job.enumFiles()
    if (!job.getDisplayName().startsWith(DISPLAY_PREFIX) || files.length !== 1) continue
    if (files[0]!.localName === output && (files[0]!.remoteName === url || files[0]!.remoteName === new URL(url).href)) return job
  }
  return null
}

/** The validator could not judge the file: it did not run (exit 126 or 127 from the shell), or died of a signal. */
class ValidatorFailedError extends Error {
  readonly code = 'VALIDATOR_FAILED'
}

/** Runs `CMD PATH` through the shell; exit 0 means valid, another exit invalid; one that could not run throws. */
async function validateWith (cmd: string, path: string): Promise<boolean> {
  const quoted = `'${path.replaceAll("'", "'\\''")}'`
  return await new Promise((resolve, reject) => {
    // Its output goes to our stderr: stdout carries only dopt's JSON line.
    const child = spawn(`${cmd} ${quoted}`, { shell: true, stdio: ['ignore', 2, 2] })
    child.on('error', e => { reject(new ValidatorFailedError(`--validate-cmd could not start: ${e.message}`)) })
    child.on('exit', (code, signal) => {
      if (code === 126 || code === 127) reject(new ValidatorFailedError(`--validate-cmd "${cmd}" could not run (exit ${code}: ${code === 127 ? 'command not found' : 'not executable'})`))
      else if (signal != null) reject(new ValidatorFailedError(`--validate-cmd "${cmd}" was killed by ${signal}`))
      else resolve(code === 0)
    })
  })
}

export interface GetResult {
  jobId: string
  /** This node's peer id and addresses, when peers are on (mode other than http). */
  peerId?: string
  listen?: string[]
  state: string
  bytesTotal: number
  bytesTransferred: number
  bytesFromPeers: number
  bytesFromOrigin: number
  /** Beyond the contract: each file's manifest CID, to pin the same content on other nodes (`--manifest`). */
  files: Array<{ remoteName: string, localName: string, bytesTotal: number, bytesFromPeers: number, bytesFromOrigin: number, manifestCid: string | null }>
  error: Pick<ErrorInfo, 'code' | 'context' | 'message'> & { httpStatus?: number } | null
}

/**
 * `dopt get`: create (or find the interrupted) job, add the file, resume, validate, complete. Resolves with the
 * exit code. SIGINT/SIGTERM stop the node and keep the job, so the same command resumes it.
 */
export async function runGet (opts: GetOptions, out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  // The daemon of the data folder when one runs (its node, peers and cache), else a node of our own.
  const service = await openNode({ ...opts.node, daemon: 'auto' })
  const peerId = service.node?.peerId ?? service.client?.peerId ?? null
  const multiaddrs = (): string[] => service.node?.getMultiaddrs() ?? service.client?.getMultiaddrs() ?? []
  let job: Job | null = null
  let bar: ProgressBar | null = null
  const onSignal = (signal: NodeJS.Signals): void => {
    void (async () => {
      // Said plainly, with the job's id on stdout for a script: the same command resumes it.
      bar?.done()
      if (job != null && service.daemon) await job.suspend().catch(() => {})
      if (job != null) {
        const result = { ...summarize(job), interrupted: true }
        if (opts.json) out.write(JSON.stringify(result) + '\n')
        else err.write(`dopt: interrupted; job ${job.id} is kept with ${formatBytes(result.bytesTransferred)}${result.bytesTotal >= 0 ? ` of ${formatBytes(result.bytesTotal)}` : ''}: run the same command to resume it${service.daemon ? `, or dopt cancel ${job.id} to drop it` : ''}\n`)
      } else if (!opts.json) {
        err.write('dopt: interrupted before the job was made\n')
      }
      await service.stop()
    })().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    if (service.daemon && !opts.json) err.write(`dopt: through the daemon of ${service.dataDir}\n`)
    job = await findInterrupted(service.jobs, opts.url, opts.output)
    const file = job?.enumFiles()[0]
    if (job != null && file != null && file.sha256 == null && opts.sha256 !== undefined && file.pinnedManifest === (opts.manifest ?? null) &&
      !file.getProgress().completed && job.getState() !== 'error') {
      // A rerun that adds --sha256: the whole-file check covers what the interrupted run fetched, so it is kept.
      await file.setSha256(opts.sha256)
    }
    const sameChecks = file != null && file.sha256 === (opts.sha256?.toLowerCase() ?? null) &&
      file.pinnedManifest === (opts.manifest ?? null)
    if (job != null && (!sameChecks || (job.getState() === 'error' && job.getError()?.code === 'VALIDATION_FAILED'))) {
      // Other checks than the interrupted run's, or content rejected (maybe against a wrong --sha256 that this
      // run corrects): its pieces prove nothing for this run, so start over.
      await job.cancel()
      job = null
    }
    if (job != null && !opts.json) err.write(`dopt: resuming job ${job.id}\n`)
    if (job == null) {
      job = await service.jobs.createJob(displayName(opts.output), 'download')
      try {
        await job.addFile(opts.url, opts.output, { sha256: opts.sha256, manifest: opts.manifest, ...(opts.manifestFrom !== undefined ? { manifestFrom: opts.manifestFrom } : {}) })
      } catch (e) {
        await job.cancel() // a bad URL, path or digest: leave no empty job behind
        throw e
      }
    }
    await job.setPriority(opts.priority)
    await job.setMinimumRetryDelay(opts.retryDelay)
    await job.setNoProgressTimeout(opts.noProgressTimeout)
    bar = opts.json ? null : new ProgressBar(err, job.getProgress().bytesTransferred)
    const theJob = job
    job.setNotifyFlags(NotifyFlags.JobTransferred | NotifyFlags.JobError | NotifyFlags.FileTransferred | NotifyFlags.JobModification)
    const validateCmd = opts.validateCmd
    // A validator that cannot run judges nothing: the file is kept (suspended) for a rerun with a working one.
    let validatorFailure: ValidatorFailedError | null = null
    let onValidatorFailure = (): void => {}
    const validatorFailed = new Promise<'validator'>(resolve => { onValidatorFailure = () => { resolve('validator') } })
    job.setNotifyInterface({
      // Only with --validate-cmd: a registered fileTransferred counts as the application checking the file, which
      // lets the node take pieces from peers on their word (docs/architecture.md, "Trust").
      ...(validateCmd !== undefined
        ? {
            fileTransferred: async (_job: Job, file: JobFile) => {
              let valid: boolean
              try {
                valid = await validateWith(validateCmd, file.temporaryName)
              } catch (e) {
                validatorFailure = e as ValidatorFailedError
                onValidatorFailure()
                throw e
              }
              await file.setValidationState(valid)
            }
          }
        : {}),
      jobTransferred: async (j: Job) => { await j.complete() },
      jobModification: (j: Job) => { bar?.update(j.getProgress()) }
    })
    job.addEventListener('notice', e => {
      if (opts.json) return
      const line = `dopt: ${e.detail.message}`
      if (bar != null) bar.note(line)
      else err.write(line + '\n')
    })
    job.addEventListener('error', e => {
      if (e.detail.transient) bar?.note(`dopt: ${e.detail.error.message}; retrying in ${opts.retryDelay} s`)
    })
    if (job.getState() === 'transferred') await job.complete()
    else await job.resume()
    const settled = await Promise.race([theJob.waitFor(['acknowledged', 'error', 'cancelled']), validatorFailed])
    bar?.update(theJob.getProgress())
    bar?.done()
    if (settled === 'validator') {
      await theJob.suspend()
      theJob.setNotifyInterface(null)
      const failure = validatorFailure as ValidatorFailedError | null
      const message = `${failure?.message ?? '--validate-cmd failed'}; the file is kept (job ${theJob.id}, suspended): fix the command and run again to judge it`
      const result = { ...summarize(theJob), error: { code: 'VALIDATOR_FAILED', context: 'queue-manager-notification' as const, message } }
      if (opts.json) out.write(JSON.stringify(result) + '\n')
      else err.write(`dopt: ${message}\n`)
      return EXIT_USAGE
    }
    const state = settled
    const result = summarize(theJob)
    let kept = ''
    if (peerId != null) Object.assign(result, { peerId, listen: multiaddrs() })
    if (state === 'error') {
      if (theJob.getError()?.code === 'VALIDATION_FAILED') {
        // Rejected content is of no use to a rerun (it starts over): nothing is left behind.
        await theJob.cancel().catch(() => {})
        if (!opts.json) err.write(`dopt: the rejected download was removed (${formatBytes(result.bytesFromOrigin + result.bytesFromPeers)} fetched)\n`)
      } else {
        const temp = theJob.enumFiles()[0]?.temporaryName ?? ''
        kept = `; it is kept with ${formatBytes(result.bytesTransferred)} in ${temp}: run the same command to try again${service.daemon ? `, or dopt cancel ${theJob.id} to remove it` : ''}`
      }
    }
    if (opts.json) out.write(JSON.stringify(result) + '\n')
    else printHuman(result, err, kept)
    // A daemon serves what it holds for as long as its cache keeps it: no need to stay.
    if (state === 'acknowledged' && opts.seedFor > 0 && peerId != null && !service.daemon) {
      if (!opts.json) err.write(`dopt: serving peers for ${opts.seedFor} s as ${peerId}\n`)
      await new Promise(resolve => setTimeout(resolve, opts.seedFor * 1000))
    }
    return state === 'acknowledged' ? EXIT_OK : EXIT_JOB_ERROR
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await service.stop()
  }
}

function summarize (job: Job): GetResult {
  const p = job.getProgress()
  const e = job.getError()
  return {
    jobId: job.id,
    state: job.getState(),
    bytesTotal: p.bytesTotal,
    bytesTransferred: p.bytesTransferred,
    bytesFromPeers: p.bytesFromPeers,
    bytesFromOrigin: p.bytesFromOrigin,
    files: job.toJSON().files.map(f => ({
      remoteName: f.remoteName, localName: f.localName, bytesTotal: f.bytesTotal, bytesFromPeers: f.bytesFromPeers,
      bytesFromOrigin: f.bytesFromOrigin, manifestCid: f.manifestCid
    })),
    error: e == null ? null : { code: e.code, context: e.context, message: e.message, ...(e.httpStatus !== undefined ? { httpStatus: e.httpStatus } : {}) }
  }
}

function printHuman (r: GetResult, err: NodeJS.WriteStream, kept = ''): void {
  if (r.state === 'acknowledged') {
    const file = r.files[0]
    err.write(`dopt: saved ${file?.localName ?? ''} (${formatBytes(r.bytesTotal)}: ${formatBytes(r.bytesFromOrigin)} from the origin, ${formatBytes(r.bytesFromPeers)} from peers)\n`)
  } else {
    err.write(`dopt: job ${r.jobId} ended in ${r.state}: ${r.error?.code ?? ''} ${r.error?.message ?? ''}${kept}\n`)
  }
}
