// One attacker process of the flood benchmark (benchmarks/flood/run.js starts it): `connections` libp2p nodes, each
// with one connection to the seed, send their share of malformed messages (each on a fresh stream of the piece
// protocol, 1.1.0 or 1.0.0 in turn) and of valid requests (pipelined on a few long-lived streams, answers read and
// checked). Prints one JSON line of counts at the end and exits; every wait is bounded.
//
//   node benchmarks/flood/attacker.js '{"addr":..., "manifestCid":..., "connections":2, "malformed":N, "valid":N, ...}'
import '../../packages/p2p/dist/polyfill.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import {
  EntryKind, FrameDecoder, MAX_KEY_LENGTH, MAX_PAYLOAD, MessageType, RefuseReason, decodeState, encodeDataHeader, encodeEntries, encodeFrame,
  encodeHeader, encodeKey, encodePieceRequest, encodeRefuse, encodeState, receivable
} from '../../packages/p2p/dist/codec.js'
import { createNode, stopNode } from '../../packages/p2p/dist/node.js'
import { pieceProtocol, waitForDrain } from '../../packages/p2p/dist/piece-protocol.js'

const opts = JSON.parse(process.argv[2])
const GROUP = opts.groupId ?? 'default'
const STREAM_WAIT = 5_000
/** How long a malformed stream may take to end once sent: longer is a hang (a loaded seed may take seconds). */
const END_WAIT = 30_000

/** mulberry32: the same traffic for the same seed. */
function rngOf (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = max => Math.floor(next() * max)
  return {
    int,
    range: (min, max) => min + int(max - min + 1),
    u32: () => int(0x100000000),
    bool: (p = 0.5) => next() < p,
    pick: items => items[int(items.length)],
    bytes: n => Uint8Array.from({ length: n }, () => int(256))
  }
}

function concat (parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.byteLength }
  return out
}

const REQUESTS = [MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.CANCEL, MessageType.SUBSCRIBE]
const ANSWERS = [MessageType.MANIFEST, MessageType.HAVE, MessageType.PIECE, MessageType.STATE, MessageType.UPDATE, MessageType.DATA, MessageType.REFUSE]
const KNOWN = new Set([...REQUESTS, ...ANSWERS])
const UNKNOWN_TYPES = Array.from({ length: 256 }, (_, i) => i).filter(t => !KNOWN.has(t))
const ALL_TYPES = [...REQUESTS, ...ANSWERS]
const KEYED = [MessageType.MANIFEST_REQ, MessageType.HAVE_REQ, MessageType.PIECE_REQ, MessageType.SUBSCRIBE]

/** A valid request for the seed's file. */
function validRequest (rng, version, id, pieceCount) {
  const r = rng.int(version === '1.1.0' ? 4 : 3)
  if (r === 0) return encodeFrame(MessageType.MANIFEST_REQ, id, encodeKey(opts.manifestCid))
  if (r === 1) return encodeFrame(MessageType.HAVE_REQ, id, encodeKey(opts.manifestCid))
  if (r === 2) return encodeFrame(MessageType.PIECE_REQ, id, encodePieceRequest(opts.manifestCid, rng.int(pieceCount)))
  return encodeFrame(MessageType.SUBSCRIBE, id, encodeKey(opts.manifestCid))
}

function mutate (rng, input) {
  let b = input
  for (let n = rng.range(1, 4); n > 0; n--) {
    const at = rng.int(b.byteLength + 1)
    const k = rng.int(5)
    if (k === 0 && b.byteLength > 0) { b = b.slice(); b[at % b.byteLength] ^= 1 << rng.int(8) } else if (k === 1 && b.byteLength > 0) { b = b.slice(); b[at % b.byteLength] = rng.int(256) } else if (k === 2) b = b.subarray(0, at)
    else if (k === 3) b = concat([b.subarray(0, at), rng.bytes(rng.range(1, 8)), b.subarray(at)])
    else b = concat([b.subarray(0, at), b.subarray(Math.min(b.byteLength, at + rng.range(1, 8)))])
  }
  return b
}

function keyed (type, key) {
  return type === MessageType.PIECE_REQ ? concat([new Uint8Array(4), key]) : key
}

/**
 * The kinds of malformed traffic (from packages/p2p/src/codec.ts: its types, limits and payload formats). Each
 * makes the chunks one stream sends; `abort` resets the stream from this side after sending.
 */
