import '../src/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  EntryKind, FrameDecoder, HEADER_LENGTH, KiB, MAX_KEY_LENGTH, MiB, MAX_PAYLOAD, MessageType, RefuseReason, decodeEntries, decodeKey,
  decodePieceRequest, decodeRefuse, decodeState, encodeDataHeader, encodeEntries, encodeFrame, encodeHeader, encodeKey, encodePieceRequest,
  encodeRefuse, encodeState, receivable
} from '../src/codec.js'
import { PeerProtocolError } from '../src/errors.js'
import { createNode, stopNode } from '../src/node.js'
import { pieceProtocol, versionOf, waitForDrain } from '../src/piece-protocol.js'
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

  describe('a serving node on raw streams', () => {
    const nodes = new Nodes()
    const attackers: DoptLibp2p[] = []
    const content = new FuzzContent()
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }
    let file: Awaited<ReturnType<typeof makeFile>>
    let contentKey: string
    let seed: P2P
    let seedAddr: string

    beforeAll(async () => {
      process.on('uncaughtException', onUncaught)
      process.on('unhandledRejection', onUncaught)
      file = await makeFile(8, 64 * 1024)
      contentKey = await cidOf(new TextEncoder().encode(`content of ${file.manifestCid}`))
      content.add(file, contentKey)
      seed = await nodes.start({ writeTimeout: 3_000 }, content)
      seedAddr = seed.getMultiaddrs()[0]!
      for (let i = 0; i < 2; i++) {
        const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], groupId: 'default', dht: false })
        await node.start()
        attackers.push(node)
      }
    })

    afterAll(async () => {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUncaught)
      await Promise.all(attackers.splice(0).map(async a => { await stopNode(a) }))
      await nodes.stopAll()
    })

    it('survives malformed frames of every kind, resets the streams the protocol says, and keeps serving honest peers correctly', async () => {
      const rng = new Rng(SEED ^ 0x1000)
      const ctx: Ctx = { file, contentKey }
      const honest = [await nodes.start({ peers: [seedAddr] }), await nodes.start({ peers: [seedAddr], protocolVersions: ['1.0.0'] })]
      const wanted = file.pieces.map(sha256Hex)
      const fetchAll = async (peer: P2P): Promise<void> => {
        expect(await peer.fetchManifest(seed.peerId, file.manifestCid, { timeout: 10_000 })).toEqual(file.manifest)
        const pieces = await Promise.all(file.pieces.map(async (_, i) => await peer.fetchPiece(seed.peerId, file.manifestCid, i, { timeout: 10_000 })))
        expect(pieces.map(sha256Hex)).toEqual(wanted)
      }
      await Promise.all(honest.map(fetchAll))
      const heapBefore = process.memoryUsage().heapUsed

      // Honest fetches go on all through the fuzzing.
      let fuzzing = true
      let honestRounds = 0
      const honestLoop = Promise.all(honest.map(async peer => {
        while (fuzzing) { await fetchAll(peer); honestRounds++ }
      })).then(() => null, (err: unknown) => err)

      const cases: Array<{ version: ProtocolVersion, c: Case }> = []
      for (let round = 0; round < 16; round++) {
        for (const kind of KINDS) {
          for (const version of ['1.1.0', '1.0.0'] as const) {
            if (kind.versions !== undefined && !kind.versions.includes(version)) continue
            if (kind.once === true && round > 0) continue
            cases.push({ version, c: { ...kind.make(rng, version, ctx), kind: kind.name } })
          }
        }
      }
      const started = Date.now()
      const failures: string[] = []
      const byKind = new Map<string, number>()
      let messages = 0
      let next = 0
      await Promise.all(Array.from({ length: 16 }, async (_, worker) => {
        while (next < cases.length) {
          const { version, c } = cases[next++]!
          messages += c.messages
          byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1)
          const out = await probe(attackers[worker % attackers.length]!, seedAddr, version, c)
          const problem = out.badAnswer ?? (out.end === 'hung' ? 'the stream hung' : null) ??
            (c.expect !== 'any' && out.end !== c.expect ? `ended ${out.end}, expected ${c.expect}` : null) ?? c.check?.(out.frames) ?? null
          if (problem !== null) failures.push(`${c.kind} (${version}): ${problem}`)
        }
      }))
      fuzzing = false
      expect(await honestLoop).toBeNull()
      const seconds = (Date.now() - started) / 1000

      expect(failures.slice(0, 10)).toEqual([])
      expect(uncaught).toEqual([])
      expect(byKind.size).toBeGreaterThanOrEqual(30)
      expect(messages).toBeGreaterThan(2_000)
      expect(seconds).toBeLessThan(15)
      expect(honestRounds).toBeGreaterThan(0)
      // Every subscription the fuzzing opened was closed with its stream.
      await waitFor(() => content.open === 0, 3_000)
      expect(content.open).toBe(0)
      // The seed still serves everyone, correctly, and its memory did not run away.
      await Promise.all(honest.map(fetchAll))
      const late = await nodes.start({ peers: [seedAddr] })
      await fetchAll(late)
      expect(seed.connectedPeers()).toEqual(expect.arrayContaining(honest.map(h => h.peerId)))
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(128 * 1024 * 1024)
    }, 30_000)
  })

  describe('an asking node against a malicious server', () => {
    const nodes = new Nodes()
    let evil: DoptLibp2p
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => { uncaught.push(err) }

    beforeAll(async () => {
      process.on('uncaughtException', onUncaught)
      process.on('unhandledRejection', onUncaught)
      evil = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], groupId: 'default', dht: false })
      // Whatever it is asked, it answers as the request's key says: `k<kind>-<nonce>`.
      await evil.handle([pieceProtocol('default', '1.1.0'), pieceProtocol('default', '1.0.0')], stream => {
        const version = versionOf(stream.protocol)
        const decoder = new FrameDecoder(f => {
          if (f.type === MessageType.CANCEL) return
          const key = f.type === MessageType.PIECE_REQ ? decodePieceRequest(f.payload).manifestCid : decodeKey(f.payload)
          const kind = ASKER_KINDS[Number(/^k(\d+)-/.exec(key)?.[1])]
          if (kind === undefined) return
          for (const chunk of kind.reply({ type: f.type, id: f.id, version })) if (stream.writeStatus === 'writable') stream.send(chunk)
          if (kind.close === true) void stream.close().catch(() => {})
        }, receivable('server', version))
        stream.addEventListener('message', evt => { try { decoder.push(evt.data) } catch (err) { stream.abort(err as Error) } })
      })
      await evil.start()
    })

    afterAll(async () => {
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUncaught)
      await stopNode(evil)
      await nodes.stopAll()
    })

    it('fails, refuses or answers every request promptly, with the right error, whatever the answers', async () => {
      const rng = new Rng(SEED ^ 0x2000)
      const addr = evil.getMultiaddrs().map(String).find(a => a.includes('127.0.0.1'))!
      const askers = { '1.1.0': await nodes.start({ peers: [addr] }), '1.0.0': await nodes.start({ peers: [addr], protocolVersions: ['1.0.0'] }) }
      const failures: string[] = []
      let asked = 0
      const started = Date.now()
      for (let round = 0; round < 3; round++) {
        for (const [i, kind] of ASKER_KINDS.entries()) {
          for (const version of ['1.1.0', '1.0.0'] as const) {
            if (kind.versions !== undefined && !kind.versions.includes(version)) continue
            for (const request of kind.requests ?? ['manifest', 'have', 'piece', 'subscribe'] as const) {
              if (request === 'subscribe' && version === '1.0.0') continue
              const key = `k${i}-${rng.u32()}`
              asked++
              const problem = await within(ask(askers[version], evil.peerId.toString(), request, key, kind.expect), 6_000)
              if (problem !== null) failures.push(`${kind.name} (${version}, ${request}): ${problem}`)
            }
          }
        }
      }
      expect(failures.slice(0, 10)).toEqual([])
      expect(uncaught).toEqual([])
      expect(asked).toBeGreaterThan(150)
      expect(Date.now() - started).toBeLessThan(15_000)
    }, 30_000)

    it('a STATE with a bitfield of the wrong length fails the subscribe call instead of leaving it waiting forever', async () => {
      const addr = evil.getMultiaddrs().map(String).find(a => a.includes('127.0.0.1'))!
      const asker = await nodes.start({ peers: [addr] })
      const kind = ASKER_KINDS.findIndex(k => k.name === 'STATE with a bitfield of the wrong length')
      const started = Date.now()
      const err = await within(asker.subscribe(evil.peerId.toString(), `k${kind}-1`, { timeout: 3_000, onUpdate: () => {}, onEnd: () => {} }).then(() => 'resolved', (e: unknown) => e), 5_000)
      expect(err).toMatchObject({ code: 'PEER_UNAVAILABLE', cause: { code: 'PEER_PROTOCOL' } })
      expect(Date.now() - started).toBeLessThan(2_000)
    })
  })
})

