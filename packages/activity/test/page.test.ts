import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import { startActivityServer } from '@dopt/activity'
import type { ActivityServer } from '@dopt/activity'
import { launchOptions } from '../scripts/chromium.mjs'
import { MiB, download, fixture, until } from './fixture.js'
import type { Fixture } from './fixture.js'

// The page in a real browser: Debian's chromium, driven by playwright-core. Not skipped when chromium is missing:
// launchOptions() fails, saying to run scripts/ensure-chromium - inside each test, so that each test fails (a
// failing beforeAll would report them as skipped).
let browser: Browser | undefined
afterAll(async () => { await browser?.close() })

let f: Fixture
let server: ActivityServer
let page: Page
const problems: string[] = []
const requests: string[] = []
beforeEach(async () => {
  f = await fixture()
  problems.length = 0
  requests.length = 0
})
afterEach(async () => {
  await page?.close()
  await server?.close()
  await f.close()
})

async function open (node: Parameters<typeof startActivityServer>[0]): Promise<Page> {
  browser ??= await chromium.launch(launchOptions())
  server = await startActivityServer(node, { interval: 200 })
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`) })
  page.on('request', r => requests.push(r.url()))
  await page.goto(server.url)
  await page.waitForSelector('#status[data-state="live"]', { timeout: 10_000 })
  return page
}

const figure = async (p: Page, id: string): Promise<number> => Number(await p.getAttribute(`#${id}`, 'data-value'))

describe('the activity page in chromium', () => {
  it('loads, goes live, and its figures and chart move while a download runs', async () => {
    const { url, sha256 } = f.serve('live.bin', 4 * MiB, 1.5 * MiB)
    const node = await f.node('a')
    const p = await open(node)
    expect(await p.title()).toBe('dopt activity')
    expect(await figure(p, 'total-origin')).toBe(0)
    expect(await p.textContent('#jobs-more')).toBe('no jobs')

    const job = await download(node, url, f.path('live.out'), sha256)
    // Read what the page shows, not the node: a figure between nothing and the whole file, then a larger one.
    const first = await until('the page shows some origin bytes', async () => {
      const v = await figure(p, 'total-origin')
      return v > 0 && v < 4 * MiB ? v : undefined
    })
    const second = await until('the page shows more', async () => {
      const v = await figure(p, 'total-origin')
      return v > first ? v : undefined
    })
    expect(second).toBeGreaterThan(first)
    expect(job.getState()).toBe('transferring')
    const row = p.locator(`#jobs tr[data-job-id="${job.id}"]`)
    expect(await row.locator('.state').textContent()).toBe('transferring')
    expect(Number(await row.locator('.from-origin').getAttribute('data-value'))).toBeGreaterThan(0)
    // The job's own chart of the last minute has its origin area too.
    expect(await row.locator('td.spark path.origin').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+L/)
    // The chart has drawn the origin's rate: an area with points, and a y axis in bytes per second.
    const area = await p.getAttribute('#chart path.origin', 'd')
    expect(area).toMatch(/^M[\d.]+,[\d.]+L/)
    expect(await p.locator('#chart text').allTextContents()).toContain('now')
    expect(await p.textContent('#rate-origin')).toMatch(/\/s$/)

    expect(await job.waitFor()).toBe('transferred')
    await until('the page shows the whole file', async () => await figure(p, 'total-origin') === f.origin.bytesSent ? true : undefined)
    await until('the job shows as transferred', async () => await row.locator('.state').textContent() === 'transferred' ? true : undefined)
    await job.complete()
    await until('the cache shows the file', async () => await figure(p, 'cache-items') === 1 ? true : undefined)
    expect(await figure(p, 'cache-bytes')).toBe(4 * MiB)
    // The totals stay when the job is gone.
    await until('the job row is gone', async () => await p.locator('#jobs tbody tr').count() === 0 ? true : undefined)
    expect(await figure(p, 'total-origin')).toBe(f.origin.bytesSent)

    // A peer takes the file from this node: the page shows it connected and the upload.
    const other = await f.node('b', { peers: node.getMultiaddrs() })
    const copy = await download(other, url, f.path('copy.out'), sha256)
    expect(await copy.waitFor()).toBe('transferred')
    await until('the page shows the upload', async () => await figure(p, 'total-uploaded') === copy.getProgress().bytesFromPeers ? true : undefined)
    expect(copy.getProgress().bytesFromPeers).toBeGreaterThan(0)
    await until('the page shows the peer', async () => await figure(p, 'peer-count') === 1 ? true : undefined)
    expect(await p.locator('#peers tbody td').first().textContent()).toBe(other.peerId)

    expect(problems).toEqual([])
    expect(requests.every(u => u.startsWith(server.url))).toBe(true)
  })

  it('has nothing that could change a job: no forms, buttons or inputs', async () => {
    const node = await f.node('a', { mode: 'http' })
    const job = await node.jobs.createJob('read-only')
    const p = await open(node)
    await until('the job is listed', async () => await p.locator(`#jobs tr[data-job-id="${job.id}"]`).count() === 1 ? true : undefined)
    expect(await p.locator('form, button, input, select, textarea, [contenteditable]').count()).toBe(0)
    // What a script on the page could send is refused by the server.
    const status = await p.evaluate(async () => (await fetch('/events', { method: 'POST' })).status)
    expect(status).toBe(405)
    expect(job.getState()).toBe('suspended')
    expect(problems).toEqual(['console error: Failed to load resource: the server responded with a status of 405 (Method Not Allowed)'])
  })
})
