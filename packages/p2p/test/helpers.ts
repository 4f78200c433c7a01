import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { createP2P } from '../src/index.js'
import type { ContentProvider, P2P, P2PInit, PieceData } from '../src/index.js'

/** A CID string naming `bytes` (raw codec, sha2-256), as content keys and manifest CIDs look. */
export async function cidOf (bytes: Uint8Array): Promise<string> {
  return CID.create(1, 0x55, await sha256.digest(bytes)).toString()
}

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** One file held in memory: its manifest bytes, pieces and the bitfield of all pieces. */
export interface MemoryFile {
  manifestCid: string
  manifest: Uint8Array
  pieces: Uint8Array[]
}

export async function makeFile (pieceCount: number, pieceSize: number): Promise<MemoryFile> {
  const pieces = Array.from({ length: pieceCount }, () => new Uint8Array(randomBytes(pieceSize)))
  const manifest = new TextEncoder().encode(JSON.stringify({ pieceSize, hashes: pieces.map(sha256Hex) }))
  return { manifestCid: await cidOf(manifest), manifest, pieces }
}

/** A ContentProvider over a Map: what a test node serves. */
export class MemoryContent implements ContentProvider {
  readonly files = new Map<string, MemoryFile>()
  readonly keys = new Map<string, string>()

  add (file: MemoryFile, contentKey?: string): void {
    this.files.set(file.manifestCid, file)
    if (contentKey !== undefined) this.keys.set(contentKey, file.manifestCid)
  }

  async getManifest (key: string): Promise<Uint8Array | null> {
    return this.files.get(this.keys.get(key) ?? key)?.manifest ?? null
  }

  async getHave (manifestCid: string): Promise<Uint8Array | null> {
    const file = this.files.get(manifestCid)
    if (file === undefined) return null
    const bits = new Uint8Array(Math.ceil(file.pieces.length / 8))
    for (let i = 0; i < file.pieces.length; i++) bits[i >> 3]! |= 0x80 >> (i & 7)
    return bits
  }

  async readPiece (manifestCid: string, index: number): Promise<PieceData | null> {
    return this.files.get(manifestCid)?.pieces[index] ?? null
  }
}

/** Starts nodes and stops every one of them in `stopAll` (call it in afterEach). */
export class Nodes {
  readonly #nodes: P2P[] = []
  readonly #dirs: string[] = []

  async start (init: P2PInit = {}, content: ContentProvider = new MemoryContent()): Promise<P2P> {
    const node = await createP2P({ mdns: false, dht: false, ...init }, { content })
    this.#nodes.push(node)
    return node
  }

  async tempDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dopt-p2p-'))
    this.#dirs.push(dir)
    return dir
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.#nodes.splice(0).map(async n => { await n.stop() }))
    await Promise.all(this.#dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}
