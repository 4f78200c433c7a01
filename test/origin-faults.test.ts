import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { digest, digestOf, harness, startJob } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

const MiB = 1 << 20
let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

async function download (name: string): Promise<{ state: string, job: Awaited<ReturnType<typeof startJob>> }> {
  const job = await startJob(h.node, [[h.origin.url(`/${name}`), h.path(name)]])
  const state = await job.waitFor()
  if (state === 'transferred') await job.complete()
  return { state, job }
}

describe('origin faults', () => {
  it('retries 500s and succeeds', async () => {
    const { data } = h.serve('r.bin', 3 * MiB)
    h.origin.setFault('/r.bin', { failTimes: 2, failStatus: 500 })
    expect((await download('r.bin')).state).toBe('transferred')
    expect(await digestOf(h.path('r.bin'))).toBe(digest(data))
  })

  it('waits as long as a 503 Retry-After asks, then succeeds', async () => {
    const { data } = h.serve('ra.bin', MiB)
    h.origin.setFault('/ra.bin', { failTimes: 1, failStatus: 503, retryAfter: '1' })
    expect((await download('ra.bin')).state).toBe('transferred')
    expect(await digestOf(h.path('ra.bin'))).toBe(digest(data))
    const gets = h.origin.requests.filter(r => r.method === 'GET')
    expect(gets.map(r => r.status)).toEqual([503, 206])
    expect(gets[1]!.time - gets[0]!.time).toBeGreaterThanOrEqual(950)
  })

  it('resumes a truncated body with a range request', async () => {
    const { data } = h.serve('t.bin', 5 * MiB + 100)
    h.origin.setFault('/t.bin', { truncateAfter: 2 * MiB + 7, truncateTimes: 2 })
    expect((await download('t.bin')).state).toBe('transferred')
    expect(await digestOf(h.path('t.bin'))).toBe(digest(data))
    expect(h.origin.requests.filter(r => r.method === 'GET').length).toBeGreaterThanOrEqual(3)
    expect(h.origin.bytesSent).toBeLessThan(data.byteLength + 3 * MiB)
  })

  it('restarts the file when its ETag changes mid-download, and ends with the new content', async () => {
    h.serve('e.bin', 4 * MiB, 1)
    const next = new Uint8Array(3 * MiB).fill(7)
    h.origin.setFault('/e.bin', { changeAfter: MiB + 11, changeTo: next, truncateAfter: 2 * MiB, truncateTimes: 1 })
    const { state } = await download('e.bin')
    expect(state).toBe('transferred')
    expect(await digestOf(h.path('e.bin'))).toBe(digest(next))
  })

  it.each([404, 410, 401, 403])('fails at once on %i, context remote-file, status kept', async status => {
    h.serve('s.bin', 1000)
    h.origin.setFault('/s.bin', { status })
    const { state, job } = await download('s.bin')
    expect(state).toBe('error')
    expect(job.getError()).toMatchObject({ code: 'HTTP_STATUS', context: 'remote-file', httpStatus: status })
    // No retries. A 403 to HEAD gets one ranged GET (signed URLs refuse HEAD alone); its 403 is final.
    expect(h.origin.requests.map(r => r.method)).toEqual(status === 403 ? ['HEAD', 'GET'] : ['HEAD'])
  })

  it('takes a transient error on 503, retries after the delay, and errs after the no-progress timeout', async () => {
    h.serve('u.bin', 1000)
    h.origin.setFault('/u.bin', { status: 503 })
    const job = await h.node.jobs.createJob('unavailable', 'download')
    await job.addFile(h.origin.url('/u.bin'), h.path('u.bin'))
    await job.setMinimumRetryDelay(0.1)
    await job.setNoProgressTimeout(0.6)
    await job.resume()
    expect(await job.waitFor(['transient-error'])).toBe('transient-error')
    expect(job.getError()).toMatchObject({ code: 'ORIGIN_UNAVAILABLE', httpStatus: 503 })
    expect(await job.waitFor(['error'])).toBe('error')
    expect(job.getErrorCount()).toBeGreaterThanOrEqual(2)
    expect(job.getError()?.code).toBe('ORIGIN_UNAVAILABLE')
  })

  it('recovers from a transient error once the origin is back', async () => {
    const { data } = h.serve('b.bin', MiB)
    h.origin.setFault('/b.bin', { status: 503 })
    const job = await h.node.jobs.createJob('back', 'download')
    await job.addFile(h.origin.url('/b.bin'), h.path('b.bin'))
    await job.setMinimumRetryDelay(0.1)
    await job.resume()
    await job.waitFor(['transient-error'])
    h.origin.setFault('/b.bin', null)
    expect(await job.waitFor(['transferred', 'error'])).toBe('transferred')
    await job.complete()
    expect(await digestOf(h.path('b.bin'))).toBe(digest(data))
  })

  it('downloads from a server without range support, also after a cut', async () => {
    const data = new Uint8Array(3 * MiB + 1).map((_, i) => i % 251)
    h.origin.setFile('/n.bin', { data, ranges: false })
    h.origin.setFault('/n.bin', { truncateAfter: 2 * MiB, truncateTimes: 1 })
    expect((await download('n.bin')).state).toBe('transferred')
    expect(await digestOf(h.path('n.bin'))).toBe(digest(data))
  })

  it('downloads a body of unknown size (chunked, no HEAD, no ranges)', async () => {
    const data = new Uint8Array(2 * MiB + 3).map((_, i) => i % 13)
    h.origin.setFile('/k.bin', { data, chunked: true, head: false, ranges: false })
    const { state, job } = await download('k.bin')
    expect(state).toBe('transferred')
    expect(job.getProgress().bytesTotal).toBe(data.byteLength)
    expect(await digestOf(h.path('k.bin'))).toBe(digest(data))
    // The size was learnt from the body's end, not from any header.
    expect(h.origin.requests.every(r => r.status === 200 || r.status === 405)).toBe(true)
  })

  it('downloads from a URL that refuses HEAD with 403, as S3 presigned GET URLs do', async () => {
    const data = randomBytesSeeded(3 * MiB + 5, 7)
    h.origin.setFile('/signed.bin', { data, headStatus: 403 })
    const { state, job } = await download('signed.bin')
    expect(state).toBe('transferred')
    expect(job.getProgress().bytesTotal).toBe(data.byteLength)
    expect(await digestOf(h.path('signed.bin'))).toBe(digest(data))
    expect(h.origin.requests.find(r => r.method === 'HEAD')?.status).toBe(403)
  })

  it('follows redirects', async () => {
    const { data } = h.serve('real.bin', MiB + 1)
    h.origin.redirect('/moved.bin', '/real.bin', 302)
    expect((await download('moved.bin')).state).toBe('transferred')
    expect(await digestOf(h.path('moved.bin'))).toBe(digest(data))
  })

  it('completes from a slow server, reporting progress on the way', async () => {
    const { data } = h.serve('slow.bin', 2 * MiB)
    h.origin.setFault('/slow.bin', { rate: 4 * MiB, delay: 50 })
    const job = await startJob(h.node, [[h.origin.url('/slow.bin'), h.path('slow.bin')]])
    const progress: number[] = []
    job.addEventListener('progress', e => { progress.push(e.detail.bytesTransferred) })
    expect(await job.waitFor()).toBe('transferred')
    expect(progress.some(b => b > 0 && b < data.byteLength)).toBe(true)
  })
})

describe('download limits', () => {
  it('holds a background job to backgroundDownloadRate', async () => {
    await h.node.stop()
    await h.restart({ backgroundDownloadRate: 4 * MiB })
    const { url, data } = h.serve('limited.bin', 6 * MiB)
    const started = Date.now()
    const job = await startJob(h.node, [[url, h.path('limited.bin')]])
    expect(await job.waitFor()).toBe('transferred')
    // 4 MiB of tokens at start, then 4 MiB/s: 6 MiB need at least half a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(450)
    await job.complete()
    expect(await digestOf(h.path('limited.bin'))).toBe(digest(data))
  })
})
