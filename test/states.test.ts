import { existsSync, statSync } from 'node:fs'
import { open, statfs, truncate } from 'node:fs/promises'
import { basename } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freePort } from '@dopt/lab'
import { digest, digestOf, harness, recordStates, rejectsWith, startJob, temporaryFiles, until } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

const MiB = 1 << 20
let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

describe('job life cycle', () => {
  it('starts suspended, goes queued → connecting → transferring → transferred → acknowledged', async () => {
    const { url, data } = h.serve('a.bin', 3 * MiB + 17)
    const job = await h.node.jobs.createJob('life', 'download')
    expect(job.getState()).toBe('suspended')
    expect(job.getType()).toBe('download')
    const states = recordStates(job)
    const file = await job.addFile(url, h.path('a.bin'))
    expect(file.temporaryName.startsWith(h.dir)).toBe(true)
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    expect(job.getProgress()).toMatchObject({ bytesTotal: data.byteLength, bytesTransferred: data.byteLength, filesTotal: 1, filesTransferred: 1, bytesFromOrigin: data.byteLength, bytesFromPeers: 0 })
    expect(existsSync(file.temporaryName)).toBe(true)
    expect(existsSync(h.path('a.bin'))).toBe(false)
    expect(job.getTimes().transferCompletionTime).toBeInstanceOf(Date)
    await job.complete()
    expect(states).toEqual(['suspended', 'queued', 'connecting', 'transferring', 'transferred', 'acknowledged'])
    expect(await digestOf(h.path('a.bin'))).toBe(digest(data))
    expect(await temporaryFiles(h.dir)).toEqual([])
    await rejectsWith(h.node.jobs.getJob(job.id), 'JOB_NOT_FOUND')
  })

  it('resume without files fails with JOB_EMPTY', async () => {
    const job = await h.node.jobs.createJob('empty', 'download')
    await rejectsWith(job.resume(), 'JOB_EMPTY')
    expect(job.getState()).toBe('suspended')
  })

  it('suspends mid-transfer, keeps verified pieces, and resumes with a range request', async () => {
    const { url, data } = h.serve('slow.bin', 4 * MiB)
    h.origin.setFault('/slow.bin', { rate: 8 * MiB })
    const job = await startJob(h.node, [[url, h.path('slow.bin')]])
    await until(() => job.getProgress().bytesTransferred >= MiB)
    await job.suspend()
    expect(job.getState()).toBe('suspended')
    const kept = job.getProgress().bytesTransferred
    expect(kept).toBeGreaterThanOrEqual(MiB)
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(job.getProgress().bytesTransferred).toBe(kept)
    h.origin.setFault('/slow.bin', null)
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    expect(await digestOf(h.path('slow.bin'))).toBe(digest(data))
    const ranged = h.origin.requests.filter(r => r.method === 'GET' && r.range != null && !r.range.startsWith('bytes=0-'))
    expect(ranged.length).toBeGreaterThan(0)
  })

  it('cancel stops the transfer, deletes temporary files and forgets the job', async () => {
    const { url } = h.serve('c.bin', 4 * MiB)
    h.origin.setFault('/c.bin', { rate: 4 * MiB })
    const job = await startJob(h.node, [[url, h.path('c.bin')]])
    await until(() => job.getProgress().bytesTransferred > 0)
    await job.cancel()
    expect(job.getState()).toBe('cancelled')
    expect(await temporaryFiles(h.dir)).toEqual([])
    expect(existsSync(h.path('c.bin'))).toBe(false)
    await rejectsWith(h.node.jobs.getJob(job.id), 'JOB_NOT_FOUND')
    expect((await h.node.jobs.enumJobs()).map(j => j.id)).not.toContain(job.id)
  })

  it('a second complete() at the same time fails with INVALID_STATE', async () => {
    const { url, data } = h.serve('twice.bin', 2 * MiB)
    const job = await startJob(h.node, [[url, h.path('twice.bin')]])
    await job.waitFor()
    const results = await Promise.allSettled([job.complete(), job.complete()])
    expect(results.map(r => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect((results.find(r => r.status === 'rejected') as PromiseRejectedResult).reason.code).toBe('INVALID_STATE')
    expect(await digestOf(h.path('twice.bin'))).toBe(digest(data))
  })

  it('complete before the end keeps only finished files', async () => {
    const small = h.serve('small.bin', 1000)
    const big = h.serve('big.bin', 8 * MiB)
    h.origin.setFault('/big.bin', { rate: 2 * MiB })
    const job = await startJob(h.node, [[small.url, h.path('small.bin')], [big.url, h.path('big.bin')]])
    await until(() => job.getProgress().filesTransferred === 1)
    await job.complete()
    expect(job.getState()).toBe('acknowledged')
    expect(await digestOf(h.path('small.bin'))).toBe(digest(small.data))
    expect(existsSync(h.path('big.bin'))).toBe(false)
    expect(await temporaryFiles(h.dir)).toEqual([])
  })

  it('downloads several files in one job, and empty files', async () => {
    const a = h.serve('one.bin', 2 * MiB + 1)
    const b = h.serve('two.bin', 0)
    const job = await startJob(h.node, [[a.url, h.path('one.bin')], [b.url, h.path('two.bin')]])
    expect(await job.waitFor()).toBe('transferred')
    expect(job.getProgress()).toMatchObject({ filesTotal: 2, filesTransferred: 2, bytesTotal: 2 * MiB + 1 })
    await job.complete()
    expect(await digestOf(h.path('one.bin'))).toBe(digest(a.data))
    expect(statSync(h.path('two.bin')).size).toBe(0)
  })

  it('downloads to file names as long as file systems allow, the temporary name cut to fit', async () => {
    const a = h.serve('long-a.bin', MiB + 5, 11)
    const b = h.serve('long-b.bin', 100, 12)
    // 255 bytes each: ASCII, and 3-byte characters (the cut must not split one).
    const names = ['l'.repeat(255), '€'.repeat(85)]
    const job = await startJob(h.node, [[a.url, h.path(names[0]!)], [b.url, h.path(names[1]!)]])
    for (const file of job.enumFiles()) {
      const temporary = basename(file.temporaryName)
      expect(Buffer.byteLength(temporary)).toBeLessThanOrEqual(255)
      expect(temporary).toMatch(/^\..+\.[0-9a-f]{8}-[01]\.dopt-tmp$/)
      expect(temporary).not.toContain('\ufffd')
    }
    expect(await job.waitFor()).toBe('transferred')
    await job.complete()
    expect(await digestOf(h.path(names[0]!))).toBe(digest(a.data))
    expect(await digestOf(h.path(names[1]!))).toBe(digest(b.data))
    expect(await temporaryFiles(h.dir)).toEqual([])
  })

  it('waitFor resolves with the final state when the job ends without reaching the states asked for', async () => {
    const { url } = h.serve('w.bin', 10)
    const job = await h.node.jobs.createJob('wait', 'download')
    await job.addFile(url, h.path('w.bin'))
    const waiting = job.waitFor(['transferred'])
    await job.cancel()
    expect(await waiting).toBe('cancelled')
    expect(await job.waitFor(['transferred'])).toBe('cancelled')
  })

  it('a retry delay past Node\'s timer limit (24.8 days) waits, instead of retrying at once', async () => {
    // Nothing listens there: every attempt is a transient error.
    const job = await h.node.jobs.createJob('long delay', 'download')
    await job.addFile(`http://127.0.0.1:${await freePort()}/x.bin`, h.path('x.bin'))
    await job.setMinimumRetryDelay(30 * 86_400)
    const states = recordStates(job)
    await job.resume()
    expect(await job.waitFor(['transient-error'])).toBe('transient-error')
    await new Promise(resolve => setTimeout(resolve, 500))
    // An overflowing timer fires after 1 ms: the job would be queued and connecting again by now.
    expect(job.getState()).toBe('transient-error')
    expect(states.filter(s => s === 'connecting')).toHaveLength(1)
    await job.cancel()
  })

  it('a file larger than the free space fails at once with LOCAL_FILE, before any byte is fetched', async () => {
    // A sparse file as big as the free space plus 1 GiB: the origin's HEAD announces it, nothing needs to be read.
    const { bavail, bsize } = await statfs(h.dir)
    const huge = h.path('huge-source.bin')
    await (await open(huge, 'w')).close()
    await truncate(huge, bavail * bsize + 2 ** 30)
    h.origin.setFile('/huge.bin', { file: huge })
    const job = await startJob(h.node, [[h.origin.url('/huge.bin'), h.path('huge.bin')]])
    expect(await job.waitFor(['error', 'transferred'])).toBe('error')
    expect(job.getError()).toMatchObject({ code: 'LOCAL_FILE', context: 'local-file', message: expect.stringMatching(/not enough free space/) })
    expect(h.origin.requests.filter(r => r.method === 'GET')).toEqual([])
    expect(await temporaryFiles(h.dir)).toEqual([])
  })

  it('enumerates jobs in creation order and reports times', async () => {
    const before = Date.now()
    const a = await h.node.jobs.createJob('first', 'download')
    const b = await h.node.jobs.createJob('second', 'download')
    expect((await h.node.jobs.enumJobs()).map(j => j.getDisplayName())).toEqual(['first', 'second'])
    expect((await h.node.jobs.getJob(b.id)).getId()).toBe(b.id)
    expect(a.getTimes().creationTime.getTime()).toBeGreaterThanOrEqual(before)
    await a.setDisplayName('renamed')
    expect(a.getDisplayName()).toBe('renamed')
    expect(a.getTimes().modificationTime.getTime()).toBeGreaterThanOrEqual(a.getTimes().creationTime.getTime())
  })
})

describe('calls forbidden in a state fail with INVALID_STATE', () => {
  it('on acknowledged and cancelled jobs', async () => {
    const { url } = h.serve('f.bin', 1000)
    const done = await startJob(h.node, [[url, h.path('f.bin')]])
    await done.waitFor()
    await done.complete()
    const cancelled = await h.node.jobs.createJob('x', 'download')
    await cancelled.cancel()
    for (const job of [done, cancelled]) {
      expect(() => { job.setNotifyFlags(1) }).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }))
      expect(() => { job.setNotifyInterface({}) }).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }))
      await rejectsWith(job.resume(), 'INVALID_STATE')
      await rejectsWith(job.suspend(), 'INVALID_STATE')
      await rejectsWith(job.cancel(), 'INVALID_STATE')
      await rejectsWith(job.complete(), 'INVALID_STATE')
      await rejectsWith(job.addFile(url, h.path('g.bin')), 'INVALID_STATE')
      await rejectsWith(job.setPriority('high'), 'INVALID_STATE')
      await rejectsWith(job.setDisplayName('y'), 'INVALID_STATE')
    }
  })

  it('on transferred jobs: addFile and suspend', async () => {
    const { url } = h.serve('t.bin', 1000)
    const job = await startJob(h.node, [[url, h.path('t.bin')]])
    await job.waitFor()
    await rejectsWith(job.addFile(url, h.path('u.bin')), 'INVALID_STATE')
    await rejectsWith(job.suspend(), 'INVALID_STATE')
    await job.resume() // a no-op, as BITS
    expect(job.getState()).toBe('transferred')
  })
})