const KINDS = {
  'truncated header': (rng, v, ctx) => [validRequest(rng, v, 1, ctx.pieceCount).subarray(0, rng.range(1, 8))],
  'truncated payload': (rng, v, ctx) => { const f = validRequest(rng, v, 1, ctx.pieceCount); return [f.subarray(0, rng.range(9, f.byteLength - 1))] },
  'length below the header': rng => { const h = encodeHeader(rng.pick(REQUESTS), 1, 0); new DataView(h.buffer).setUint32(0, rng.int(5)); return [h] },
  'length over the limit': (rng, v) => {
    const type = rng.pick(REQUESTS.filter(receivable('server', v)))
    return [encodeHeader(type, 1, rng.bool() ? MAX_PAYLOAD[type] + rng.range(1, 64) : rng.range(MAX_PAYLOAD[type] + 1, 0xfffffffa))]
  },
  '4 GiB frame announced': rng => { const h = encodeHeader(rng.pick(ALL_TYPES), rng.u32(), 0); new DataView(h.buffer).setUint32(0, 0xffffffff); return [h] },
  'unknown type': rng => [encodeFrame(rng.pick(UNKNOWN_TYPES), rng.u32(), rng.bytes(rng.int(32)))],
  'answer never asked for': rng => {
    const type = rng.pick(ANSWERS)
    if (type === MessageType.REFUSE) return [encodeFrame(type, rng.u32(), encodeRefuse(rng.range(1, 5), 'no'))]
    if (type === MessageType.DATA) return [concat([encodeDataHeader(rng.u32(), 16, 0, 16), rng.bytes(16)])]
    return [encodeFrame(type, rng.u32(), rng.bytes(rng.int(64)))]
  },
  'zero-length payload': rng => [encodeFrame(rng.pick(ALL_TYPES.filter(t => t !== MessageType.CANCEL)), rng.u32())],
  'empty REFUSE': rng => [encodeFrame(MessageType.REFUSE, rng.u32())],
  'CANCEL with a payload': rng => [encodeFrame(MessageType.CANCEL, rng.u32(), rng.bytes(rng.range(1, 16)))],
  'duplicate request id': (rng, v, ctx) => {
    const f = v === '1.1.0' && rng.bool()
      ? encodeFrame(MessageType.SUBSCRIBE, 9, encodeKey(opts.manifestCid))
      : encodeFrame(MessageType.PIECE_REQ, 9, encodePieceRequest(opts.manifestCid, rng.int(ctx.pieceCount)))
    return [concat([f, f])]
  },
  'key over 256 bytes': (rng, v) => {
    const type = rng.pick(KEYED.filter(receivable('server', v)))
    return [encodeFrame(type, 1, keyed(type, new Uint8Array(rng.range(MAX_KEY_LENGTH + 1, 300)).fill(0x62)))]
  },
  'key not UTF-8': (rng, v) => {
    const type = rng.pick(KEYED.filter(receivable('server', v)))
    return [encodeFrame(type, 1, keyed(type, concat([encodeKey('bafy'), new Uint8Array(rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80]]))])))]
  },
  'PIECE_REQ too short': rng => [encodeFrame(MessageType.PIECE_REQ, 1, rng.bytes(rng.range(1, 4)))],
  'STATE with a wrong bitfield': rng => {
    const p = concat([encodeState({ pieceSize: rng.u32(), pieceCount: 0, flags: 1, have: new Uint8Array(0) }), rng.bytes(rng.int(20))])
    new DataView(p.buffer).setUint32(4, rng.bool() ? 0xffffffff : rng.range(1, 100))
    return [encodeFrame(MessageType.STATE, rng.u32(), p)]
  },
  'UPDATE with huge indexes or unknown kinds': rng => {
    const p = concat(encodeEntries([{ kind: EntryKind.HAVE, index: 0xffffffff }, { kind: EntryKind.LOST, index: rng.u32() }]))
    if (rng.bool()) p[0] = rng.pick([0, 6, 0xff])
    return [encodeFrame(MessageType.UPDATE, rng.u32(), p)]
  },
  'DATA outside its piece': rng => [concat([encodeDataHeader(1, rng.range(1, 100), rng.range(100, 0xffffffff), 4), rng.bytes(4)])],
  'garbage after a valid frame': (rng, v, ctx) => [concat([validRequest(rng, v, 1, ctx.pieceCount), encodeHeader(rng.pick(UNKNOWN_TYPES), 1, 0), rng.bytes(rng.int(64))])],
  'random bytes': rng => [rng.bytes(rng.range(1, 512))],
  'mutated valid requests': (rng, v, ctx) => [mutate(rng, concat([1, 2, 3].map(id => validRequest(rng, v, id, ctx.pieceCount))))],
  'valid frames split at every byte': (rng, v, ctx) => Array.from(validRequest(rng, v, 1, ctx.pieceCount), b => new Uint8Array([b])),
  'huge piece index': (rng) => [encodeFrame(MessageType.PIECE_REQ, 1, encodePieceRequest(opts.manifestCid, rng.bool() ? 0xffffffff : rng.range(1 << 20, 0xfffffffe)))],
  'reset with requests open': (rng, v, ctx) => Object.assign([concat(Array.from({ length: rng.range(1, 16) }, (_, i) => validRequest(rng, v, i + 1, ctx.pieceCount)))], { abort: true })
}
const KIND_NAMES = Object.keys(KINDS)