/** The bytes of a decoded frame, as it was sent. */
function reencode (f: Frame): Uint8Array {
  if (f.type === MessageType.DATA) return concat([encodeDataHeader(f.id, f.total!, f.offset!, f.payload.byteLength), f.payload])
  return encodeFrame(f.type, f.id, f.payload)
}

/** What the seed serves: MemoryContent, and subscriptions to a seed's state (counted, so a leak shows). */
class FuzzContent extends MemoryContent {
  open = 0

  async subscribe (key: string): Promise<ContentSubscription | null> {
    const file = this.files.get(this.keys.get(key) ?? key)
    if (file === undefined) return null
    this.open++
    let closed = false
    return {
      pieceSize: file.pieces[0]!.byteLength,
      pieceCount: file.pieces.length,
      complete: true,
      have: allPieces(file.pieces.length),
      entries: [{ kind: EntryKind.HAVE, index: 0 }] satisfies ContentEntry[],
      close: () => { if (!closed) { closed = true; this.open-- } }
    }
  }
}

function allPieces (count: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(count / 8))
  for (let i = 0; i < count; i++) bits[i >> 3]! |= 0x80 >> (i & 7)
  return bits
}

async function waitFor (ok: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!ok() && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 20))
}

interface Ctx {
  file: Awaited<ReturnType<typeof makeFile>>
  contentKey: string
}