describe('priorities', () => {
  it('starts queued jobs by priority, and foreground pre-empts a lower job', async () => {
    await h.node.stop()
    await h.restart({ maxConcurrentJobs: 1 })
    const slow = h.serve('slow.bin', 2 * MiB)
    h.origin.setFault('/slow.bin', { rate: 8 * MiB })
    const blocker = await startJob(h.node, [[slow.url, h.path('slow.bin')]], 'blocker')
    await until(() => blocker.getState() === 'transferring')
    const order: string[] = []
    const make = async (name: string, priority: 'low' | 'high' | 'normal'): Promise<void> => {
      const { url } = h.serve(`${name}.bin`, 1000)
      const job = await h.node.jobs.createJob(name, 'download')
      await job.setPriority(priority)
      await job.addFile(url, h.path(`${name}.bin`))
      job.addEventListener('state', e => { if (e.detail.state === 'transferred') order.push(name) })
      await job.resume()
    }
    await make('low', 'low')
    await make('normal', 'normal')
    await make('high', 'high')
    // `blocker` is normal: `high` pre-empts it, then blocker resumes before `low`.
    await until(() => order.length === 3)
    expect(order[0]).toBe('high')
    expect(order.indexOf('normal')).toBeLessThan(order.indexOf('low'))
    expect(await blocker.waitFor()).toBe('transferred')
  })
})
