import { request } from 'node:http'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { NotLoopbackError, startActivityServer } from '@dopt/activity'
import type { ActivityServer, ActivitySnapshot } from '@dopt/activity'
import { ListenFailedError } from '@dopt/node'
import { MiB, download, fixture, until } from './fixture.js'
import type { Fixture } from './fixture.js'
import { parsePrometheus, valueOf } from './prometheus.js'
import type { Scrape } from './prometheus.js'
import { openEvents } from './sse-client.js'

let f: Fixture
const servers: ActivityServer[] = []
beforeEach(async () => { f = await fixture() })
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { await s.close() }))
  await f.close()
})

async function start (...args: Parameters<typeof startActivityServer>): Promise<ActivityServer> {
  const s = await startActivityServer(...args)
  servers.push(s)
  return s
}

async function scrape (server: ActivityServer): Promise<Scrape> {
  const res = await fetch(new URL('/metrics', server.url))
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePrometheus(await res.text())
}

/** A raw request, with any method and Host header (fetch refuses to set Host). */
async function raw (url: string, method: string, path: string, host?: string): Promise<{ status: number, allow: string | undefined, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, ...(host !== undefined ? { headers: { Host: host } } : {}) }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('/metrics', () => {
  it('counters move while a download runs, and the totals stay when the job ends', async () => {
    const { url, sha256 } = f.serve('a.bin', 4 * MiB, 2 * MiB)
    const node = await f.node('a')
    const server = await start(node, { host: '127.0.0.1', port: 0, interval: 100 })
    const before = await scrape(server)
    expect(before.types.get('dopt_bytes_received_total')).toBe('counter')
    expect(before.types.get('dopt_jobs')).toBe('gauge')
    expect(valueOf(before, 'dopt_bytes_received_total', { source: 'origin' })).toBe(0)
    expect(valueOf(before, 'dopt_bytes_received_total', { source: 'peers' })).toBe(0)
    expect(valueOf(before, 'dopt_peers_connected')).toBe(0)
    expect(valueOf(before, 'dopt_cache_items')).toBe(0)
    expect(before.samples.has('dopt_process_cpu_seconds_total')).toBe(true)

    const job = await download(node, url, f.path('a.out'), sha256)
    const first = await until('the origin has sent some bytes', async () => {
      const s = await scrape(server)
      const v = valueOf(s, 'dopt_bytes_received_total', { source: 'origin' }) ?? 0
      return v > 0 && v < 4 * MiB ? s : undefined
    })
    const firstValue = valueOf(first, 'dopt_bytes_received_total', { source: 'origin' })!
    expect(valueOf(first, 'dopt_jobs', { state: 'transferring' })).toBe(1)
    expect(valueOf(first, 'dopt_job_info', { job_id: job.id, state: 'transferring' })).toBe(1)
    expect(valueOf(first, 'dopt_job_bytes', { job_id: job.id })).toBe(4 * MiB)
    // Still running (2 MiB/s for 4 MiB): a later scrape shows more.
    const later = await until('more bytes', async () => {
      const s = await scrape(server)
      return (valueOf(s, 'dopt_bytes_received_total', { source: 'origin' }) ?? 0) > firstValue ? s : undefined
    })
    expect(valueOf(later, 'dopt_job_bytes_received_total', { job_id: job.id, source: 'origin' })).toBeGreaterThan(firstValue - 1)

    expect(await job.waitFor()).toBe('transferred')
    const done = await scrape(server)
    expect(valueOf(done, 'dopt_bytes_received_total', { source: 'origin' })).toBe(f.origin.bytesSent)
    expect(f.origin.bytesSent).toBeGreaterThanOrEqual(4 * MiB)
    expect(valueOf(done, 'dopt_jobs', { state: 'transferred' })).toBe(1)
    expect(valueOf(done, 'dopt_job_bytes_transferred', { job_id: job.id })).toBe(4 * MiB)

    await job.complete()
    const ended = await scrape(server)
    // The job is gone, and so are its series; the node's totals keep its bytes.
    expect(valueOf(ended, 'dopt_job_bytes_received_total', { job_id: job.id, source: 'origin' })).toBeUndefined()
    expect(valueOf(ended, 'dopt_bytes_received_total', { source: 'origin' })).toBe(f.origin.bytesSent)
    expect(valueOf(ended, 'dopt_jobs', { state: 'transferred' })).toBe(0)
    expect(valueOf(ended, 'dopt_cache_items')).toBe(1)
    expect(valueOf(ended, 'dopt_cache_bytes')).toBe(4 * MiB)

    // A second node takes the file from this one: uploads and peers move here.
    const other = await f.node('b', { peers: node.getMultiaddrs() })
    const copy = await download(other, url, f.path('b.out'), sha256)
    expect(await copy.waitFor()).toBe('transferred')
    const served = await scrape(server)
    expect(valueOf(served, 'dopt_bytes_uploaded_total')).toBe(copy.getProgress().bytesFromPeers)
    expect(copy.getProgress().bytesFromPeers).toBeGreaterThan(0)
    expect(valueOf(served, 'dopt_pieces_uploaded_total')).toBeGreaterThan(0)
    expect(valueOf(served, 'dopt_peers_connected')).toBe(1)
    expect(valueOf(served, 'dopt_bytes_received_total', { source: 'origin' })).toBe(valueOf(ended, 'dopt_bytes_received_total', { source: 'origin' }))
    expect(other.getStats().bytesFromPeers).toBe(copy.getProgress().bytesFromPeers)
    expect(valueOf(served, 'dopt_pieces_rejected_total')).toBe(0)
    expect(valueOf(served, 'dopt_peers_banned_total')).toBe(0)
  })
})