/** Milliseconds from the last byte sent to a malformed stream's end (streams this side did not reset). */
const latencies = []

/** Sends one malformed case on a fresh stream; resolves with how the stream ended. */
async function malformedStream (node, version, chunks) {
  const stream = await node.dialProtocol(multiaddr(opts.addr), pieceProtocol(GROUP, version), { signal: AbortSignal.timeout(STREAM_WAIT) })
  const ended = new Promise(resolve => stream.addEventListener('close', evt => resolve(evt.error !== undefined ? 'reset' : 'closed')))
  // Answers are read and dropped; a SUBSCRIBE made valid by chance is ended with CANCEL before closing.
  const states = new Set()
  let endSubscriptions = true
  const decoder = new FrameDecoder(f => {
    if (f.type === MessageType.STATE) {
      states.add(f.id)
      if (endSubscriptions && stream.writeStatus === 'writable') stream.send(encodeFrame(MessageType.CANCEL, f.id))
    } else if (f.type === MessageType.REFUSE) {
      states.delete(f.id)
    }
  }, receivable('client', version))
  stream.addEventListener('message', evt => { try { decoder.push(evt.data) } catch { /* the seed's answers are checked on the valid streams */ } })
  for (const chunk of chunks) {
    if (stream.writeStatus !== 'writable') break
    try { if (!stream.send(chunk)) await waitForDrain(stream, STREAM_WAIT) } catch { break }
  }
  if (chunks.abort === true) {
    stream.abort(new Error('flood: asker resets'))
  } else {
    if (version === '1.1.0') {
      // Garbage may have made a valid SUBSCRIBE: its STATE is answered with CANCEL (above) for a while before this
      // side closes, as an asker ends its subscriptions; most streams are reset by the seed long before.
      let timer
      await Promise.race([ended, new Promise(resolve => { timer = setTimeout(resolve, 100) })])
      clearTimeout(timer)
    }
    endSubscriptions = false
    await stream.close().catch(() => {})
  }
  const sentAt = Date.now()
  // A stream with a live subscription (a STATE came) is given 3 s, anything else END_WAIT.
  let timer
  const end = await Promise.race([ended, new Promise(resolve => {
    const check = () => {
      const waited = Date.now() - sentAt
      if (waited >= END_WAIT || (states.size > 0 && waited >= 3_000)) resolve('hung')
      else timer = setTimeout(check, 250)
    }
    timer = setTimeout(check, 250)
  })])
  clearTimeout(timer)
  const ms = Date.now() - sentAt
  if (chunks.abort !== true) latencies.push(ms)
  if (end === 'hung') stream.abort(new Error('flood: no end'))
  if (chunks.abort === true) return 'reset by us'
  if (end !== 'hung' && ms > 5_000) return `${end} after over 5 s`
  // A subscription stays open after the asker closes its side (CANCEL, REFUSE or the stream's end end it): open by
  // design, not hung. Garbage makes a valid SUBSCRIBE now and then; its STATE may come after this side closed, or the
  // CANCEL may land inside a frame the garbage left incomplete (the seed reads it as that frame's bytes).
  return end === 'hung' && states.size > 0 ? 'subscription left open' : end
}