/** What one raw stream sends, how it must end, and what the answers must be. */
interface Case {
  kind: string
  chunks: Uint8Array[]
  /** Frames (or pieces of garbage) sent. */
  messages: number
  expect: 'reset' | 'closed' | 'any'
  /** The stream is reset from this side after sending, instead of closing its write side. */
  abort?: boolean
  /** Sent once `until` holds of the answers so far (or 5 s passed): CANCELs of subscriptions once they started. */
  after?: { until: (frames: Frame[]) => boolean, chunks: Uint8Array[] }
  /** A problem with the answers, or null. */
  check?: (frames: Frame[]) => string | null
}

interface Kind {
  name: string
  versions?: ProtocolVersion[]
  /** Made once per version, not every round (large cases). */
  once?: boolean
  make: (rng: Rng, version: ProtocolVersion, ctx: Ctx) => Omit<Case, 'kind'>
}

type Want = { type: 'manifest' } | { type: 'have' } | { type: 'piece', index: number } | { type: 'state' } | { type: 'refuse', reason: number }

/** A valid request for the seed's content, and the answer it must get. */
function validRequest (rng: Rng, version: ProtocolVersion, ctx: Ctx, id: number): { frame: Uint8Array, want: Want } {
  const { file, contentKey } = ctx
  const key = rng.bool() ? file.manifestCid : contentKey
  switch (rng.int(version === '1.1.0' ? 4 : 3)) {
    case 0: return { frame: encodeFrame(MessageType.MANIFEST_REQ, id, encodeKey(key)), want: { type: 'manifest' } }
    case 1: return { frame: encodeFrame(MessageType.HAVE_REQ, id, encodeKey(file.manifestCid)), want: { type: 'have' } }
    case 2: {
      const index = rng.int(file.pieces.length)
      return { frame: encodeFrame(MessageType.PIECE_REQ, id, encodePieceRequest(file.manifestCid, index)), want: { type: 'piece', index } }
    }
    default: return { frame: encodeFrame(MessageType.SUBSCRIBE, id, encodeKey(key)), want: { type: 'state' } }
  }
}

/** Checks that each id got the answer it wants (subscriptions: a STATE), and that nothing else was answered. */
function answers (ctx: Ctx, version: ProtocolVersion, wants: Map<number, Want>): (frames: Frame[]) => string | null {
  return frames => {
    const { file } = ctx
    const parts = new Map<number, Frame[]>()
    const seen = new Set<number>()
    for (const f of frames) {
      const want = wants.get(f.id)
      if (want === undefined) return `answer of type 0x${f.type.toString(16)} to id ${f.id}, never asked`
      if (f.type === MessageType.DATA) { parts.set(f.id, [...parts.get(f.id) ?? [], f]); seen.add(f.id); continue }
      if (f.type === MessageType.UPDATE && want.type === 'state') continue
      if (seen.has(f.id)) return `a second answer to id ${f.id}`
      seen.add(f.id)
      const ok = want.type === 'refuse'
        ? f.type === MessageType.REFUSE && decodeRefuse(f.payload).reason === want.reason
        : want.type === 'manifest'
          ? f.type === MessageType.MANIFEST && hex(f.payload) === hex(file.manifest)
          : want.type === 'have'
            ? f.type === MessageType.HAVE && hex(f.payload) === hex(allPieces(file.pieces.length))
            : want.type === 'state'
              ? f.type === MessageType.STATE && decodeState(f.payload).pieceCount === file.pieces.length
              : version === '1.0.0' && f.type === MessageType.PIECE && sha256Hex(f.payload) === sha256Hex(file.pieces[want.index]!)
      if (!ok) return `id ${f.id}: answer of type 0x${f.type.toString(16)} is not the ${want.type} wanted`
    }
    for (const [id, list] of parts) {
      const want = wants.get(id)!
      const bytes = concat(list.map(f => f.payload))
      if (version !== '1.1.0' || want.type !== 'piece' || sha256Hex(bytes) !== sha256Hex(file.pieces[want.index]!)) return `id ${id}: wrong DATA`
    }
    for (const id of wants.keys()) if (!seen.has(id)) return `no answer to id ${id}`
    return null
  }
}

/** The check of `answers`, and CANCELs for the subscriptions among `wants` once everything is answered. */
function answered (ctx: Ctx, version: ProtocolVersion, wants: Map<number, Want>): Pick<Case, 'check' | 'after'> {
  const subscriptions = [...wants].filter(([, w]) => w.type === 'state').map(([id]) => id)
  return {
    check: answers(ctx, version, wants),
    after: { until: frames => [...wants.keys()].every(id => frames.some(f => f.id === id)), chunks: CANCELS(subscriptions) }
  }
}

const none = (frames: Frame[]): string | null => frames.length === 0 ? null : `${frames.length} answers, none expected`
const ALL_TYPES = [...REQUESTS, ...ANSWERS]
const CANCELS = (ids: Iterable<number>): Uint8Array[] => [...ids].map(id => encodeFrame(MessageType.CANCEL, id))

