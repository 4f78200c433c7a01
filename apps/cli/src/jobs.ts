import { resolve } from 'node:path'
import { connectDaemon, defaultDataDir, JOB_PRIORITIES } from '@dopt/node'
import type { DaemonClient, Job, JobInfo, JobPriority } from '@dopt/node'
import { ProgressBar, formatBytes } from './progress.js'
import { EXIT_OK, UsageError, parse, seconds } from './usage.js'

/** The bitsadmin-like commands: each talks to the daemon of `--data-dir`. */
export const JOB_COMMANDS = ['create', 'addfile', 'resume', 'suspend', 'cancel', 'complete', 'info', 'list', 'monitor', 'peers', 'cache', 'set', 'validate', 'reload'] as const
export type JobCommand = typeof JOB_COMMANDS[number]

const COMMON = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false }
} as const

interface Output {
  json: boolean
  out: NodeJS.WritableStream
  err: NodeJS.WriteStream
}

/** One JSON object per line on stdout with --json; a human line on stderr otherwise (and the bare id for create). */
function emit (o: Output, value: unknown, human: string): void {
  if (o.json) o.out.write(JSON.stringify(value) + '\n')
  else o.err.write(human + '\n')
}

function positional (positionals: string[], names: string[], command: string): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(`${command} takes ${names.length === 0 ? 'no arguments' : names.join(' ')}${positionals.length > names.length ? `, not ${positionals.length} arguments` : ''}`)
  }
  return positionals
}

