import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { bdecode } from '../src/bencode.js'
import { findOnPath, parseQuery, percentEncode, startTracker } from '../src/tracker.js'
import type { Tracker } from '../src/tracker.js'

const HASH = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 200) % 256)

async function get (url: string): Promise<Map<string, unknown>> {
  return await new Promise((resolve, reject) => {
    request(url, { agent: false }, res => {
      const chunks: Buffer[] = []
      res.on('data', (b: Buffer) => chunks.push(b))
      res.on('end', () => { resolve(bdecode(Buffer.concat(chunks)) as Map<string, unknown>) })
    }).on('error', reject).end()
  })
}

const announce = async (tracker: Tracker, port: number, extra = ''): Promise<Map<string, unknown>> =>
  await get(`${tracker.announceUrl}?info_hash=${percentEncode(HASH)}&peer_id=-XX0000-${String(port).padStart(12, '0')}` +
    `&port=${port}&uploaded=0&downloaded=0&left=100&compact=1${extra}`)

/** Peers other than the announcer (opentracker lists the announcer too), from the compact list (BEP 23). */
const others = async (tracker: Tracker, port: number, extra = ''): Promise<string[]> =>
  peersOf(await announce(tracker, port, extra)).filter(p => p !== `127.0.0.1:${port}`).sort()

/** Compact peers (BEP 23) as "ip:port". */
const peersOf = (reply: Map<string, unknown>): string[] => {
  const bytes = Buffer.from(reply.get('peers') as Uint8Array)
  const out: string[] = []
  for (let i = 0; i + 6 <= bytes.length; i += 6) out.push(`${[...bytes.subarray(i, i + 4)].join('.')}:${bytes.readUInt16BE(i + 4)}`)
  return out
}

describe('tracker', () => {
  let dir: string
  let tracker: Tracker | undefined
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-tracker-')) })
  afterEach(async () => {
    await tracker?.close()
    tracker = undefined
    await rm(dir, { recursive: true, force: true })
  })

  it('parses binary query values byte for byte', () => {
    const q = parseQuery(`info_hash=${percentEncode(HASH)}&port=6881&x=a+b&flag`)
    expect(Buffer.from(q.get('info_hash')![0]!)).toEqual(Buffer.from(HASH))
    expect(Buffer.from(q.get('port')![0]!).toString()).toBe('6881')
    expect(Buffer.from(q.get('x')![0]!).toString()).toBe('a b')
    expect(q.get('flag')![0]!.byteLength).toBe(0)
  })

  for (const prefer of ['builtin', 'auto'] as const) {
    it(`announces peers on 127.0.0.1 to each other and counts seeds (${prefer})`, async () => {
      tracker = await startTracker({ infoHashes: [HASH], workDir: dir, prefer })
      const onPath = await findOnPath('opentracker', process.env.PATH ?? '')
      expect(tracker.kind).toBe(prefer === 'auto' && onPath !== null ? 'opentracker' : 'builtin')
      expect(tracker.announceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/announce$/)

      expect(await others(tracker, 40001)).toEqual([])
      expect(await others(tracker, 40002)).toEqual(['127.0.0.1:40001'])
      expect(await others(tracker, 40003)).toEqual(['127.0.0.1:40001', '127.0.0.1:40002'])
      expect(await tracker.seeders(HASH)).toBe(0)
      await get(`${tracker.announceUrl}?info_hash=${percentEncode(HASH)}&peer_id=-XX0000-000000040004&port=40004&uploaded=0&downloaded=0&left=0&compact=1`)
      expect(await tracker.seeders(HASH)).toBe(1)

      // A peer that stops is forgotten.
      await announce(tracker, 40002, '&event=stopped')
      expect(await others(tracker, 40001)).toEqual(['127.0.0.1:40003', '127.0.0.1:40004'])

      // Only the run's torrent is served.
      const other = await get(`${tracker.announceUrl}?info_hash=${percentEncode(new Uint8Array(20))}&peer_id=-XX0000-000000000001&port=1&uploaded=0&downloaded=0&left=1&compact=1`)
      expect(other.has('failure reason')).toBe(true)
    })
  }

  it('falls back to the built-in tracker when opentracker is not on the PATH', async () => {
    tracker = await startTracker({ infoHashes: [HASH], workDir: dir, path: dir })
    expect(tracker.kind).toBe('builtin')
  })
})