/** The kinds of malformed (and some valid) traffic, derived from codec.ts's types, limits and payload formats. */
const KINDS: Kind[] = [
  {
    name: 'truncated header',
    make: (rng, v, ctx) => ({ chunks: [validRequest(rng, v, ctx, 1).frame.subarray(0, rng.range(1, HEADER_LENGTH - 1))], messages: 1, expect: 'closed', check: none })
  },
  {
    name: 'truncated payload',
    make: (rng, v, ctx) => {
      const frame = validRequest(rng, v, ctx, 1).frame
      return { chunks: [frame.subarray(0, rng.range(HEADER_LENGTH, frame.byteLength - 1))], messages: 1, expect: 'closed', check: none }
    }
  },
  {
    name: 'length below the header (0-4)',
    make: (rng) => {
      const frame = encodeHeader(rng.pick(REQUESTS), 1, 0)
      new DataView(frame.buffer).setUint32(0, rng.int(5))
      return { chunks: [frame], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'length over the type\'s limit',
    make: (rng, v) => {
      const type = rng.pick(REQUESTS.filter(receivable('server', v)))
      const over = rng.bool() ? MAX_PAYLOAD[type] + rng.range(1, 64) : rng.range(MAX_PAYLOAD[type] + 1, 0xfffffffa)
      return { chunks: [encodeHeader(type, 1, over), rng.bytes(rng.int(64))], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: '4 GiB frame announced',
    make: (rng) => {
      const frame = encodeHeader(rng.pick(ALL_TYPES), rng.u32(), 0)
      new DataView(frame.buffer).setUint32(0, 0xffffffff)
      return { chunks: [frame], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'unknown message type',
    make: (rng) => ({ chunks: [encodeFrame(rng.pick(UNKNOWN_TYPES) as MessageType, rng.u32(), rng.bytes(rng.int(32)))], messages: 1, expect: 'reset', check: none })
  },
  {
    name: 'answers to requests never made',
    make: (rng) => ({ chunks: [validFrame(rng, 'client', '1.1.0', 'k')], messages: 1, expect: 'reset', check: none })
  },
  ...ALL_TYPES.map((type): Kind => ({
    name: `zero-length payload, type 0x${type.toString(16)}`,
    make: (rng, v, ctx) => {
      if (type !== MessageType.CANCEL || !receivable('server', v)(type)) return { chunks: [encodeFrame(type, rng.u32())], messages: 1, expect: 'reset', check: none }
      // CANCEL's payload is empty anyway: valid, for an id never used; a valid request after it is answered.
      const { frame, want } = validRequest(rng, v, ctx, 2)
      return { chunks: [encodeFrame(type, 1), frame], messages: 2, expect: 'closed', ...answered(ctx, v, new Map([[2, want]])) }
    }
  })),
  {
    name: 'CANCEL with a payload',
    make: (rng) => ({ chunks: [encodeFrame(MessageType.CANCEL, rng.u32(), rng.bytes(rng.range(1, 16)))], messages: 1, expect: 'reset', check: none })
  },
  {
    name: 'CANCELs of ids never used',
    make: (rng, v, ctx) => {
      const cancels = Array.from({ length: rng.range(5, 30) }, () => encodeFrame(MessageType.CANCEL, rng.range(1000, 0xffffffff)))
      const { frame, want } = validRequest(rng, v, ctx, 7)
      return { chunks: [concat(cancels), frame], messages: cancels.length + 1, expect: 'closed', ...answered(ctx, v, new Map([[7, want]])) }
    }
  },
  {
    name: 'duplicate request id',
    make: (rng, v, ctx) => {
      const id = rng.range(1, 0xffffffff)
      const type = v === '1.1.0' && rng.bool() ? MessageType.SUBSCRIBE : MessageType.PIECE_REQ
      const frame = type === MessageType.SUBSCRIBE
        ? encodeFrame(type, id, encodeKey(ctx.contentKey))
        : encodeFrame(type, id, encodePieceRequest(ctx.file.manifestCid, rng.int(ctx.file.pieces.length)))
      // Both in one buffer: the first is certainly still open when the second is read.
      return { chunks: [concat([frame, frame])], messages: 2, expect: 'reset' }
    }
  },
  {
    name: 'key over 256 bytes',
    make: (rng, v) => {
      const type = rng.pick([MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.SUBSCRIBE].filter(receivable('server', v)))
      const key = new Uint8Array(rng.range(MAX_KEY_LENGTH + 1, MAX_KEY_LENGTH + 40)).fill(0x61)
      return { chunks: [encodeFrame(type, 1, type === MessageType.PIECE_REQ ? concat([new Uint8Array(4), key]) : key)], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'key not UTF-8',
    make: (rng, v) => {
      const type = rng.pick([MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.SUBSCRIBE].filter(receivable('server', v)))
      const key = concat([encodeKey('bafy'), new Uint8Array(rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]))])
      return { chunks: [encodeFrame(type, 1, type === MessageType.PIECE_REQ ? concat([new Uint8Array(4), key]) : key)], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'PIECE_REQ shorter than index and key',
    make: (rng) => ({ chunks: [encodeFrame(MessageType.PIECE_REQ, 1, rng.bytes(rng.range(1, 4)))], messages: 1, expect: 'reset', check: none })
  },
  {
    name: 'PIECE_REQ for a huge piece index',
    make: (rng, v, ctx) => {
      const ids = [1, 2, 3]
      const frames = ids.map(id => encodeFrame(MessageType.PIECE_REQ, id, encodePieceRequest(ctx.file.manifestCid, rng.bool() ? 0xffffffff : rng.range(ctx.file.pieces.length, 0xfffffffe))))
      return { chunks: [concat(frames)], messages: 3, expect: 'closed', check: answers(ctx, v, new Map(ids.map(id => [id, { type: 'refuse', reason: RefuseReason.NOT_FOUND }]))) }
    }
  },
  {
    name: 'requests for content not held',
    make: (rng, v, ctx) => {
      const types = [MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.SUBSCRIBE].filter(receivable('server', v))
      const frames = types.map((type, i) => {
        const key = `bafk${hex(rng.bytes(rng.range(1, 100)))}`.slice(0, MAX_KEY_LENGTH)
        return encodeFrame(type, i + 1, type === MessageType.PIECE_REQ ? encodePieceRequest(key, rng.int(8)) : encodeKey(key))
      })
      return { chunks: frames, messages: frames.length, expect: 'closed', check: answers(ctx, v, new Map(types.map((_, i) => [i + 1, { type: 'refuse', reason: RefuseReason.NOT_FOUND }]))) }
    }
  },
  {
    name: 'STATE with a bitfield of the wrong length or a huge piece count',
    make: (rng) => {
      const pieceCount = rng.bool() ? 0xffffffff : rng.range(1, 100)
      const payload = concat([encodeState({ pieceSize: rng.u32(), pieceCount: 0, flags: 1, have: new Uint8Array(0) }), rng.bytes(rng.int(20))])
      new DataView(payload.buffer).setUint32(4, pieceCount)
      return { chunks: [encodeFrame(MessageType.STATE, rng.u32(), payload)], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'UPDATE with huge piece indexes or unknown entry kinds',
    make: (rng) => {
      const payload = concat(encodeEntries([{ kind: EntryKind.HAVE, index: 0xffffffff }, { kind: EntryKind.INTENT, index: rng.u32() }]))
      if (rng.bool()) payload[0] = rng.pick([0, 6, 0xff])
      return { chunks: [encodeFrame(MessageType.UPDATE, rng.u32(), payload)], messages: 1, expect: 'reset', check: none }
    }
  },
  {
    name: 'DATA part outside its piece',
    make: (rng) => ({ chunks: [concat([encodeDataHeader(1, rng.range(1, 100), rng.range(100, 0xffffffff), 4), rng.bytes(4)])], messages: 1, expect: 'reset', check: none })
  },
  {
    name: '1.1.0 messages on a 1.0.0 stream',
    versions: ['1.0.0'],
    make: (rng, v, ctx) => ({ chunks: [encodeFrame(MessageType.SUBSCRIBE, rng.u32(), encodeKey(ctx.contentKey))], messages: 1, expect: 'reset', check: none })
  },
  {
    name: 'garbage after a valid frame',
    make: (rng, v, ctx) => {
      const { frame } = validRequest(rng, v, ctx, 1)
      const garbage = concat([encodeHeader(rng.pick(UNKNOWN_TYPES) as MessageType, rng.u32(), 0), rng.bytes(rng.int(100))])
      return { chunks: rng.bool() ? [concat([frame, garbage])] : [frame, garbage], messages: 2, expect: 'reset' }
    }
  },
  {
    name: 'random bytes',
    make: (rng) => ({ chunks: [rng.bytes(rng.range(1, 512))], messages: 1, expect: 'any' })
  },
  {
    name: 'valid requests split at every byte',
    make: (rng, v, ctx) => {
      const wants = new Map<number, Want>()
      const frames = [1, 2, 3].map(id => { const r = validRequest(rng, v, ctx, id); wants.set(id, r.want); return r.frame })
      return { chunks: Array.from(concat(frames), b => new Uint8Array([b])), messages: frames.length, expect: 'closed', ...answered(ctx, v, wants) }
    }
  },
  {
    name: 'mutated valid requests',
    make: (rng, v, ctx) => {
      const frames = concat(Array.from({ length: rng.range(1, 4) }, (_, i) => validRequest(rng, v, ctx, i + 1).frame))
      return { chunks: [mutate(rng, frames)], messages: 3, abort: rng.bool(0.2), expect: 'any' }
    }
  },
  {
    name: 'request ids 0 and 0xffffffff',
    make: (rng, v, ctx) => {
      const wants = new Map<number, Want>()
      const frames = [0, 0xffffffff].map(id => { const r = validRequest(rng, v, ctx, id); wants.set(id, r.want); return r.frame })
      return { chunks: frames, messages: 2, expect: 'closed', ...answered(ctx, v, wants) }
    }
  },
  {
    name: 'reset by the asker with requests open',
    make: (rng, v, ctx) => {
      const frames = Array.from({ length: rng.range(1, 20) }, (_, i) => validRequest(rng, v, ctx, i + 1).frame)
      return { chunks: [concat(frames)], messages: frames.length, abort: true, expect: 'any' }
    }
  },
  {
    name: 'over 256 requests open: BUSY',
    once: true,
    make: (rng, v, ctx) => {
      // Subscriptions stay open (1.1.0): exactly 256 STATEs, then BUSY. On 1.0.0, pieces: at least one BUSY.
      const n = v === '1.1.0' ? 260 : 500
      const frames = Array.from({ length: n }, (_, i) => v === '1.1.0'
        ? encodeFrame(MessageType.SUBSCRIBE, i + 1, encodeKey(ctx.contentKey))
        : encodeFrame(MessageType.PIECE_REQ, i + 1, encodePieceRequest(ctx.file.manifestCid, i % ctx.file.pieces.length)))
      const check = (answered: Frame[]): string | null => {
        const busy = answered.filter(f => f.type === MessageType.REFUSE && decodeRefuse(f.payload).reason === RefuseReason.BUSY).length
        const firsts = new Set(answered.filter(f => f.type !== MessageType.UPDATE).map(f => f.id))
        if (firsts.size !== n) return `${firsts.size} of ${n} requests answered`
        if (v === '1.1.0' ? busy !== n - 256 : busy === 0) return `${busy} BUSY refusals`
        return null
      }
      const ids = frames.map((_, i) => i + 1)
      const after = { until: (got: Frame[]) => new Set(got.map(f => f.id)).size === n, chunks: v === '1.1.0' ? [concat(CANCELS(ids))] : [] }
      return { chunks: [concat(frames)], after, messages: n * (v === '1.1.0' ? 2 : 1), expect: 'closed', check }
    }
  }
]

interface Outcome { end: 'reset' | 'closed' | 'subscribed' | 'hung', frames: Frame[], badAnswer: string | null }

/** Opens a raw stream to the seed, sends a case's bytes, closes (or resets) its side, and sees how it ends. */
async function probe (attacker: DoptLibp2p, addr: string, version: ProtocolVersion, c: Case): Promise<Outcome> {
  const stream: Stream = await attacker.dialProtocol(multiaddr(addr), pieceProtocol('default', version), { signal: AbortSignal.timeout(5_000) })
  const frames: Frame[] = []
  let badAnswer: string | null = null
  // The seed's answers must be valid answers of this version.
  const decoder = new FrameDecoder(f => { frames.push({ ...f, payload: f.payload.slice() }) }, receivable('client', version))
  const { promise: ended, resolve } = Promise.withResolvers<'reset' | 'closed'>()
  stream.addEventListener('message', evt => {
    try { decoder.push(evt.data) } catch (err) { badAnswer ??= `bad answer: ${(err as Error).message}` }
  })
  stream.addEventListener('close', evt => { resolve(evt.error !== undefined ? 'reset' : 'closed') })
  for (const chunk of c.chunks) {
    if (stream.writeStatus !== 'writable') break
    try {
      if (!stream.send(chunk)) await waitForDrain(stream, 5_000)
    } catch { break }
  }
  if (c.after !== undefined) {
    await waitFor(() => c.after!.until(frames) || stream.status !== 'open', 5_000)
    for (const chunk of c.after.chunks) if (stream.writeStatus === 'writable') stream.send(chunk)
  }
  if (c.expect === 'any' && version === '1.1.0' && c.abort !== true) {
    // Garbage may have made a valid SUBSCRIBE: end what started, as an asker does before closing its side.
    await new Promise(resolve => setTimeout(resolve, 100))
    for (const f of frames) if (f.type === MessageType.STATE && stream.writeStatus === 'writable') stream.send(encodeFrame(MessageType.CANCEL, f.id))
  }
  if (c.abort === true) stream.abort(new Error('fuzz: asker resets'))
  else await stream.close().catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  const end = await Promise.race([ended, new Promise<'hung'>(resolve => { timer = setTimeout(() => { resolve('hung') }, 5_000) })])
  clearTimeout(timer)
  if (end === 'hung') stream.abort(new Error('fuzz: hung'))
  // A subscription stays open after the asker closes its side (it ends by CANCEL, REFUSE or the stream's end): open
  // by design, not hung.
  const refused = new Set(frames.filter(f => f.type === MessageType.REFUSE).map(f => f.id))
  const subscribed = frames.some(f => f.type === MessageType.STATE && !refused.has(f.id))
  return { end: end === 'hung' && subscribed ? 'subscribed' : end, frames, badAnswer }
}

type Request = 'manifest' | 'have' | 'piece' | 'subscribe'
/** What an asker must see: the answer's bytes, a refusal, PEER_UNAVAILABLE caused by PEER_PROTOCOL, or PEER_UNAVAILABLE. */
type Expect = 'value' | 'refused' | 'protocol' | 'unavailable' | 'any'

interface AskerKind {
  name: string
  versions?: ProtocolVersion[]
  requests?: Request[]
  expect: Expect
  /** Closes the stream's write side after the reply. */
  close?: boolean
  reply: (req: { type: MessageType, id: number, version: ProtocolVersion }) => Uint8Array[]
}

const PIECE_BYTES = Uint8Array.from({ length: 3000 }, (_, i) => i % 251)
const MANIFEST_BYTES = new TextEncoder().encode('{"a manifest":true}')
const GOOD_STATE = encodeState({ pieceSize: 3000, pieceCount: 4, flags: 1, have: new Uint8Array([0xf0]) })

/** The right answer to a request (1.1.0 pieces as DATA parts of 1000 bytes). */
function rightAnswer ({ type, id, version }: { type: MessageType, id: number, version: ProtocolVersion }): Uint8Array[] {
  switch (type) {
    case MessageType.MANIFEST_REQ: return [encodeFrame(MessageType.MANIFEST, id, MANIFEST_BYTES)]
    case MessageType.HAVE_REQ: return [encodeFrame(MessageType.HAVE, id, new Uint8Array([0xf0]))]
    case MessageType.SUBSCRIBE: return [encodeFrame(MessageType.STATE, id, GOOD_STATE)]
    default: return version === '1.0.0'
      ? [encodeFrame(MessageType.PIECE, id, PIECE_BYTES)]
      : [0, 1000, 2000].map(at => concat([encodeDataHeader(id, 3000, at, 1000), PIECE_BYTES.subarray(at, at + 1000)]))
  }
}

const wrongType = (type: MessageType): MessageType => type === MessageType.MANIFEST_REQ ? MessageType.HAVE : MessageType.MANIFEST

/** Malformed (and some odd but valid) answers, from codec.ts's answer types, limits and payload formats. */
const ASKER_KINDS: AskerKind[] = [
  { name: 'empty REFUSE', expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.REFUSE, id)] },
  { name: 'REFUSE with an unknown reason', expect: 'refused', reply: ({ id }) => [encodeFrame(MessageType.REFUSE, id, new Uint8Array([0xee]))] },
  { name: 'REFUSE with a message that is not UTF-8', expect: 'refused', reply: ({ id }) => [encodeFrame(MessageType.REFUSE, id, concat([new Uint8Array([1]), new Uint8Array(KiB).fill(0xff)]))] },
  { name: 'REFUSE over its limit', expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.REFUSE, id, new Uint8Array(KiB + 2).fill(1))] },
  { name: 'answer of the wrong type', expect: 'protocol', reply: ({ type, id }) => [encodeFrame(wrongType(type), id, new Uint8Array(4))] },
  { name: 'a request sent to the asker', expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.MANIFEST_REQ, id, encodeKey('bafy'))] },
  { name: 'unknown message type', expect: 'protocol', reply: ({ id }) => [encodeFrame(0x99 as MessageType, id)] },
  { name: 'length below the header', expect: 'protocol', reply: ({ id }) => { const h = encodeHeader(MessageType.HAVE, id, 0); new DataView(h.buffer).setUint32(0, 3); return [h] } },
  { name: 'length over the limit', expect: 'protocol', reply: ({ id }) => [encodeHeader(MessageType.HAVE, id, MAX_PAYLOAD[MessageType.HAVE] + 1)] },
  { name: '4 GiB frame announced', expect: 'protocol', reply: ({ id }) => { const h = encodeHeader(MessageType.MANIFEST, id, 0); new DataView(h.buffer).setUint32(0, 0xffffffff); return [h] } },
  { name: 'answers to ids never asked, then the right one', expect: 'value', reply: req => [...rightAnswer({ ...req, id: req.id + 1000 }), encodeFrame(MessageType.REFUSE, req.id + 2000, encodeRefuse(RefuseReason.BUSY)), ...rightAnswer(req)] },
  { name: 'truncated answer, then the stream closed', expect: 'unavailable', close: true, reply: req => { const f = rightAnswer(req)[0]!; return [f.subarray(0, Math.min(12, f.byteLength - 1))] } },
  { name: 'no answer, the stream closed', expect: 'unavailable', close: true, reply: () => [] },
  { name: 'garbage after the right answer', expect: 'value', reply: req => [concat([...rightAnswer(req), encodeFrame(0xee as MessageType, 1)])] },
  { name: 'the right answer split at every byte', expect: 'value', reply: req => Array.from(concat(rightAnswer(req)), b => new Uint8Array([b])) },
  { name: 'random bytes', expect: 'any', close: true, reply: () => [Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)] },
  { name: '1.1.0 answers on a 1.0.0 stream', versions: ['1.0.0'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.STATE, id, GOOD_STATE)] },
  { name: 'PIECE to a 1.1.0 piece request', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.PIECE, id, PIECE_BYTES)] },
  { name: 'DATA to a request that is not a piece', versions: ['1.1.0'], requests: ['manifest', 'have', 'subscribe'], expect: 'protocol', reply: ({ id }) => [concat([encodeDataHeader(id, 4, 0, 4), new Uint8Array(4)])] },
  { name: 'first DATA part not at offset 0', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: ({ id }) => [concat([encodeDataHeader(id, 3000, 1000, 1000), PIECE_BYTES.subarray(0, 1000)])] },
  { name: 'DATA parts out of order', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: req => { const parts = rightAnswer(req); return [parts[0]!, parts[2]!, parts[1]!] } },
  { name: 'DATA parts that change the piece length', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: ({ id }) => [concat([encodeDataHeader(id, 3000, 0, 1000), PIECE_BYTES.subarray(0, 1000)]), concat([encodeDataHeader(id, 4000, 1000, 1000), PIECE_BYTES.subarray(0, 1000)])] },
  { name: 'DATA part outside its piece', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: ({ id }) => [concat([encodeDataHeader(id, 100, 0xfffffff0, 4), new Uint8Array(4)])] },
  { name: 'DATA piece over 16 MiB', versions: ['1.1.0'], requests: ['piece'], expect: 'protocol', reply: ({ id }) => [concat([encodeDataHeader(id, 16 * MiB + 1, 0, 4), new Uint8Array(4)])] },
  { name: 'DATA, then REFUSE', versions: ['1.1.0'], requests: ['piece'], expect: 'refused', reply: req => [rightAnswer(req)[0]!, encodeFrame(MessageType.REFUSE, req.id, encodeRefuse(RefuseReason.INTERNAL))] },
  { name: 'STATE with a bitfield of the wrong length', versions: ['1.1.0'], requests: ['subscribe'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.STATE, id, concat([GOOD_STATE, new Uint8Array(3)]))] },
  {
    name: 'STATE with a huge piece count',
    versions: ['1.1.0'],
    requests: ['subscribe'],
    expect: 'protocol',
    reply: ({ id }) => { const s = GOOD_STATE.slice(); new DataView(s.buffer).setUint32(4, 0xffffffff); return [encodeFrame(MessageType.STATE, id, s)] }
  },
  { name: 'empty STATE', versions: ['1.1.0'], requests: ['subscribe'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.STATE, id)] },
  { name: 'UPDATE before the STATE', versions: ['1.1.0'], requests: ['subscribe'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.UPDATE, id, encodeEntries([{ kind: EntryKind.HAVE, index: 1 }])[0]!)] },
  { name: 'UPDATE with an unknown entry kind', versions: ['1.1.0'], requests: ['subscribe'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.STATE, id, GOOD_STATE), encodeFrame(MessageType.UPDATE, id, new Uint8Array([9, 0, 0, 0, 1]))] },
  { name: 'UPDATE ending inside an entry', versions: ['1.1.0'], requests: ['subscribe'], expect: 'protocol', reply: ({ id }) => [encodeFrame(MessageType.STATE, id, GOOD_STATE), encodeFrame(MessageType.UPDATE, id, new Uint8Array([1, 0, 0]))] },
  { name: 'UPDATE with a huge piece index (passed on: the engine ignores it)', versions: ['1.1.0'], requests: ['subscribe'], expect: 'value', reply: ({ id }) => [encodeFrame(MessageType.STATE, id, GOOD_STATE), encodeFrame(MessageType.UPDATE, id, encodeEntries([{ kind: EntryKind.HAVE, index: 0xffffffff }])[0]!)] }
]

