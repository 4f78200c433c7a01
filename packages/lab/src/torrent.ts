import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { InvalidArgumentError } from '@dopt/interface'
import { bencode } from './bencode.js'

/** A single-file torrent's info dictionary, hashed once; `torrentFile` makes .torrent bytes from it. */
export interface TorrentInfo {
  /** The bencoded `info` dictionary. */
  info: Uint8Array
  /** SHA-1 of `info`, 20 bytes: the swarm's identity. */
  infoHash: Uint8Array
  name: string
  length: number
  pieceLength: number
  pieceCount: number
}

export interface TorrentFileInit {
  /** Tracker announce URL. */
  announce: string
  /** BEP 19 web seeds (GetRight style), written as `url-list`; for a single file, URLs of the file itself. */
  urlList?: string[]
  /** @default none (so the bytes are the same on every run) */
  creationDate?: number
}

/**
 * Hashes `path` into a single-file torrent info dictionary (BEP 3): `name`, `length`, `piece length` and the
 * concatenated 20-byte SHA-1s of its pieces, the last one short. `private` is set (BEP 27) so that a client that
 * honours it never looks for peers outside the tracker (no DHT, PEX or LPD), whatever its settings.
 */
export async function hashTorrentInfo (path: string, name: string, pieceLength: number): Promise<TorrentInfo> {
  if (!Number.isSafeInteger(pieceLength) || pieceLength < 16 * 1024) {
    throw new InvalidArgumentError(`A torrent piece length must be an integer of at least 16 KiB: ${pieceLength}`)
  }
  if (name === '' || name.includes('/') || name === '.' || name === '..') {
    throw new InvalidArgumentError(`Not a plain file name: "${name}"`)
  }
  const { size } = await stat(path)
  if (size === 0) throw new InvalidArgumentError('A torrent needs a non-empty file', { path })
  const pieceCount = Math.ceil(size / pieceLength)
  const pieces = new Uint8Array(pieceCount * 20)
  let index = 0
  let hash = createHash('sha1')
  let filled = 0
  for await (const chunk of createReadStream(path, { highWaterMark: Math.min(pieceLength, 4 * 1024 * 1024) }) as AsyncIterable<Buffer>) {
    let data = chunk
    while (data.byteLength > 0) {
      const n = Math.min(data.byteLength, pieceLength - filled)
      hash.update(data.subarray(0, n))
      filled += n
      data = data.subarray(n)
      if (filled === pieceLength) {
        pieces.set(hash.digest(), index++ * 20)
        hash = createHash('sha1')
        filled = 0
      }
    }
  }
  if (filled > 0) pieces.set(hash.digest(), index++ * 20)
  if (index !== pieceCount) throw new InvalidArgumentError('The file changed while it was hashed', { path })
  const info = bencode({ length: size, name, 'piece length': pieceLength, pieces, private: 1 })
  const infoHash = new Uint8Array(createHash('sha1').update(info).digest())
  return { info, infoHash, name, length: size, pieceLength, pieceCount }
}

/** The bytes of a .torrent file for `info`. Web seeds sit outside `info`, so each client may get its own. */
export function torrentFile (info: TorrentInfo, init: TorrentFileInit): Uint8Array {
  const head = new Map<string, Uint8Array | string | number | string[]>([['announce', init.announce]])
  if (init.creationDate !== undefined) head.set('creation date', init.creationDate)
  if (init.urlList !== undefined && init.urlList.length > 0) head.set('url-list', init.urlList)
  // `info` is spliced in as already-encoded bytes, so its hash is exactly `infoHash`.
  const keys = [...head.keys(), 'info'].sort()
  const parts: Uint8Array[] = [Uint8Array.of(0x64)]
  for (const key of keys) {
    parts.push(bencode(key))
    parts.push(key === 'info' ? info.info : bencode(head.get(key)!))
  }
  parts.push(Uint8Array.of(0x65))
  return Buffer.concat(parts)
}

/** Hex form of an info hash (as opentracker's whitelist wants it). */
export function infoHashHex (info: TorrentInfo): string {
  return Buffer.from(info.infoHash).toString('hex')
}
