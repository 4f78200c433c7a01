import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { bdecode, bencodedSpan } from '../src/bencode.js'
import { randomBytesSeeded } from '../src/random-file.js'
import { hashTorrentInfo, infoHashHex, torrentFile } from '../src/torrent.js'

const sha1 = (data: Uint8Array): Buffer => createHash('sha1').update(data).digest()
const text = (value: unknown): string => Buffer.from(value as Uint8Array).toString('latin1')

describe('torrent', () => {
  let dir: string
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-torrent-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('hashes each piece with SHA-1, the last one short', async () => {
    const data = randomBytesSeeded(5 * 16384 + 1000, 3)
    const path = join(dir, 'payload.bin')
    await writeFile(path, data)
    const info = await hashTorrentInfo(path, 'payload.bin', 32768)
    expect(info.pieceCount).toBe(3)
    expect(info.length).toBe(data.byteLength)
    const dict = bdecode(info.info) as Map<string, unknown>
    expect([...dict.keys()]).toEqual(['length', 'name', 'piece length', 'pieces', 'private'])
    expect(dict.get('length')).toBe(data.byteLength)
    expect(text(dict.get('name'))).toBe('payload.bin')
    expect(dict.get('piece length')).toBe(32768)
    expect(dict.get('private')).toBe(1)
    const pieces = dict.get('pieces') as Uint8Array
    expect(pieces.byteLength).toBe(60)
    for (let i = 0; i < 3; i++) {
      expect(Buffer.from(pieces.subarray(i * 20, i * 20 + 20))).toEqual(sha1(data.subarray(i * 32768, (i + 1) * 32768)))
    }
    expect(Buffer.from(info.infoHash)).toEqual(sha1(info.info))
    expect(infoHashHex(info)).toMatch(/^[0-9a-f]{40}$/)
  })

  it('writes a .torrent whose info hash is the SHA-1 of its info bytes, with announce and url-list', async () => {
    const path = join(dir, 'payload.bin')
    await writeFile(path, randomBytesSeeded(40000, 1))
    const info = await hashTorrentInfo(path, 'payload.bin', 16384)
    const bytes = torrentFile(info, { announce: 'http://127.0.0.1:9/announce', urlList: ['http://127.0.0.1:8/c/0/payload.bin'] })
    const span = bencodedSpan(bytes, 'info')!
    expect(Buffer.from(sha1(bytes.subarray(span.start, span.end)))).toEqual(Buffer.from(info.infoHash))
    const dict = bdecode(bytes) as Map<string, unknown>
    expect([...dict.keys()]).toEqual(['announce', 'info', 'url-list'])
    expect(text(dict.get('announce'))).toBe('http://127.0.0.1:9/announce')
    expect((dict.get('url-list') as unknown[]).map(text)).toEqual(['http://127.0.0.1:8/c/0/payload.bin'])

    // Another client's web seed: a different file, the same swarm.
    const other = torrentFile(info, { announce: 'http://127.0.0.1:9/announce', urlList: ['http://127.0.0.1:8/c/1/payload.bin'] })
    const otherSpan = bencodedSpan(other, 'info')!
    expect(Buffer.from(other)).not.toEqual(Buffer.from(bytes))
    expect(sha1(other.subarray(otherSpan.start, otherSpan.end))).toEqual(sha1(bytes.subarray(span.start, span.end)))
    expect([...(bdecode(torrentFile(info, { announce: 'x' })) as Map<string, unknown>).keys()]).toEqual(['announce', 'info'])
  })

  it('refuses bad piece lengths, names and empty files', async () => {
    const path = join(dir, 'payload.bin')
    await writeFile(path, randomBytesSeeded(100, 1))
    await expect(hashTorrentInfo(path, 'payload.bin', 1000)).rejects.toThrow(InvalidArgumentError)
    await expect(hashTorrentInfo(path, 'a/b', 16384)).rejects.toThrow(InvalidArgumentError)
    await writeFile(join(dir, 'empty'), '')
    await expect(hashTorrentInfo(join(dir, 'empty'), 'empty', 16384)).rejects.toThrow(/non-empty/)
  })
})
