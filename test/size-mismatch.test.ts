import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createNode } from '@dopt/node'
import type { DoptNode } from '@dopt/node'
import { randomBytesSeeded } from '@dopt/lab'
import { FAST, digest, digestOf, startJob } from './helpers/harness.js'
import { SWARM } from './helpers/swarm.js'

const MiB = 1 << 20

/**
 * An origin on 127.0.0.1 whose HEAD gives `headSize` for a file of `data.length` bytes; its ranged GETs are honest,
 * unless `total` says which size each 206 claims (the n-th GET's).
 */
async function lyingOrigin (data: Uint8Array, headSize: number, total?: (n: number) => number): Promise<{ url: string, gets: string[], server: Server }> {
  const gets: string[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('etag', '"e1"')
    res.setHeader('accept-ranges', 'bytes')
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': headSize }).end()
      return
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    gets.push(req.headers.range ?? '')
    if (range === null) {
      res.writeHead(200, { 'content-length': data.length }).end(data)
      return
    }
    const start = Number(range[1])
    const end = range[2] === '' ? data.length : Math.min(Number(range[2]) + 1, data.length)
    if (start >= data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end()
      return
    }
    const claimed = total?.(gets.length) ?? data.length
    res.writeHead(206, { 'content-range': `bytes ${start}-${end - 1}/${claimed}`, 'content-length': end - start })
    res.end(data.subarray(start, end))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`, gets, server }
}

let dir: string
let node: DoptNode
let server: Server | null = null
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dopt-size-'))
  node = await createNode({ ...FAST, dataDir: join(dir, 'data'), mode: 'http' })
})
afterEach(async () => {
  await node.stop()
  server?.closeAllConnections()
  await new Promise(resolve => server?.close(resolve) ?? resolve(undefined))
  server = null
  await rm(dir, { recursive: true, force: true })
})

async function download (url: string): Promise<{ state: string, notices: string[], job: Awaited<ReturnType<typeof startJob>> }> {
  const job = await startJob(node, [[url, join(dir, 'f.bin')]])
  const notices: string[] = []
  job.addEventListener('notice', evt => { notices.push(evt.detail.code) })
  const state = await job.waitFor()
  if (state === 'transferred') await job.complete()
  return { state, notices, job }
}

describe('a HEAD that lies about the size', () => {
  it.each([
    ['under-reports (a MiB short)', 4 * MiB + 300, 3 * MiB + 300],
    ['says 0', 2 * MiB + 5, 0],
    ['over-reports', 2 * MiB + 5, 3 * MiB]
  ])('%s: the file restarts with the GETs\' size and arrives whole', async (_name, size, headSize) => {
    const data = randomBytesSeeded(size, 7)
    const origin = await lyingOrigin(data, headSize)
    server = origin.server
    const { state, notices, job } = await download(origin.url)
    expect(state).toBe('transferred')
    expect((await stat(join(dir, 'f.bin'))).size).toBe(size)
    expect(await digestOf(join(dir, 'f.bin'))).toBe(digest(data))
    // A HEAD of 0 is confirmed by a ranged GET before anything starts: nothing to restart then.
    expect(notices).toEqual(headSize === 0 ? [] : ['SIZE_MISMATCH'])
    expect(job.getError()).toBeNull()
  })

  it('under-reported to a node that shares with peers (mode lan, the swarm path): restarted too, right file', async () => {
    const data = randomBytesSeeded(3 * MiB + 77, 9)
    const origin = await lyingOrigin(data, 2 * MiB)
    server = origin.server
    const peer = await createNode({ ...SWARM, dataDir: join(dir, 'lan') })
    try {
      const job = await peer.jobs.createJob('lan', 'download')
      await job.addFile(origin.url, join(dir, 'lan.bin'), { sha256: digest(data) })
      const notices: string[] = []
      job.addEventListener('notice', evt => { notices.push(evt.detail.code) })
      await job.resume()
      expect(await job.waitFor()).toBe('transferred')
      await job.complete()
      expect(await digestOf(join(dir, 'lan.bin'))).toBe(digest(data))
      expect(notices).toContain('SIZE_MISMATCH')
    } finally {
      await peer.stop()
    }
  })

  it('fails the job with SIZE_MISMATCH when the GETs disagree with each other too, and delivers nothing', async () => {
    const data = randomBytesSeeded(3 * MiB, 8)
    // Every 206 claims another total.
    const origin = await lyingOrigin(data, 3 * MiB - 100, n => 3 * MiB + n)
    server = origin.server
    const { state, notices, job } = await download(origin.url)
    expect(state).toBe('error')
    expect(job.getError()).toMatchObject({ code: 'SIZE_MISMATCH', context: 'remote-file', httpStatus: 206 })
    expect(notices).toEqual(['SIZE_MISMATCH'])
    await expect(stat(join(dir, 'f.bin'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