/**
 * One valid request of the flood's mix: pieces with probability `pieceShare` (they cost the seed upload slots and
 * bytes), else mostly MANIFEST_REQ and HAVE_REQ, and on 1.1.0 one in ten a SUBSCRIBE (cancelled at its STATE).
 */
function floodRequest (rng, version, id, pieceCount) {
  if (rng.bool(opts.pieceShare)) return encodeFrame(MessageType.PIECE_REQ, id, encodePieceRequest(opts.manifestCid, rng.int(pieceCount)))
  if (version === '1.1.0' && rng.bool(0.1)) return encodeFrame(MessageType.SUBSCRIBE, id, encodeKey(opts.manifestCid))
  return encodeFrame(rng.bool() ? MessageType.MANIFEST_REQ : MessageType.HAVE_REQ, id, encodeKey(opts.manifestCid))
}

/** Valid requests pipelined on one long-lived stream, at most `window` open; every answer decoded and counted. */
async function validStream (node, version, count, rng, ctx, counts) {
  if (count === 0) return
  const stream = await node.dialProtocol(multiaddr(opts.addr), pieceProtocol(GROUP, version), { signal: AbortSignal.timeout(STREAM_WAIT) })
  const open = new Map()
  let wake = null
  let failed = null
  const settle = id => { open.delete(id); counts.answered++; wake?.() }
  const decoder = new FrameDecoder(f => {
    const kind = open.get(f.id)
    if (kind === undefined) return // a late answer to a cancelled subscription, or a DATA part
    if (f.type === MessageType.REFUSE) {
      counts[f.payload[0] === RefuseReason.BUSY ? 'busy' : 'refused']++
      settle(f.id)
    } else if (kind === MessageType.SUBSCRIBE) {
      if (f.type !== MessageType.STATE || decodeState(f.payload).pieceCount !== ctx.pieceCount) counts.wrong++
      stream.send(encodeFrame(MessageType.CANCEL, f.id))
      settle(f.id)
    } else if (kind === MessageType.PIECE_REQ) {
      if (f.type === MessageType.PIECE || f.offset + f.payload.byteLength >= f.total) settle(f.id)
    } else {
      settle(f.id)
    }
  }, receivable('client', version))
  stream.addEventListener('message', evt => { try { decoder.push(evt.data) } catch (err) { failed = err; wake?.() } })
  stream.addEventListener('close', evt => { failed ??= evt.error ?? new Error('closed'); wake?.() })
  let id = 0
  for (let sent = 0; sent < count && failed === null;) {
    while (open.size < opts.window && sent < count) {
      id++
      const frame = floodRequest(rng, version, id, ctx.pieceCount)
      const type = frame[4]
      open.set(id, type)
      sent++
      counts.sent++
      if (!stream.send(frame)) await waitForDrain(stream, 30_000).catch(err => { failed = err })
    }
    await Promise.race([new Promise(resolve => { wake = resolve }), new Promise(resolve => setTimeout(resolve, 30_000))])
    wake = null
  }
  const until = Date.now() + 30_000
  while (open.size > 0 && failed === null && Date.now() < until) {
    await Promise.race([new Promise(resolve => { wake = resolve }), new Promise(resolve => setTimeout(resolve, 1_000))])
  }
  counts.unanswered += open.size
  if (failed !== null && open.size > 0) counts.streamErrors.push(String(failed.message ?? failed))
  await stream.close().catch(() => stream.abort(new Error('flood: done')))
}

/** The seed's piece count, from a subscription's STATE. */
async function pieceCountOf (node) {
  const stream = await node.dialProtocol(multiaddr(opts.addr), pieceProtocol(GROUP, '1.1.0'), { signal: AbortSignal.timeout(STREAM_WAIT) })
  const count = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no STATE from the seed')), STREAM_WAIT)
    const decoder = new FrameDecoder(f => {
      if (f.type === MessageType.STATE) { clearTimeout(timer); resolve(decodeState(f.payload).pieceCount) } else if (f.type === MessageType.REFUSE) { clearTimeout(timer); reject(new Error('the seed refused the subscription')) }
    }, receivable('client', '1.1.0'))
    stream.addEventListener('message', evt => decoder.push(evt.data))
    stream.send(encodeFrame(MessageType.SUBSCRIBE, 1, encodeKey(opts.manifestCid)))
  })
  stream.abort(new Error('done'))
  return count
}

