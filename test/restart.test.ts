import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNode } from '@dopt/node'
import { openLevelStore } from '@dopt/store'
import { digest, digestOf, harness, temporaryFiles, until } from './helpers/harness.js'
import type { Harness } from './helpers/harness.js'

const MiB = 1 << 20
const child = fileURLToPath(new URL('./fixtures/download-child.mjs', import.meta.url))
const finishChild = fileURLToPath(new URL('./fixtures/finish-child.mjs', import.meta.url))
let h: Harness
beforeEach(async () => { h = await harness() })
afterEach(async () => { await h.close() })

describe('restart', () => {
  it('a stopped node resumes its jobs on the next start, without fetching verified pieces again', async () => {
    const { url, data } = h.serve('s.bin', 8 * MiB)
    h.origin.setFault('/s.bin', { rate: 16 * MiB })
    const job = await h.node.jobs.createJob('stop', 'download')
    await job.addFile(url, h.path('s.bin'))
    await job.resume()
    await until(() => job.getProgress().bytesTransferred >= 3 * MiB)
    await h.node.stop()
    const kept = job.getProgress().bytesTransferred
    h.origin.setFault('/s.bin', null)
    const node = await h.restart()
    const again = await node.jobs.getJob(job.id)
    expect(again.getProgress().bytesTransferred).toBe(kept)
    expect(await again.waitFor()).toBe('transferred')
    await again.complete()
    expect(await digestOf(h.path('s.bin'))).toBe(digest(data))
    // Everything after the first run's verified pieces, plus at most what was in flight when it stopped.
    expect(h.origin.bytesSent).toBeLessThanOrEqual(data.byteLength + 16 * MiB)
    const resumed = h.origin.requests.filter(r => r.method === 'GET').at(-1)
    expect(resumed?.range).toBe(`bytes=${kept}-${data.byteLength - 1}`)
  })

  it('a node killed with SIGKILL mid-download resumes every job where it left off', async () => {
    await h.node.stop() // the child owns the data folder until it dies
    const a = h.serve('a.bin', 12 * MiB, 1)
    const b = h.serve('b.bin', 12 * MiB, 2)
    h.origin.setFault('/a.bin', { rate: 8 * MiB })
    h.origin.setFault('/b.bin', { rate: 8 * MiB })
    const dataDir = join(h.dir, 'data')
    const proc = spawn(process.execPath, [child, dataDir, a.url, h.path('a.bin'), b.url, h.path('b.bin')], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise(resolve => proc.once('exit', resolve))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: proc.stdout! }).once('line', resolve)
        proc.once('exit', () => reject(new Error('child exited early')))
      })
      const ids = (JSON.parse(line) as { started: string[] }).started
      expect(ids).toHaveLength(2)
      await until(() => h.origin.bytesSent >= 8 * MiB)
      proc.kill('SIGKILL')
      await exited
      const sentBefore = h.origin.bytesSent
      expect(sentBefore).toBeLessThan(24 * MiB)
      h.origin.setFault('/a.bin', null)
      h.origin.setFault('/b.bin', null)

      const node = await createNode({ dataDir, mode: 'http' })
      h.node = node
      const jobs = await Promise.all(ids.map(async id => await node.jobs.getJob(id)))
      const resumedFrom = jobs.map(j => j.getProgress().bytesTransferred)
      expect(resumedFrom.some(n => n > 0)).toBe(true)
      // The byte counters were saved with the pieces: every verified piece is accounted for after the crash.
      for (const [i, job] of jobs.entries()) expect(job.getProgress().bytesFromOrigin).toBeGreaterThanOrEqual(resumedFrom[i]!)
      for (const job of jobs) {
        expect(await job.waitFor()).toBe('transferred')
        await job.complete()
      }
      expect(await digestOf(h.path('a.bin'))).toBe(digest(a.data))
      expect(await digestOf(h.path('b.bin'))).toBe(digest(b.data))
      expect(await temporaryFiles(h.dir)).toEqual([])
      // The second run fetched only what the first had not verified (give or take what was in flight).
      const sentAfter = h.origin.bytesSent - sentBefore
      const saved = resumedFrom.reduce((x, y) => x + y, 0)
      expect(sentAfter).toBeLessThanOrEqual(24 * MiB - saved + 2 * MiB)
      // And what the jobs say the origin sent is what it sent, before the crash and after (nothing counted twice).
      const counted = jobs.reduce((s, j) => s + j.getProgress().bytesFromOrigin, 0)
      expect(counted).toBeGreaterThanOrEqual(24 * MiB)
      expect(counted).toBeLessThanOrEqual(h.origin.bytesSent)
    } finally {
      proc.kill('SIGKILL')
    }
  })

  it('complete() after a crash between its renames and the end of the job finishes the job', async () => {
    const a = h.serve('r1.bin', 2 * MiB, 3)
    const b = h.serve('r2.bin', 2 * MiB, 4)
    const job = await h.node.jobs.createJob('renamed', 'download')
    await job.addFile(a.url, h.path('r1.bin'))
    await job.addFile(b.url, h.path('r2.bin'))
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    const [first] = job.enumFiles()
    await h.node.stop()
    // What a process killed inside complete() leaves: the first file already renamed, the job still transferred.
    await rename(first!.temporaryName, h.path('r1.bin'))
    const node = await h.restart()
    const again = await node.jobs.getJob(job.id)
    expect(again.getState()).toBe('transferred')
    await again.complete()
    expect(again.getState()).toBe('acknowledged')
    expect(await digestOf(h.path('r1.bin'))).toBe(digest(a.data))
    expect(await digestOf(h.path('r2.bin'))).toBe(digest(b.data))
    expect(await temporaryFiles(h.dir)).toEqual([])
  })
})

describe('manifests in the store', () => {
  it('leave with their job when nothing serves them', async () => {
    const { url } = h.serve('m.bin', 2 * MiB)
    const job = await h.node.jobs.createJob('manifest', 'download')
    await job.addFile(url, h.path('m.bin'))
    await job.resume()
    expect(await job.waitFor()).toBe('transferred')
    const cid = job.toJSON().files[0]!.manifestCid
    expect(cid).toMatch(/^b/)
    await job.complete()
    await h.node.stop()
    const store = await openLevelStore({ location: join(h.dir, 'data', 'db') })
    try {
      expect(await store.getManifest(cid!)).toBeNull()
    } finally {
      await store.close()
    }
  })

  it('a node that finished its jobs and stopped leaves no timer behind, so the process exits by itself', async () => {
    const { url } = h.serve('f.bin', 2 * MiB)
    const proc = spawn(process.execPath, [finishChild, join(h.dir, 'child-data'), url, h.path('f.bin')], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    const code = await new Promise<number | null>(resolve => proc.once('exit', resolve))
    expect(code).toBe(0)
    const report = JSON.parse(out) as { state: string, resources: string[] }
    expect(report.state).toBe('acknowledged')
    expect(report.resources.filter(r => r !== 'TTYWrap' && r !== 'PipeWrap')).toEqual([])
  })
})
