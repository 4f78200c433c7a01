import '../src/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DATA_HEADER, EntryKind, FrameDecoder, HEADER_LENGTH, MAX_KEY_LENGTH, MAX_PAYLOAD, MessageType, RefuseReason, decodeEntries, decodeKey,
  decodePieceRequest, decodeRefuse, decodeState, encodeDataHeader, encodeEntries, encodeFrame, encodeHeader, encodeKey, encodePieceRequest,
  encodeRefuse, encodeState, receivable
} from '../src/codec.js'
import { PeerProtocolError } from '../src/errors.js'
import { createNode, stopNode } from '../src/node.js'
import { pieceProtocol } from '../src/piece-protocol.js'
import { MemoryContent, Nodes, cidOf, makeFile, sha256Hex } from './helpers.js'
import type { Entry, Frame, ProtocolVersion } from '../src/codec.js'
import type { DoptLibp2p } from '../src/node.js'
import type { ContentEntry, ContentSubscription, P2P } from '../src/index.js'
import type { Stream } from '@libp2p/interface'

/**
 * Fuzzing of the piece protocol: the codec's decoders on random and mutated input, and a serving node fed malformed
 * frames of every kind on raw streams of both versions while honest peers fetch from it. Deterministic for a seed:
 * the seed is in the suite's name (so in every failure), and DOPT_FUZZ_SEED=<n> reruns one.
 */
const SEED = Number(process.env.DOPT_FUZZ_SEED ?? 0x5eed) >>> 0

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
class Rng {
  #a: number
  constructor (seed: number) { this.#a = seed >>> 0 }
  next (): number {
    this.#a = (this.#a + 0x6d2b79f5) | 0
    let t = Math.imul(this.#a ^ (this.#a >>> 15), 1 | this.#a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** 0 <= n < max */
  int (max: number): number { return Math.floor(this.next() * max) }
  range (min: number, max: number): number { return min + this.int(max - min + 1) }
  u32 (): number { return this.int(0x100000000) }
  bool (p = 0.5): boolean { return this.next() < p }
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)]! }
  bytes (n: number): Uint8Array { return Uint8Array.from({ length: n }, () => this.int(256)) }
}

const REQUESTS = [MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.CANCEL, MessageType.SUBSCRIBE]
const ANSWERS = [MessageType.MANIFEST, MessageType.HAVE, MessageType.PIECE, MessageType.STATE, MessageType.UPDATE, MessageType.DATA, MessageType.REFUSE]
const KNOWN = new Set<number>([...REQUESTS, ...ANSWERS])
const UNKNOWN_TYPES = Array.from({ length: 256 }, (_, i) => i).filter(t => !KNOWN.has(t))

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

/** One to four random edits of `input`: bit flips, overwrites, truncation, insertion, deletion, duplication. */
function mutate (rng: Rng, input: Uint8Array): Uint8Array {
  let b = input
  for (let n = rng.range(1, 4); n > 0; n--) {
    const at = rng.int(b.byteLength + 1)
    switch (rng.int(6)) {
      case 0: if (b.byteLength > 0) { b = b.slice(); b[at % b.byteLength]! ^= 1 << rng.int(8) } break
      case 1: if (b.byteLength > 0) { b = b.slice(); b[at % b.byteLength] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]) } break
      case 2: b = b.subarray(0, at); break
      case 3: b = concat([b.subarray(0, at), rng.bytes(rng.range(1, 8)), b.subarray(at)]); break
      case 4: b = concat([b.subarray(0, at), b.subarray(Math.min(b.byteLength, at + rng.range(1, 8)))]); break
      default: b = concat([b.subarray(0, at), b.subarray(at, at + rng.range(1, 16)), b.subarray(at)])
    }
  }
  return b
}

