import { execFileSync } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNode } from '@dopt/node'
import { harness, rejectsWith } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

describe('bad input gets a clear error with a stable code', () => {
  it('job names: required, at most 256 characters', async () => {
    await rejectsWith(h.node.jobs.createJob('', 'download'), 'INVALID_ARGUMENT')
    await rejectsWith(h.node.jobs.createJob('   ', 'download'), 'INVALID_ARGUMENT')
    await rejectsWith(h.node.jobs.createJob('x'.repeat(257), 'download'), 'INVALID_ARGUMENT')
    await rejectsWith(h.node.jobs.createJob(undefined as unknown as string), 'INVALID_ARGUMENT')
    const job = await h.node.jobs.createJob('é'.repeat(256), 'download')
    expect(job.getDisplayName()).toHaveLength(256)
    await rejectsWith(job.setDisplayName('y'.repeat(257)), 'INVALID_ARGUMENT')
    await rejectsWith(h.node.jobs.createJob('upload', 'upload' as 'download'), 'INVALID_ARGUMENT')
  })

  it('paths: relative, missing folder, unwritable folder, a folder itself', async () => {
    const job = await h.node.jobs.createJob('paths', 'download')
    const url = h.serve('p.bin', 10).url
    await rejectsWith(job.addFile(url, 'relative/p.bin'), 'INVALID_PATH')
    await rejectsWith(job.addFile(url, h.path('missing/p.bin')), 'INVALID_PATH')
    await rejectsWith(job.addFile(url, '/proc/dopt-cannot-write-here.bin'), 'INVALID_PATH')
    await mkdir(h.path('folder'))
    await rejectsWith(job.addFile(url, h.path('folder')), 'INVALID_PATH')
    await rejectsWith(job.addFile(url, ''), 'INVALID_PATH')
    // Nothing that complete() must not replace: a FIFO here; /dev/null alike (as root it became a regular file).
    execFileSync('mkfifo', [h.path('fifo')])
    await rejectsWith(job.addFile(url, h.path('fifo')), 'INVALID_PATH')
    // A file name longer than file systems allow (255 bytes of UTF-8), found at addFile, not after the download.
    await rejectsWith(job.addFile(url, h.path('x'.repeat(256))), 'INVALID_PATH')
    await rejectsWith(job.addFile(url, h.path('€'.repeat(85) + 'x')), 'INVALID_PATH')
    expect(job.enumFiles()).toHaveLength(0)
  })

  it('the same local path twice in one job', async () => {
    const job = await h.node.jobs.createJob('dup', 'download')
    const url = h.serve('d.bin', 10).url
    await job.addFile(url, h.path('d.bin'))
    await rejectsWith(job.addFile(url, h.path('d.bin')), 'INVALID_ARGUMENT')
  })

  it('URLs: malformed, not http(s), empty', async () => {
    const job = await h.node.jobs.createJob('urls', 'download')
    for (const url of ['not a url', 'ftp://127.0.0.1/x', 'file:///etc/passwd', '', 'http://']) {
      await rejectsWith(job.addFile(url, h.path('u.bin')), 'INVALID_URL')
    }
  })

  it('unknown job ids', async () => {
    await rejectsWith(h.node.jobs.getJob('no-such-job'), 'JOB_NOT_FOUND')
    await rejectsWith(h.node.jobs.getJob(''), 'JOB_NOT_FOUND')
  })

  it('an aborted signal: ABORTED, and the call changes nothing', async () => {
    const signal = AbortSignal.abort(new Error('user gave up'))
    await rejectsWith(h.node.jobs.createJob('never', 'download', { signal }), 'ABORTED')
    expect(await h.node.jobs.enumJobs()).toHaveLength(0)
    const { url } = h.serve('a.bin', 1000)
    const job = await h.node.jobs.createJob('aborts', 'download')
    await rejectsWith(job.addFile(url, h.path('a.bin'), { signal }), 'ABORTED')
    expect(job.enumFiles()).toHaveLength(0)
    await job.addFile(url, h.path('a.bin'))
    await rejectsWith(job.resume({ signal }), 'ABORTED')
    expect(job.getState()).toBe('suspended')
    await rejectsWith(job.cancel({ signal }), 'ABORTED')
    await rejectsWith(job.complete({ signal }), 'ABORTED')
    await rejectsWith(job.suspend({ signal }), 'ABORTED')
    expect(job.getState()).toBe('suspended')
    await rejectsWith(job.waitFor(['transferred'], { signal }), 'ABORTED')
  })

  it('sha256, manifest CID, priority, retry settings', async () => {
    const job = await h.node.jobs.createJob('options', 'download')
    const url = h.serve('o.bin', 10).url
    await rejectsWith(job.addFile(url, h.path('o.bin'), { sha256: 'abc' }), 'INVALID_ARGUMENT')
    await rejectsWith(job.addFile(url, h.path('o.bin'), { sha256: 'g'.repeat(64) }), 'INVALID_ARGUMENT')
    await rejectsWith(job.addFile(url, h.path('o.bin'), { manifest: 'not-a-cid' }), 'INVALID_ARGUMENT')
    await rejectsWith(job.setPriority('urgent' as 'high'), 'INVALID_ARGUMENT')
    await rejectsWith(job.setMinimumRetryDelay(-1), 'INVALID_ARGUMENT')
    await rejectsWith(job.setNoProgressTimeout(Number.NaN), 'INVALID_ARGUMENT')
    // BITS takes a ULONG of seconds; beyond that is a mistake, not a long wait.
    await rejectsWith(job.setMinimumRetryDelay(2 ** 32), 'INVALID_ARGUMENT')
    await rejectsWith(job.setNoProgressTimeout(1e20), 'INVALID_ARGUMENT')
    await job.setNoProgressTimeout(2 ** 32 - 1)
    expect(job.getNoProgressTimeout()).toBe(2 ** 32 - 1)
  })

  it('notify interfaces and waitFor states', async () => {
    const job = await h.node.jobs.createJob('notify', 'download')
    expect(() => { job.setNotifyInterface(42 as never) }).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => { job.setNotifyInterface({ jobTransferred: 'complete' } as never) }).toThrow(/jobTransferred of the notify interface must be a function/)
    job.setNotifyInterface({ jobError: () => {} })
    job.setNotifyInterface(null)
    await rejectsWith(job.waitFor(['finished' as 'transferred']), 'INVALID_ARGUMENT')
    await rejectsWith(job.waitFor([]), 'INVALID_ARGUMENT')
  })

  it('a stopped node: every call that would change a job or add one fails with NODE_STOPPED', async () => {
    const empty = await h.node.jobs.createJob('empty', 'download')
    const full = await h.node.jobs.createJob('full', 'download')
    await full.addFile(h.serve('s.bin', 10).url, h.path('s.bin'))
    await h.node.stop()
    await rejectsWith(h.node.jobs.createJob('late', 'download'), 'NODE_STOPPED')
    // Not JOB_EMPTY or INVALID_STATE: the node being stopped is the reason.
    await rejectsWith(empty.resume(), 'NODE_STOPPED')
    await rejectsWith(empty.addFile(h.serve('t.bin', 10).url, h.path('t.bin')), 'NODE_STOPPED')
    for (const call of [() => full.resume(), () => full.suspend(), () => full.cancel(), () => full.complete(), () => full.setPriority('high')]) {
      await rejectsWith(call(), 'NODE_STOPPED')
    }
    expect(() => { full.setNotifyFlags(0) }).toThrow(expect.objectContaining({ code: 'NODE_STOPPED' }))
    // Reading still works.
    expect(full.getState()).toBe('suspended')
  })

  it('node settings out of range: INVALID_ARGUMENT naming the setting, before anything starts', async () => {
    const bad: Array<[string, number]> = [['piecesInFlight', 0], ['maxConcurrentJobs', 0], ['pieceSize', 0],
      ['pieceSize', 1000], ['piecesInFlight', 1.5], ['callbackRetryDelay', 1e12], ['peerRequestsInFlight', -1],
      ['minimumRetryDelay', Number.POSITIVE_INFINITY]]
    for (const [key, value] of bad) {
      try {
        await createNode({ dataDir: h.path(`bad-${key}`), mode: 'http', [key]: value })
        expect.unreachable(`${key}: ${value} was accepted`)
      } catch (err) {
        expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(key) })
      }
    }
  })

  it('errors carry context fields and serialize to {code, context, message}', async () => {
    const job = await h.node.jobs.createJob('ctx', 'download')
    try {
      await job.addFile('ftp://127.0.0.1/x', h.path('c.bin'))
      expect.unreachable()
    } catch (err) {
      expect(err).toMatchObject({ name: 'InvalidUrlError', code: 'INVALID_URL', url: 'ftp://127.0.0.1/x' })
      expect(JSON.parse(JSON.stringify(err))).toMatchObject({ code: 'INVALID_URL', context: 'none' })
    }
  })
})