/**
 * libp2p takes at most 5 new connections a second from one host (inboundConnectionThreshold) and refuses the rest:
 * connections start apart, and the first dial is retried.
 */
async function connect (node, index) {
  await new Promise(resolve => setTimeout(resolve, ((opts.firstConnection ?? 0) + index) * 400))
  for (let attempt = 1; ; attempt++) {
    try {
      return await pieceCountOf(node)
    } catch (err) {
      if (attempt >= 5) throw err
      await new Promise(resolve => setTimeout(resolve, 1_000))
    }
  }
}

async function attack (index) {
  const node = await createNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], groupId: GROUP, dht: false })
  await node.start()
  const rng = rngOf(opts.seed + index * 7919)
  const share = total => Math.floor(total / opts.connections) + (index < total % opts.connections ? 1 : 0)
  const malformedCount = share(opts.malformed)
  const validCount = share(opts.valid)
  const counts = { malformed: {}, ends: {}, valid: { sent: 0, answered: 0, refused: 0, busy: 0, wrong: 0, unanswered: 0, streamErrors: [] } }
  try {
    const ctx = { pieceCount: await connect(node, index) }
    let next = 0
    const malformed = Array.from({ length: opts.concurrency }, async () => {
      while (next < malformedCount) {
        const n = next++
        const kind = KIND_NAMES[n % KIND_NAMES.length]
        const version = n % 2 === 0 ? '1.1.0' : '1.0.0'
        const chunks = KINDS[kind](rng, version, ctx)
        const end = await malformedStream(node, version, chunks).catch(() => 'dial failed')
        counts.malformed[kind] = (counts.malformed[kind] ?? 0) + 1
        counts.ends[end] = (counts.ends[end] ?? 0) + 1
        if (end === 'hung' || end === 'dial failed' || end.endsWith('over 5 s')) counts.ends[`${end}: ${kind}`] = (counts.ends[`${end}: ${kind}`] ?? 0) + 1
        if (end === 'hung' && process.env.FLOOD_DEBUG) process.stderr.write(`HUNG ${version} ${kind} ${chunks.map(c => Buffer.from(c).toString('hex')).join(' ')}\n`)
      }
    })
    const streams = opts.validStreams
    const valid = Array.from({ length: streams }, async (_, i) => {
      const count = Math.floor(validCount / streams) + (i < validCount % streams ? 1 : 0)
      await validStream(node, i % 2 === 0 ? '1.1.0' : '1.0.0', count, rng, ctx, counts.valid).catch(err => { counts.valid.streamErrors.push(err.message) })
    })
    await Promise.all([...malformed, ...valid])
  } finally {
    await stopNode(node).catch(() => {})
  }
  return counts
}

// A dial refused during its upgrade surfaces as an uncaught EncryptionFailedError in libp2p 3's upgrader: counted,
// not fatal to the attacker (the dial is retried).
let uncaught = 0
process.on('uncaughtException', err => { uncaught++; if (uncaught <= 3) process.stderr.write(`attacker: uncaught ${err?.name}: ${err?.message}\n`) })

const started = Date.now()
const results = await Promise.all(Array.from({ length: opts.connections }, async (_, i) => await attack(i)))
const total = { malformed: {}, ends: {}, valid: { sent: 0, answered: 0, refused: 0, busy: 0, wrong: 0, unanswered: 0, streamErrors: [] } }
for (const r of results) {
  for (const [k, n] of Object.entries(r.malformed)) total.malformed[k] = (total.malformed[k] ?? 0) + n
  for (const [k, n] of Object.entries(r.ends)) total.ends[k] = (total.ends[k] ?? 0) + n
  for (const k of ['sent', 'answered', 'refused', 'busy', 'wrong', 'unanswered']) total.valid[k] += r.valid[k]
  total.valid.streamErrors.push(...r.valid.streamErrors)
}
latencies.sort((x, y) => x - y)
const at = q => latencies.length === 0 ? null : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
total.endMs = { p50: at(0.5), p99: at(0.99), max: at(1), over5s: latencies.filter(ms => ms > 5_000).length, n: latencies.length }
total.uncaught = uncaught
process.stdout.write(`${JSON.stringify({ ...total, seconds: (Date.now() - started) / 1000 })}\n`)
process.exit(0)