/** A valid frame a side may receive, with a small random payload. */
function validFrame (rng: Rng, side: 'server' | 'client', version: ProtocolVersion, key: string): Uint8Array {
  const types = (side === 'server' ? REQUESTS : ANSWERS).filter(receivable(side, version))
  const type = rng.pick(types)
  const id = rng.bool(0.1) ? rng.pick([0, 0xffffffff]) : rng.range(1, 1000)
  switch (type) {
    case MessageType.PIECE_REQ: return encodeFrame(type, id, encodePieceRequest(key, rng.u32()))
    case MessageType.CANCEL: return encodeFrame(type, id)
    case MessageType.STATE: {
      const pieceCount = rng.int(100)
      return encodeFrame(type, id, encodeState({ pieceSize: rng.u32(), pieceCount, flags: rng.int(2), have: rng.bytes(Math.ceil(pieceCount / 8)) }))
    }
    case MessageType.UPDATE: return encodeFrame(type, id, encodeEntries(randomEntries(rng))[0] ?? new Uint8Array(0))
    case MessageType.DATA: {
      const total = rng.range(1, 4096)
      const offset = rng.int(total)
      const part = rng.bytes(rng.range(0, total - offset))
      return concat([encodeDataHeader(id, total, offset, part.byteLength), part])
    }
    case MessageType.REFUSE: return encodeFrame(type, id, encodeRefuse(rng.range(0, 6) as RefuseReason, 'x'.repeat(rng.int(40))))
    case MessageType.MANIFEST_REQ: case MessageType.HAVE_REQ: case MessageType.SUBSCRIBE: return encodeFrame(type, id, encodeKey(key))
    default: return encodeFrame(type, id, rng.bytes(rng.int(300)))
  }
}

function randomEntries (rng: Rng): Entry[] {
  const kinds = Object.values(EntryKind)
  return Array.from({ length: rng.int(8) }, () => {
    const kind = rng.pick(kinds)
    return kind === EntryKind.VOUCH ? { kind, index: rng.u32(), hash: rng.bytes(32) } : { kind, index: rng.u32() }
  })
}