/** `promise`, or 'hung' if it has not settled after `ms`. */
async function within<T> (promise: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([promise, new Promise<'hung'>(resolve => { timer = setTimeout(() => { resolve('hung') }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** Asks `request` of the malicious server; returns what was wrong with the outcome, or null. */
async function ask (asker: P2P, peerId: string, request: Request, key: string, expected: Expect): Promise<string | null> {
  const timeout = 3_000
  const started = Date.now()
  let ended: Error | null = null
  let updates: ContentEntry[] = []
  let outcome: { value: unknown } | { error: { code?: string, cause?: { code?: string } } }
  try {
    const value = request === 'manifest'
      ? await asker.fetchManifest(peerId, key, { timeout })
      : request === 'have'
        ? await asker.fetchHave(peerId, key, { timeout })
        : request === 'piece'
          ? await asker.fetchPiece(peerId, key, 0, { timeout })
          : await asker.subscribe(peerId, key, { timeout, onUpdate: e => { updates = [...updates, ...e] }, onEnd: err => { ended = err } })
    outcome = { value }
  } catch (err) {
    outcome = { error: err as { code?: string } }
  }
  // A subscription's later faults end it: wait a little for them (unless the right start is what was wanted).
  if (request === 'subscribe' && 'value' in outcome && outcome.value !== null) {
    await waitFor(() => ended !== null || updates.length > 0, expected === 'value' ? 50 : 1_000)
    ;(outcome.value as { cancel: () => void }).cancel()
    if (ended !== null && expected !== 'value') outcome = { error: ended }
  }
  const ms = Date.now() - started
  if (ms > 2_500) return `took ${ms} ms`
  const error = 'error' in outcome ? outcome.error : null
  const code = error?.code
  if (error !== null && code !== 'PEER_UNAVAILABLE' && code !== 'PEER_REFUSED') return `failed with ${String(code)}: ${String(error)}`
  if (expected === 'any') return null
  if (expected === 'protocol') return code === 'PEER_UNAVAILABLE' && error?.cause?.code === 'PEER_PROTOCOL' ? null : `${code ?? 'resolved'}, cause ${String(error?.cause?.code)}`
  if (expected === 'unavailable') return code === 'PEER_UNAVAILABLE' ? null : `${code ?? 'resolved'}`
  const value = 'value' in outcome ? outcome.value : undefined
  if (expected === 'refused') return code === 'PEER_REFUSED' || (error === null && value === null) ? null : `${code ?? 'resolved'} ${String(value)}`
  if (error !== null) return `failed with ${String(code)}: ${String(error)}`
  const want = request === 'manifest' ? hex(MANIFEST_BYTES) : request === 'have' ? 'f0' : request === 'piece' ? hex(PIECE_BYTES) : null
  if (want !== null) return hex(value as Uint8Array) === want ? null : 'wrong bytes'
  const sub = value as { pieceCount: number } | null
  return sub?.pieceCount === 4 ? null : `subscription ${JSON.stringify(sub)}`
}
