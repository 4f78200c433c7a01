import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotifyFlags } from '@dopt/node'
import type { Job, JobEvent, JobFile } from '@dopt/node'
import { harness, until } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

const MiB = 1 << 20
const ALL = NotifyFlags.JobTransferred | NotifyFlags.JobError | NotifyFlags.JobModification | NotifyFlags.FileTransferred
let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function jobWith (files: number, size = 1000): Promise<Job> {
  const job = await h.node.jobs.createJob('callbacks', 'download')
  for (let i = 0; i < files; i++) {
    const { url } = h.serve(`f${i}-${job.id}.bin`, size, i + 1)
    await job.addFile(url, h.path(`f${i}-${job.id}.bin`))
  }
  return job
}

describe('notifications', () => {
  it('calls fileTransferred once per file, one at a time, all before jobTransferred', async () => {
    const job = await jobWith(3)
    const calls: string[] = []
    let inside = 0
    let overlap = false
    job.setNotifyFlags(ALL)
    job.setNotifyInterface({
      async fileTransferred (_job: Job, file: JobFile) {
        if (++inside > 1) overlap = true
        calls.push(`file ${file.index}`)
        await sleep(30)
        inside--
      },
      jobTransferred () { calls.push('job') }
    })
    await job.resume()
    await until(() => calls.includes('job'))
    expect(calls).toEqual(['file 0', 'file 1', 'file 2', 'job'])
    expect(overlap).toBe(false)
  })

  it('calls jobTransferred again while it throws, and not after it returns', async () => {
    const job = await jobWith(1)
    let calls = 0
    job.setNotifyFlags(NotifyFlags.JobTransferred)
    job.setNotifyInterface({
      jobTransferred () {
        calls++
        if (calls < 3) throw new Error('not yet')
      }
    })
    await job.resume()
    await until(() => calls === 3)
    await sleep(300) // six retry delays
    expect(calls).toBe(3)
  })

  it('calls fileTransferred again while it throws', async () => {
    const job = await jobWith(1)
    let calls = 0
    let transferredAt = -1
    job.setNotifyFlags(NotifyFlags.FileTransferred | NotifyFlags.JobTransferred)
    job.setNotifyInterface({
      fileTransferred () { if (++calls < 2) throw new Error('busy') },
      jobTransferred () { transferredAt = calls }
    })
    await job.resume()
    await until(() => transferredAt >= 0)
    expect(calls).toBe(2)
    expect(transferredAt).toBe(2)
  })

  it('calls jobError only on entering error, with the error', async () => {
    h.origin.setFault('/gone.bin', { status: 404 })
    const job = await h.node.jobs.createJob('errors', 'download')
    await job.addFile(h.origin.url('/gone.bin'), h.path('gone.bin'))
    const errors: string[] = []
    job.setNotifyFlags(NotifyFlags.JobError)
    job.setNotifyInterface({ jobError (_job, error) { errors.push(error.code) } })
    await job.resume()
    expect(await job.waitFor()).toBe('error')
    await until(() => errors.length === 1)
    await sleep(100)
    expect(errors).toEqual(['HTTP_STATUS'])
  })

  it('does not call jobError for transient errors', async () => {
    h.origin.setFault('/busy.bin', { status: 503 })
    h.origin.setFile('/busy.bin', { data: new Uint8Array(10) })
    const job = await h.node.jobs.createJob('transient', 'download')
    await job.addFile(h.origin.url('/busy.bin'), h.path('busy.bin'))
    await job.setMinimumRetryDelay(10)
    let errors = 0
    job.setNotifyFlags(NotifyFlags.JobError)
    job.setNotifyInterface({ jobError () { errors++ } })
    await job.resume()
    expect(await job.waitFor(['transient-error'])).toBe('transient-error')
    await sleep(100)
    expect(errors).toBe(0)
    expect(job.getError()).toMatchObject({ code: 'ORIGIN_UNAVAILABLE', httpStatus: 503 })
  })

  it('calls jobModification as bytes arrive, throttled, and only with its flag', async () => {
    const job = await jobWith(1, 6 * MiB)
    h.origin.setFault(new URL(job.enumFiles()[0]!.remoteName).pathname, { rate: 12 * MiB })
    const seen: number[] = []
    job.setNotifyFlags(NotifyFlags.JobModification)
    job.setNotifyInterface({ jobModification (j) { seen.push(j.getProgress().bytesTransferred) } })
    await job.resume()
    await job.waitFor()
    expect(seen.length).toBeGreaterThan(2)
    expect(seen.some(b => b > 0 && b < 6 * MiB)).toBe(true)

    const quiet = await jobWith(1)
    let calls = 0
    quiet.setNotifyFlags(NotifyFlags.JobTransferred)
    quiet.setNotifyInterface({ jobModification () { calls++ } })
    await quiet.resume()
    await quiet.waitFor()
    await sleep(100)
    expect(calls).toBe(0)
  })

  it('sends nothing with the Disable flag', async () => {
    const job = await jobWith(1)
    let calls = 0
    job.setNotifyFlags(ALL | NotifyFlags.Disable)
    job.setNotifyInterface({ jobTransferred () { calls++ }, fileTransferred () { calls++ }, jobModification () { calls++ } })
    await job.resume()
    await job.waitFor()
    await sleep(100)
    expect(calls).toBe(0)
  })

  it('runs at most four callbacks at once across the node', async () => {
    let running = 0
    let most = 0
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const jobs: Job[] = []
    let entered = 0
    for (let i = 0; i < 6; i++) {
      const job = await jobWith(1)
      job.setNotifyFlags(NotifyFlags.JobTransferred)
      job.setNotifyInterface({
        async jobTransferred () {
          entered++
          most = Math.max(most, ++running)
          await gate
          running--
        }
      })
      jobs.push(job)
    }
    for (const job of jobs) await job.resume()
    await until(() => entered === 4)
    await sleep(100)
    expect(entered).toBe(4)
    release()
    await until(() => entered === 6)
    expect(most).toBe(4)
  })

  it('rejects invalid notify flags', async () => {
    const job = await jobWith(1)
    expect(() => { job.setNotifyFlags(0x40) }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => { job.setNotifyFlags(-1) }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    job.setNotifyFlags(NotifyFlags.FileRangesTransferred)
    expect(job.getNotifyFlags()).toBe(0x20)
  })
})

describe('typed events', () => {
  it('iterates state, progress and file events, ending when the job is acknowledged', async () => {
    const job = await jobWith(2, 2 * MiB)
    const seen: JobEvent[] = []
    const iterate = (async () => { for await (const e of job.events()) seen.push(e) })()
    let completing: Promise<void> | null = null
    job.addEventListener('transferred', () => { completing = job.complete() })
    await job.resume()
    await iterate
    await completing
    const states = seen.filter(e => e.type === 'state').map(e => e.type === 'state' ? e.state : '')
    expect(states).toEqual(['queued', 'connecting', 'transferring', 'transferred', 'acknowledged'])
    expect(seen.filter(e => e.type === 'file-transferred')).toHaveLength(2)
    expect(seen.some(e => e.type === 'transferred')).toBe(true)
    expect(seen.every(e => e.jobId === job.id)).toBe(true)
  })

  it('stops iterating when the signal aborts', async () => {
    const job = await jobWith(1)
    const controller = new AbortController()
    const types: string[] = []
    const iterate = (async () => { for await (const e of job.events({ signal: controller.signal })) types.push(e.type) })()
    await job.setDisplayName('renamed')
    await until(() => types.includes('progress'))
    controller.abort()
    await iterate
    const seen = types.length
    await job.resume()
    await job.waitFor()
    expect(types.length).toBe(seen)
  })
})