/** Runs `fn`; a throw must be the codec's own error. Returns what the failure was, or null. */
function onlyProtocolErrors (fn: () => unknown): string | null {
  try {
    fn()
    return null
  } catch (err) {
    return err instanceof PeerProtocolError ? null : `${(err as Error).name}: ${(err as Error).message}`
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe(`piece protocol fuzz (seed ${SEED}; rerun with DOPT_FUZZ_SEED=${SEED})`, () => {
  describe('codec', () => {
    const KEY = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

    it('payload decoders answer a value or PeerProtocolError for random and mutated input', () => {
      const rng = new Rng(SEED ^ 0x1)
      const corpus = [
        encodeKey(KEY), encodeKey('é'.repeat(128)), encodePieceRequest(KEY, 7), encodePieceRequest('k', 0xffffffff), encodeRefuse(RefuseReason.BUSY, 'busy'),
        encodeRefuse(RefuseReason.NOT_FOUND), encodeState({ pieceSize: 65536, pieceCount: 13, flags: 1, have: new Uint8Array([0xff, 0xf8]) }),
        encodeState({ pieceSize: 1, pieceCount: 0, flags: 0, have: new Uint8Array(0) }), ...encodeEntries(randomEntries(rng)),
        ...encodeEntries([{ kind: EntryKind.VOUCH, index: 3, hash: new Uint8Array(32).fill(7) }, { kind: EntryKind.LOST, index: 0xffffffff }])
      ]
      const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
        ['decodeKey', decodeKey], ['decodePieceRequest', decodePieceRequest], ['decodeRefuse', decodeRefuse], ['decodeState', decodeState],
        ['decodeEntries', decodeEntries]
      ]
      const started = performance.now()
      const failures: string[] = []
      let decoded = 0
      for (let i = 0; i < 4000; i++) {
        const input = rng.bool(0.3) ? rng.bytes(rng.int(rng.bool(0.9) ? 64 : 600)) : mutate(rng, rng.pick(corpus))
        for (const [name, decode] of decoders) {
          const failure = onlyProtocolErrors(() => {
            const value = decode(input)
            decoded++
            // What decodes must mean exactly the bytes it came from.
            if (name === 'decodeState') {
              const state = value as ReturnType<typeof decodeState>
              expect(hex(encodeState(state))).toBe(hex(input))
            }
            if (name === 'decodeEntries') expect(hex(concat(encodeEntries(value as Entry[])))).toBe(hex(input))
            if (name === 'decodeKey') expect(hex(encodeKey(value as string))).toBe(hex(input))
            if (name === 'decodePieceRequest') {
              const { manifestCid, index } = value as ReturnType<typeof decodePieceRequest>
              expect(hex(encodePieceRequest(manifestCid, index))).toBe(hex(input))
            }
          })
          if (failure !== null) failures.push(`${name}(${hex(input)}): ${failure}`)
        }
      }
      expect(failures.slice(0, 5)).toEqual([])
      expect(decoded).toBeGreaterThan(1000) // the mutations leave plenty decodable: both paths ran
      expect(performance.now() - started).toBeLessThan(5_000)
    })

    it('a key is exactly its bytes: a leading byte-order mark is kept, not dropped', () => {
      const bom = new Uint8Array([0xef, 0xbb, 0xbf])
      expect(decodeKey(bom)).toBe('\ufeff') // not the empty key
      expect(decodeKey(concat([bom, encodeKey(KEY)]))).toBe(`\ufeff${KEY}`)
      expect(decodePieceRequest(concat([new Uint8Array(4), bom])).manifestCid).toBe('\ufeff')
    })

    for (const side of ['server', 'client'] as const) {
      for (const version of ['1.0.0', '1.1.0'] as const) {
        it(`FrameDecoder (${side}, ${version}) takes random, mutated and split streams: frames within limits or PeerProtocolError`, () => {
          const rng = new Rng(SEED ^ (side === 'server' ? 0x20 : 0x40) ^ (version === '1.1.0' ? 0x100 : 0))
          const accept = receivable(side, version)
          const started = performance.now()
          const failures: string[] = []
          let frames = 0
          for (let i = 0; i < 1500; i++) {
            const valid = concat(Array.from({ length: rng.range(1, 5) }, () => validFrame(rng, side, version, KEY)))
            const kind = rng.int(3)
            const input = kind === 0 ? valid : kind === 1 ? mutate(rng, valid) : rng.bytes(rng.range(1, 200))
            const got: Frame[] = []
            // The client's decoder asks where payloads go: sometimes a buffer, too short or long enough.
            const target = side === 'client' && rng.bool()
              ? (_t: number, _id: number, length: number) => rng.bool(0.7) ? new Uint8Array(length + rng.int(3) - 1) : undefined
              : undefined
            const decoder = new FrameDecoder(f => { got.push({ ...f, payload: f.payload.slice() }) }, accept, target)
            let thrown: unknown = null
            try {
              for (let at = 0; at < input.byteLength;) {
                const step = rng.bool(0.3) ? 1 : rng.range(1, input.byteLength)
                decoder.push(input.subarray(at, at + step))
                at += step
              }
            } catch (err) {
              thrown = err
            }
            if (thrown !== null && !(thrown instanceof PeerProtocolError)) failures.push(`${hex(input)}: ${String(thrown)}`)
            if (kind === 0 && thrown !== null) failures.push(`valid ${hex(input)}: ${String(thrown)}`)
            for (const f of got) {
              frames++
              if (!accept(f.type)) failures.push(`${hex(input)}: emitted type ${f.type}`)
              if (f.payload.byteLength > MAX_PAYLOAD[f.type]) failures.push(`${hex(input)}: payload over the limit`)
              if (f.type === MessageType.DATA && (f.total! > MAX_PAYLOAD[MessageType.PIECE] || f.offset! + f.payload.byteLength > f.total!)) {
                failures.push(`${hex(input)}: DATA part outside its piece`)
              }
            }
            // Unmutated: the frames and payloads sent, whatever the splits.
            if (kind === 0) expect(hex(concat(got.map(reencode)))).toBe(hex(input))
          }
          expect(failures.slice(0, 5)).toEqual([])
          expect(frames).toBeGreaterThan(1500)
          expect(performance.now() - started).toBeLessThan(5_000)
        })
      }
    }
  })
})

/** The bytes of a decoded frame, as it was sent. */
function reencode (f: Frame): Uint8Array {
  if (f.type === MessageType.DATA) return concat([encodeDataHeader(f.id, f.total!, f.offset!, f.payload.byteLength), f.payload])
  return encodeFrame(f.type, f.id, f.payload)
}
