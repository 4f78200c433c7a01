import { existsSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotifyFlags } from '@dopt/node'
import { digest, digestOf, harness, rejectsWith, startJob, until } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

const MiB = 1 << 20
let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

describe('validation state', () => {
  it('cannot be set before the file is transferred (PENDING)', async () => {
    const { url } = h.serve('p.bin', 4 * MiB)
    h.origin.setFault('/p.bin', { rate: 4 * MiB })
    const job = await h.node.jobs.createJob('pending', 'download')
    const file = await job.addFile(url, h.path('p.bin'))
    await rejectsWith(file.setValidationState(true), 'PENDING')
    await job.resume()
    await rejectsWith(file.setValidationState(false), 'PENDING')
    await job.cancel()
  })

  it('valid content is kept and completed', async () => {
    const { url, data } = h.serve('v.bin', 2 * MiB)
    const job = await startJob(h.node, [[url, h.path('v.bin')]])
    await job.waitFor()
    const file = job.enumFiles()[0]!
    expect(existsSync(file.temporaryName)).toBe(true)
    await file.setValidationState(true)
    expect(file.getValidationState()).toBe('valid')
    await job.complete()
    expect(await digestOf(h.path('v.bin'))).toBe(digest(data))
  })

  it('invalid content from the origin puts the job in error with VALIDATION_FAILED and resets the file', async () => {
    const { url, data } = h.serve('bad.bin', 2 * MiB + 5)
    const job = await h.node.jobs.createJob('reject', 'download')
    await job.addFile(url, h.path('bad.bin'))
    let verdict = false
    let files = 0
    let errors = 0
    job.setNotifyFlags(NotifyFlags.FileTransferred | NotifyFlags.JobError | NotifyFlags.JobTransferred)
    job.setNotifyInterface({
      async fileTransferred (_job, file) { files++; await file.setValidationState(verdict) },
      jobError () { errors++ },
      async jobTransferred (j) { await j.complete() }
    })
    await job.resume()
    expect(await job.waitFor()).toBe('error')
    expect(job.getError()).toMatchObject({ code: 'VALIDATION_FAILED', context: 'remote-file' })
    const file = job.enumFiles()[0]!
    expect(file.getProgress().bytesTransferred).toBe(0)
    expect(file.isDownloadedFromPeer).toBe(false)
    await until(() => errors === 1)

    // A later resume downloads it again, and fileTransferred fires again.
    verdict = true
    await job.resume()
    expect(await job.waitFor(['acknowledged', 'error'])).toBe('acknowledged')
    expect(files).toBe(2)
    expect(await digestOf(h.path('bad.bin'))).toBe(digest(data))
  })

  it('a SHA-256 that does not match is a validation failure', async () => {
    const { url } = h.serve('sha.bin', MiB + 3)
    const job = await h.node.jobs.createJob('sha', 'download')
    await job.addFile(url, h.path('sha.bin'), { sha256: 'ab'.repeat(32) })
    await job.resume()
    expect(await job.waitFor()).toBe('error')
    expect(job.getError()?.code).toBe('VALIDATION_FAILED')
    expect(job.getProgress().bytesTransferred).toBe(0)
  })

  it('a SHA-256 that matches passes, also after a resume from the middle', async () => {
    const { url, data } = h.serve('ok.bin', 4 * MiB + 9)
    h.origin.setFault('/ok.bin', { rate: 8 * MiB })
    const job = await h.node.jobs.createJob('sha-ok', 'download')
    await job.addFile(url, h.path('ok.bin'), { sha256: digest(data).toUpperCase() })
    await job.resume()
    await until(() => job.getProgress().bytesTransferred >= MiB)
    await job.suspend()
    h.origin.setFault('/ok.bin', null)
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
  })

  it('rejecting after the job is transferred still applies the origin rule', async () => {
    const { url } = h.serve('late.bin', 1000)
    const job = await startJob(h.node, [[url, h.path('late.bin')]])
    expect(await job.waitFor()).toBe('transferred')
    await job.enumFiles()[0]!.setValidationState(false)
    expect(job.getState()).toBe('error')
    expect(job.getError()?.code).toBe('VALIDATION_FAILED')
  })
})