async function withClient<T> (dataDir: string | undefined, fn: (client: DaemonClient) => Promise<T>): Promise<T> {
  const client = await connectDaemon({ dataDir: dataDir ?? defaultDataDir() })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

function describe (info: JobInfo): string {
  const total = info.bytesTotal >= 0 ? formatBytes(info.bytesTotal) : '?'
  const lines = [
    `${info.jobId}  ${info.state.toUpperCase()}  "${info.displayName}"  ${info.filesTransferred}/${info.filesTotal} files  ${formatBytes(info.bytesTransferred)} / ${total}`,
    `  priority ${info.priority}, owner uid ${info.owner}, from peers ${formatBytes(info.bytesFromPeers)}, from the origin ${formatBytes(info.bytesFromOrigin)}, uploaded ${formatBytes(info.bytesUploaded)}`
  ]
  for (const f of info.files) lines.push(`  [${f.index}] ${f.remoteName} -> ${f.localName} (${f.completed ? 'transferred' : `${formatBytes(f.bytesTransferred)}`}, validation ${f.validationState})`)
  if (info.error != null) lines.push(`  error ${info.error.code}: ${info.error.message}`)
  return lines.join('\n')
}

/** Runs one job command against the daemon; resolves with the exit code. */
export async function runJobCommand (command: JobCommand, argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  switch (command) {
    case 'create': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: { ...COMMON, description: { type: 'string' }, priority: { type: 'string' } } })
      const [name] = positional(positionals, ['NAME'], 'create')
      const priority = checkPriority(values.priority)
      return await withClient(values['data-dir'], async client => {
        const job = await client.jobs.createJob(name!)
        if (values.description !== undefined) await job.setDescription(values.description)
        if (priority !== undefined) await job.setPriority(priority)
        if (values.json) out.write(JSON.stringify({ jobId: job.id }) + '\n')
        else { out.write(job.id + '\n'); err.write(`dopt: created job ${job.id} ("${name!}"), suspended: add files, then dopt resume ${job.id}\n`) }
        return EXIT_OK
      })
    }
    case 'addfile': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: { ...COMMON, sha256: { type: 'string' }, manifest: { type: 'string' }, 'manifest-from': { type: 'string' } } })
      const [id, url, path] = positional(positionals, ['JOB', 'URL', 'PATH'], 'addfile')
      const from = values['manifest-from']
      if (from !== undefined && values.manifest === undefined) throw new UsageError('--manifest-from says where the manifest pinned with --manifest CID is: give --manifest too')
      return await withClient(values['data-dir'], async client => {
        const job = await client.jobs.getJob(id!)
        const file = await job.addFile(url!, resolve(path!), {
          ...(values.sha256 !== undefined ? { sha256: values.sha256 } : {}),
          ...(values.manifest !== undefined ? { manifest: values.manifest } : {}),
          ...(from !== undefined ? { manifestFrom: /^https?:\/\//i.test(from) ? from : resolve(from) } : {})
        })
        const info = job.toJSON().files[file.index]!
        emit({ json: values.json, out, err }, { jobId: job.id, file: info }, `dopt: added file ${file.index} to job ${job.id}: ${info.remoteName} -> ${info.localName}`)
        return EXIT_OK
      })
    }
    case 'resume': case 'suspend': case 'cancel': case 'complete': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      const [id] = positional(positionals, ['JOB'], command)
      return await withClient(values['data-dir'], async client => {
        const job = await client.jobs.getJob(id!)
        await job[command]()
        const past = { resume: 'resumed', suspend: 'suspended', cancel: 'cancelled', complete: 'completed' }[command]
        emit({ json: values.json, out, err }, { jobId: job.id, state: job.getState() }, `dopt: ${past} job ${job.id}; it is ${job.getState()}`)
        return EXIT_OK
      })
    }
    case 'info': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      const [id] = positional(positionals, ['JOB'], 'info')
      return await withClient(values['data-dir'], async client => {
        const info = (await client.jobs.getJob(id!)).toJSON()
        emit({ json: values.json, out, err }, info, describe(info))
        return EXIT_OK
      })
    }
    case 'list': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: { ...COMMON, 'all-users': { type: 'boolean', default: false } } })
      positional(positionals, [], 'list')
      return await withClient(values['data-dir'], async client => {
        const jobs = (await client.jobs.enumJobs({ allUsers: values['all-users'] })).map(j => j.toJSON())
        emit({ json: values.json, out, err }, { jobs }, jobs.length === 0 ? 'dopt: no jobs' : jobs.map(describe).join('\n'))
        return EXIT_OK
      })
    }
    case 'monitor': return await monitor(argv, out, err)
    case 'peers': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      positional(positionals, [], 'peers')
      return await withClient(values['data-dir'], async client => {
        const peers = await client.peers()
        const list = peers.peers as Array<{ peerId: string, addrs: string[], source: string }>
        emit({ json: values.json, out, err }, peers, list.length === 0 ? 'dopt: no peers connected' : list.map(p => `${p.peerId} (${p.source}) ${p.addrs.join(' ')}`).join('\n'))
        return EXIT_OK
      })
    }
    case 'cache': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      positional(positionals, [], 'cache')
      return await withClient(values['data-dir'], async client => {
        const cache = await client.cache()
        const items = cache.items as Array<{ cid: string, size: number, url: string }>
        emit({ json: values.json, out, err }, cache, items.length === 0 ? 'dopt: the cache is empty' : [...items.map(i => `${i.cid} ${formatBytes(i.size)} ${i.url}`), `${items.length} items, ${formatBytes(cache.bytes)}`].join('\n'))
        return EXIT_OK
      })
    }
    case 'set': return await setProperties(argv, out, err)
    case 'validate': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      const [id, index, verdict] = positional(positionals, ['JOB', 'FILE_INDEX', 'valid|invalid'], 'validate')
      if (verdict !== 'valid' && verdict !== 'invalid') throw new UsageError(`validate takes valid or invalid, not "${verdict ?? ''}"`)
      if (!/^\d+$/.test(index!)) throw new UsageError(`FILE_INDEX must be a file's index (0, 1, ...), not "${index!}"`)
      return await withClient(values['data-dir'], async client => {
        const job = await client.jobs.getJob(id!)
        const file = job.enumFiles()[Number(index)]
        if (file == null) throw new UsageError(`job ${job.id} has no file ${index!}`)
        await file.setValidationState(verdict === 'valid')
        emit({ json: values.json, out, err }, { jobId: job.id, index: file.index, validationState: file.validationState, state: job.getState() }, `dopt: file ${file.index} of job ${job.id} is ${verdict}; the job is ${job.getState()}`)
        return EXIT_OK
      })
    }
    case 'reload': {
      const { values, positionals } = parse({ args: argv, allowPositionals: true, options: COMMON })
      positional(positionals, [], 'reload')
      return await withClient(values['data-dir'], async client => {
        const result = await client.reload() as { applied: string[], restartNeeded: string[] }
        emit({ json: values.json, out, err }, result, `dopt: changed ${result.applied.join(', ') || 'nothing'}${result.restartNeeded.length > 0 ? `; on the next start: ${result.restartNeeded.join(', ')}` : ''}`)
        return EXIT_OK
      })
    }
  }
}

function checkPriority (value: string | undefined): JobPriority | undefined {
  if (value === undefined) return undefined
  if (!(JOB_PRIORITIES as readonly string[]).includes(value)) throw new UsageError(`--priority must be ${JOB_PRIORITIES.join(', ')}, not "${value}"`)
  return value as JobPriority
}

