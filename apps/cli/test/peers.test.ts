import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomBytesSeeded } from '@dopt/lab'
import { hasStackTrace, jsonLine, run, sandbox, start, waitUntil } from './helpers.js'
import type { Running, Sandbox } from './helpers.js'

const MiB = 1 << 20
const LOCAL = ['--listen', '/ip4/127.0.0.1/tcp/0']

describe('dopt daemon and get --peer', () => {
  let box: Sandbox
  let daemon: Running | null = null
  beforeEach(async () => { box = await sandbox() })
  afterEach(async () => {
    daemon?.child.kill('SIGKILL')
    daemon = null
    await box.cleanup()
  })

  it('a daemon serves what an earlier get cached, to a get on another node', async () => {
    const data = randomBytesSeeded(6 * MiB, 5)
    box.origin.setFile('/f.bin', { data })
    const url = box.origin.url('/f.bin')
    const seedDir = join(box.dir, 'seed-data')
    const first = jsonLine(await run(['get', url, '-o', join(box.dir, 'seed.bin'), '--data-dir', seedDir, '--json', ...LOCAL]))
    expect(first.state).toBe('acknowledged')

    const running = start(['daemon', '--data-dir', seedDir, '--json', ...LOCAL])
    daemon = running
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: running.child.stdout! }).once('line', resolve)
      running.child.once('exit', code => { reject(new Error(`daemon exited with ${code}: ${running.stderr}`)) })
    })
    const ready = JSON.parse(line) as { peerId: string, listen: string[], api: unknown }
    expect(ready.peerId).toMatch(/^12D3KooW/)
    expect(ready.listen[0]).toContain(`/p2p/${ready.peerId}`)
    expect(ready.listen.every(a => a.startsWith('/ip4/127.0.0.1/'))).toBe(true)

    // A generous discovery window: a loaded CI machine may take seconds to connect to the daemon.
    const patient = join(box.dir, 'patient.json')
    await writeFile(patient, JSON.stringify({ discoveryTimeout: 15, originDelay: 15 }))
    const sent = box.origin.bytesSent
    const sha256 = createHash('sha256').update(data).digest('hex')
    const r = await run(['get', url, '-o', join(box.dir, 'leech.bin'), '--data-dir', join(box.dir, 'leech-data'), '--json', ...LOCAL, '--peer', ready.listen[0]!, '--config', patient, '--sha256', sha256])
    const second = jsonLine(r)
    expect(second.state, r.stderr).toBe('acknowledged')
    expect(second.bytesFromPeers).toBe(data.byteLength)
    expect(second.bytesFromOrigin).toBe(0)
    expect(Buffer.compare(await readFile(join(box.dir, 'leech.bin')), data)).toBe(0)
    // Nothing came from the origin (the peer vouched for every piece, the SHA-256 checked them all), as it says.
    expect(box.origin.bytesSent - sent).toBe(0)

    running.child.kill('SIGTERM')
    const end = await running.done
    expect(end.code).toBe(0)
    daemon = null
  })

  it('a daemon in mode http (nothing to listen on) keeps running until SIGTERM, then exits 0', async () => {
    // It used to exit at once: signal handlers keep no process alive, and nothing else did.
    const running = start(['daemon', '--data-dir', box.dataDir, '--json', '--mode', 'http'])
    daemon = running
    await waitUntil('the daemon is ready', () => running.stdout.includes('\n'))
    expect(JSON.parse(running.stdout)).toMatchObject({ peerId: null, listen: [], mode: 'http', dataDir: box.dataDir })
    await sleep(500)
    expect(running.child.exitCode, running.stderr).toBe(null)
    running.child.kill('SIGTERM')
    const end = await running.done
    expect(end.code, end.stderr).toBe(0)
    expect(end.stderr).toBe('')
    daemon = null
  })

  it('--mode http ignores --peer', async () => {
    const data = randomBytesSeeded(2 * MiB, 6)
    box.origin.setFile('/h.bin', { data })
    const r = await run(['get', box.origin.url('/h.bin'), '-o', join(box.dir, 'h.bin'), '--data-dir', box.dataDir, '--json', '--mode', 'http', '--peer', '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWQxBE1Sd4ycUMjZZ69pmoX6bHHcFVQaeiX4pyPjFQJRdw'])
    const result = jsonLine(r)
    expect(result.state).toBe('acknowledged')
    expect(result.bytesFromOrigin).toBe(data.byteLength)
  })

  it('bad --peer and --listen addresses, or one it cannot listen on, exit 2 at once with their code and no trace', async () => {
    const url = box.origin.url('/none.bin')
    const out = join(box.dir, 'none.bin')
    const badPeer = await run(['get', url, '-o', out, '--data-dir', box.dataDir, '--json', '--peer', 'garbage'])
    expect(badPeer.code, badPeer.stderr).toBe(2) // it exits: no half-started node keeps it alive
    expect(jsonLine(badPeer).error).toMatchObject({ code: 'INVALID_ARGUMENT' })
    const badListen = await run(['daemon', '--data-dir', box.dataDir, '--listen', 'garbage'])
    expect(badListen.code, badListen.stderr).toBe(2)
    expect(badListen.stderr).toMatch(/listen: not a multiaddr: "garbage" \(INVALID_ARGUMENT\)/)
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as AddressInfo).port
    try {
      const busy = await run(['daemon', '--data-dir', box.dataDir, '--listen', `/ip4/127.0.0.1/tcp/${port}`])
      expect(busy.code, busy.stderr).toBe(2)
      expect(busy.stderr).toContain('(LISTEN_FAILED)')
      for (const r of [badPeer, badListen, busy]) expect(hasStackTrace(r.stderr)).toBe(false)
    } finally {
      taken.close()
    }
  })

  it('rejects a bad --config with exit 2', async () => {
    const config = join(box.dir, 'bad.json')
    await writeFile(config, JSON.stringify({ maxCacheSize: 'big' }))
    const r = await run(['daemon', '--data-dir', box.dataDir, '--config', config])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('maxCacheSize must be a number')
  })
})