describe('/events', () => {
  it('sends the history, then a snapshot at each sample, with the bytes moving during a download', async () => {
    const { url } = f.serve('e.bin', 3 * MiB, 2 * MiB)
    const node = await f.node('a')
    const server = await start(node, { interval: 100 })
    const client = await openEvents(server.url)
    try {
      expect(client.status).toBe(200)
      expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8')
      await until('the first events', () => client.events.length >= 2 ? true : undefined)
      expect(client.events[0]!.event).toBe('history')
      expect(Array.isArray(client.events[0]!.data)).toBe(true)
      expect(client.events[1]!.event).toBe('snapshot')
      const job = await download(node, url, f.path('e.out'))
      expect(await job.waitFor()).toBe('transferred')
      // The bytes are all in before the state changes (the file is flushed and checked first): wait for both.
      await until('a snapshot of the job transferred', () => client.events.some(e => (e.data as ActivitySnapshot).jobs?.[0]?.state === 'transferred') ? true : undefined)
      const origin = client.events.filter(e => e.event === 'snapshot').map(e => (e.data as ActivitySnapshot).totals.bytesFromOrigin)
      // Seen between nothing and everything, in order, never going down.
      expect(origin.some(v => v > 0 && v < 3 * MiB)).toBe(true)
      expect(origin).toEqual([...origin].sort((a, b) => a - b))
      const last = client.events.at(-1)!.data as ActivitySnapshot
      expect(last.jobs.map(j => [j.jobId, j.state, j.bytesFromOrigin])).toEqual([[job.id, 'transferred', f.origin.bytesSent]])
      expect(last.jobsByState.transferred).toBe(1)
    } finally {
      client.close()
    }
  })

  it('takes at most maxClients streams; a page that leaves makes room', async () => {
    const node = await f.node('a', { mode: 'http' })
    const server = await start(node, { maxClients: 2 })
    const a = await openEvents(server.url)
    const b = await openEvents(server.url)
    const c = await openEvents(server.url)
    expect([a.status, b.status, c.status]).toEqual([200, 200, 503])
    expect(server.clients).toBe(2)
    a.close()
    await until('the stream is gone', () => server.clients === 1 ? true : undefined)
    const d = await openEvents(server.url)
    expect(d.status).toBe(200)
    for (const x of [b, c, d]) x.close()
  })
})

describe('read-only and loopback only', () => {
  it('answers only GET: anything else is 405 with Allow: GET, on every route', async () => {
    const node = await f.node('a', { mode: 'http' })
    const job = await node.jobs.createJob('untouchable')
    const server = await start(node)
    for (const path of ['/', '/metrics', '/events', '/snapshot', `/jobs/${job.id}`]) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
        const r = await raw(server.url, method, path)
        expect([path, method, r.status, r.allow]).toEqual([path, method, 405, 'GET'])
      }
    }
    expect((await raw(server.url, 'GET', '/nothing')).status).toBe(404)
    expect(job.getState()).toBe('suspended')
    expect((await node.jobs.enumJobs()).map(j => j.id)).toEqual([job.id])
  })

  it('serves the page, its script and style from itself, with a strict content policy', async () => {
    const node = await f.node('a', { mode: 'http' })
    const server = await start(node)
    const page = await fetch(server.url)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await page.text()
    expect(html).toContain('<script src="/activity.js"')
    expect(html).not.toMatch(/https?:\/\//)
    const js = await (await fetch(new URL('/activity.js', server.url))).text()
    expect(js).toContain("new EventSource('/events')")
    expect(() => new Function(js)).not.toThrow()
    expect((await fetch(new URL('/activity.css', server.url))).headers.get('content-type')).toBe('text/css; charset=utf-8')
  })

  it('refuses a Host header that is not its own (DNS rebinding)', async () => {
    const node = await f.node('a', { mode: 'http' })
    const server = await start(node)
    expect((await raw(server.url, 'GET', '/metrics', 'evil.example:80')).status).toBe(421)
    expect((await raw(server.url, 'GET', '/metrics', `localhost:${server.port}`)).status).toBe(200)
    expect((await raw(server.url, 'GET', '/metrics', `127.0.0.1:${server.port}`)).status).toBe(200)
  })

  it('refuses a non-loopback address and says why; allowNonLoopback lets it try', async () => {
    const node = await f.node('a', { mode: 'http' })
    for (const host of ['0.0.0.0', '::', '192.0.2.1', 'example.org']) {
      const err = await startActivityServer(node, { host }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NotLoopbackError)
      expect((err as NotLoopbackError).code).toBe('NOT_LOOPBACK')
      expect((err as NotLoopbackError).host).toBe(host)
      expect((err as Error).message).toMatch(/no authentication.*allowNonLoopback/)
    }
    // 192.0.2.1 (TEST-NET-1) is on no interface here: allowed, the server tries and cannot bind - nothing is sent.
    const err = await startActivityServer(node, { host: '192.0.2.1', allowNonLoopback: true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ListenFailedError)
    expect((err as ListenFailedError).code).toBe('LISTEN_FAILED')
    const v6 = await start(node, { host: '::1' })
    expect(v6.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/)
    expect((await fetch(new URL('/metrics', v6.url))).status).toBe(200)
  })

  it('fails with LISTEN_FAILED on a port in use', async () => {
    const node = await f.node('a', { mode: 'http' })
    const first = await start(node)
    const err = await startActivityServer(node, { port: first.port }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ListenFailedError)
    expect((err as Error).message).toContain(`127.0.0.1:${first.port}`)
  })
})