/** `dopt set JOB --priority P --retry-delay S ...`: bitsadmin's /Set* in one command. */
async function setProperties (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parse({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      'display-name': { type: 'string' },
      description: { type: 'string' },
      priority: { type: 'string' },
      'retry-delay': { type: 'string' },
      'no-progress-timeout': { type: 'string' },
      'notify-flags': { type: 'string' },
      'notify-cmd': { type: 'string', multiple: true },
      'no-notify-cmd': { type: 'boolean', default: false }
    }
  })
  const [id] = positional(positionals, ['JOB'], 'set')
  const priority = checkPriority(values.priority)
  const flags = values['notify-flags']
  if (flags !== undefined && !/^(0x[0-9a-f]+|\d+)$/i.test(flags)) throw new UsageError(`--notify-flags must be a number (e.g. 0x3 or 3), not "${flags}"`)
  const cmd = values['notify-cmd']
  if (cmd !== undefined && values['no-notify-cmd']) throw new UsageError('give --notify-cmd or --no-notify-cmd, not both')
  return await withClient(values['data-dir'], async client => {
    const job = await client.jobs.getJob(id!)
    if (values['display-name'] !== undefined) await job.setDisplayName(values['display-name'])
    if (values.description !== undefined) await job.setDescription(values.description)
    if (priority !== undefined) await job.setPriority(priority)
    if (values['retry-delay'] !== undefined) await job.setMinimumRetryDelay(seconds(values['retry-delay'], '--retry-delay', 0))
    if (values['no-progress-timeout'] !== undefined) await job.setNoProgressTimeout(seconds(values['no-progress-timeout'], '--no-progress-timeout', 0))
    if (flags !== undefined) job.setNotifyFlags(Number(flags))
    // Repeat --notify-cmd for each word: the program (an absolute path), then its arguments; no shell.
    if (cmd !== undefined) await job.setNotifyCmdLine(cmd)
    if (values['no-notify-cmd']) await job.setNotifyCmdLine(null)
    await (job as Job & { refresh?: () => Promise<void> }).refresh?.()
    const info = job.toJSON()
    emit({ json: values.json, out, err }, info, describe(info))
    return EXIT_OK
  })
}

/** `dopt monitor [JOB]`: live progress of one job or of all the caller's, until Ctrl-C (or the job ends). */
async function monitor (argv: string[], out: NodeJS.WritableStream, err: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parse({ args: argv, allowPositionals: true, options: { ...COMMON, 'all-users': { type: 'boolean', default: false } } })
  if (positionals.length > 1) throw new UsageError('monitor takes at most one JOB')
  const id = positionals[0]
  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  const bar = values.json ? null : new ProgressBar(err)
  try {
    return await withClient(values['data-dir'], async client => {
      // Each job first as it is (a snapshot line), then its events: nothing falls between.
      const events = client.events({ signal: controller.signal, allUsers: values['all-users'], snapshots: true, ...(id !== undefined ? { jobId: id } : {}) })
      if (!values.json) err.write(`dopt: monitoring ${id ?? 'every job'}; Ctrl-C stops (the jobs go on)\n`)
      for await (const event of events) {
        const { job, ...rest } = event as typeof event & { job: JobInfo }
        if (values.json) {
          out.write(JSON.stringify({ ...rest, state: job.state, bytesTotal: job.bytesTotal, bytesTransferred: job.bytesTransferred, bytesFromPeers: job.bytesFromPeers, bytesFromOrigin: job.bytesFromOrigin }) + '\n')
        } else if ((event.type === 'progress' || event.type === 'snapshot') && id !== undefined) {
          bar?.update(job)
        } else if (event.type !== 'progress') {
          bar?.note(`${new Date().toISOString()} ${job.jobId} ${event.type}${event.type === 'state' ? ` ${job.state}` : ''}${event.type === 'error' ? ` ${job.error?.code ?? ''}` : ''} (${formatBytes(job.bytesTransferred)} / ${job.bytesTotal >= 0 ? formatBytes(job.bytesTotal) : '?'})`)
        } else {
          bar?.note(`${new Date().toISOString()} ${job.jobId} ${formatBytes(job.bytesTransferred)} / ${job.bytesTotal >= 0 ? formatBytes(job.bytesTotal) : '?'} (peers ${formatBytes(job.bytesFromPeers)}, origin ${formatBytes(job.bytesFromOrigin)})`)
        }
      }
      bar?.done()
      return EXIT_OK
    })
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}
