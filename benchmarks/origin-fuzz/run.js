// Fuzzes the raw-socket origin client's response parser: @dopt/origin's HeadReader (status line, header fields,
// head size limits, interim heads) and body framers (Content-Length, chunked, close-delimited), driven as
// net-transport.ts drives them: every input is cut into random socket reads, each copied into one reused read buffer.
//
//   npm run build
//   node benchmarks/origin-fuzz/run.js [--inputs N] [--seed S] [--out docs/benchmarks.md] [--smoke] [--seconds S]
//                                      [--json] [--sabotage]
//
// Inputs: valid responses (random status, headers, framing, body; some after 1xx heads, some to HEAD), the same
// mutated (bytes flipped, inserted - CR, LF, NUL, ':', digits -, deleted, repeated, long runs, cut), and random
// bytes. Checked: a valid response decodes to exactly its body; any input either decodes or fails with
// ORIGIN_PROTOCOL, never another exception; each framer step makes progress (no hang); body bytes never exceed the
// input; accepted heads carry no CR, LF or NUL; Content-Range and Content-Length values parse to consistent numbers
// or to nothing. Memory (RSS, heap) is
// sampled. Exit 1 on any failure. --inputs defaults to 1,000,000 (--smoke: 5,000, report to a temp file); --seconds
// (900) bounds the run; --json prints a summary line; --sabotage breaks a framer on purpose, to show the checks catch it.
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import { REPO_ROOT, machineInfo, runBenchmark, writeSection } from '../lib.js'

const SECTION = 'origin-fuzz'
const URL_TEXT = 'http://127.0.0.1/fuzz'
const READ_BUFFER = 64 * 1024

function options () {
  const usage = (message) => {
    if (message) process.stderr.write(`origin-fuzz: ${message}\n`)
    process.stderr.write('usage: node benchmarks/origin-fuzz/run.js [--inputs N] [--seed S] [--out FILE] [--smoke] [--seconds S]\n')
    process.exit(2)
  }
  let values
  try {
    ({ values } = parseArgs({
      options: {
        inputs: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        seconds: { type: 'string', default: '900' },
        smoke: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        sabotage: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }))
  } catch (err) {
    usage(err.message)
  }
  if (values.help) usage()
  const inputs = values.inputs !== undefined ? Number(values.inputs) : values.smoke ? 5000 : 1_000_000
  if (!Number.isInteger(inputs) || inputs < 1) usage('--inputs must be a whole number >= 1')
  const seed = values.seed !== undefined ? Number(values.seed) : (Date.now() % 0xffffffff) >>> 0
  if (!Number.isInteger(seed)) usage('--seed must be an integer')
  const seconds = Number(values.seconds)
  if (!(seconds > 0)) usage('--seconds must be a positive number')
  const out = values.out !== undefined
    ? resolve(values.out)
    : values.smoke ? join(tmpdir(), 'dopt-bench-origin-fuzz-smoke.md') : join(REPO_ROOT, 'docs/benchmarks.md')
  return { inputs, seed, seconds, out, smoke: values.smoke, json: values.json, sabotage: values.sabotage }
}

/** mulberry32: small, fast and seeded, so that a failing input can be made again from its seed and index. */
function prng (seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n) => Math.floor(next() * n)
  return { next, int, pick: (list) => list[int(list.length)], chance: (p) => next() < p }
}

const NAMES = ['Content-Type', 'ETag', 'Last-Modified', 'Cache-Control', 'Server', 'Date', 'Accept-Ranges', 'Vary',
  'X-Request-Id', 'Set-Cookie', 'Link', 'Age', 'Via', 'Keep-Alive', 'Connection', 'Content-Range', 'Retry-After']
const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
const SPECIAL = [0x0d, 0x0a, 0x00, 0x3a, 0x20, 0x09, 0x30, 0x39, 0x3b, 0x2c, 0x7f, 0xff, 0x2d, 0x2f]

function randomToken (r, max) {
  let s = ''
  for (let i = 1 + r.int(max); i > 0; i--) s += TOKEN_CHARS[r.int(TOKEN_CHARS.length)]
  return s
}

function randomValue (r) {
  let s = ''
  for (let i = r.int(r.chance(0.05) ? 2000 : 60); i > 0; i--) s += String.fromCharCode(0x20 + r.int(0x5f))
  return s.trim()
}

/** A well-formed response; `expected` is what a correct parser delivers. */
function validResponse (r) {
  const method = r.chance(0.1) ? 'HEAD' : 'GET'
  const status = r.pick([200, 200, 200, 206, 206, 204, 304, 404, 500, 301])
  const noBody = method === 'HEAD' || status === 204 || status === 304
  const size = r.chance(0.02) ? r.int(200_000) : r.int(3000)
  const body = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) body[i] = r.int(256)
  const framing = r.pick(['length', 'length', 'chunked', 'close'])
  let head = ''
  for (let i = r.int(3); r.chance(0.1) && i > 0; i--) head += `HTTP/1.1 103 Early Hints\r\nLink: </${randomToken(r, 20)}>\r\n\r\n`
  head += `HTTP/1.${r.chance(0.9) ? 1 : 0} ${status}${r.chance(0.9) ? ' Reason ' + randomToken(r, 10) : ''}\r\n`
  const headers = new Map()
  for (let i = r.int(8); i > 0; i--) {
    const name = r.chance(0.7) ? r.pick(NAMES) : randomToken(r, 30)
    const lower = name.toLowerCase()
    if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'content-range' || headers.has(lower)) continue
    const value = lower === 'content-range' ? `bytes 0-${Math.max(0, size - 1)}/${size + r.int(10)}` : randomValue(r)
    headers.set(lower, value)
    head += `${name}:${r.chance(0.8) ? ' ' : r.pick(['', '\t', '  '])}${value}${r.chance(0.1) ? ' \t' : ''}\r\n`
  }
  const parts = [null]
  if (framing === 'length') {
    head += `Content-Length: ${noBody && method === 'HEAD' ? size : noBody ? 0 : size}\r\n\r\n`
    if (!noBody) parts.push(body)
  } else if (framing === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n\r\n'
    if (!noBody) {
      let at = 0
      while (at < size) {
        const n = Math.min(size - at, 1 + r.int(r.chance(0.5) ? 16 : 4000))
        const hex = n.toString(16)
        parts.push(Buffer.from(`${r.chance(0.5) ? hex.toUpperCase() : hex}${r.chance(0.1) ? ';ext=' + randomToken(r, 8) : ''}\r\n`, 'latin1'))
        parts.push(body.subarray(at, at + n), Buffer.from('\r\n'))
        at += n
      }
      parts.push(Buffer.from(`0\r\n${r.chance(0.2) ? `X-Trailer: ${randomToken(r, 10)}\r\n` : ''}\r\n`, 'latin1'))
    }
  } else {
    head += '\r\n'
    if (!noBody) parts.push(body)
  }
  parts[0] = Buffer.from(head, 'latin1')
  return { method, bytes: Buffer.concat(parts), expected: noBody ? Buffer.alloc(0) : body, status, headers, closeDelimited: framing === 'close' && !noBody }
}

function mutate (r, input) {
  let bytes = input
  for (let m = 1 + r.int(r.chance(0.3) ? 8 : 2); m > 0; m--) {
    const at = bytes.length === 0 ? 0 : r.int(bytes.length)
    switch (r.int(7)) {
      case 0: { // flip a byte
        if (bytes.length === 0) break
        bytes = Buffer.from(bytes)
        bytes[at] = r.chance(0.5) ? r.pick(SPECIAL) : r.int(256)
        break
      }
      case 1: // insert a special byte
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([r.pick(SPECIAL)]), bytes.subarray(at)])
        break
      case 2: // delete a run
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.int(40)))])
        break
      case 3: { // repeat a run (a header twice, a chunk line twice)
        const run = bytes.subarray(at, Math.min(bytes.length, at + 1 + r.int(60)))
        bytes = Buffer.concat([bytes.subarray(0, at), run, run, bytes.subarray(at)])
        break
      }
      case 4: // a long run of one byte: heads past the size limit, huge chunk sizes
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.alloc(r.chance(0.2) ? 70_000 : 1 + r.int(40), r.pick([0x61, 0x46, 0x30, 0x20, 0x0d])), bytes.subarray(at)])
        break
      case 5: // cut
        bytes = bytes.subarray(0, at)
        break
      default: { // a digit string replaced: lengths and chunk sizes
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(String(r.chance(0.5) ? r.int(100000) : 2 ** 53 + r.int(1000)), 'latin1'), bytes.subarray(at)])
      }
    }
  }
  return bytes
}

function randomBytes (r) {
  const n = r.int(600)
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = r.chance(0.3) ? r.pick(SPECIAL) : r.int(256)
  return r.chance(0.5) ? Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), b]) : b
}

/**
 * Parses `input` as the raw socket path does, cut into reads of random size copied into `scratch`. Returns the
 * outcome and the body; throws only what the parser threw.
 */
function parse (lib, r, input, method, scratch) {
  const heads = new lib.HeadReader(URL_TEXT)
  let framer = null
  let head = null
  const body = []
  let bodyBytes = 0
  let off = 0
  while (off < input.length) {
    const n = Math.min(input.length - off, 1 + (r.chance(0.3) ? r.int(8) : r.int(scratch.length)))
    input.copy(scratch, 0, off, off + n)
    off += n
    let pos = 0
    if (framer === null) {
      pos = heads.read(scratch, 0, n)
      if (pos < 0) continue
      head = heads.head
      framer = lib.framerFor(method, head.status, head.headers, URL_TEXT)
    }
    while (!framer.finished && pos < n) {
      const before = pos
      pos = framer.take(scratch, pos, n)
      const got = framer.dataEnd - framer.dataStart
      if (got > 0) {
        body.push(Buffer.from(scratch.subarray(framer.dataStart, framer.dataEnd)))
        bodyBytes += got
      }
      if (pos <= before && !framer.finished) return { outcome: 'stuck', head, body }
    }
    if (framer.finished) return { outcome: 'complete', head, body: Buffer.concat(body, bodyBytes) }
  }
  if (framer === null) return { outcome: 'no-head', head, body: Buffer.alloc(0) }
  return { outcome: framer.endsAtClose ? 'complete' : 'truncated', head, body: Buffer.concat(body, bodyBytes) }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

/**
 * What an accepted head promises: header names are lowercase tokens and no value carries CR, LF or NUL; Content-Range
 * and Content-Length values parse to consistent numbers, or to nothing.
 */
function checkValues (lib, head) {
  for (const [name, value] of head.headers) {
    if (!HEADER_NAME.test(name)) return `header name ${JSON.stringify(name)} accepted`
    if (/[\0\r\n]/.test(value)) return `header value ${JSON.stringify(value.slice(0, 80))} with CR, LF or NUL accepted`
  }
  const range = lib.parseContentRange(head.headers.get('content-range'))
  if (range !== null) {
    const ok = range.first === null
      ? range.last === null && Number.isSafeInteger(range.size)
      : Number.isSafeInteger(range.first) && Number.isSafeInteger(range.last) && range.first <= range.last &&
        (range.size === null || (Number.isSafeInteger(range.size) && range.last < range.size))
    if (!ok) return `inconsistent Content-Range ${JSON.stringify(range)}`
  }
  const length = lib.parseContentLength(head.headers.get('content-length'))
  if (length !== null && length !== 'invalid' && !(Number.isSafeInteger(length) && length >= 0)) return `bad Content-Length ${length}`
  return null
}

/**
 * --sabotage checks the checks: framers that lose the last byte of every 50th run of body bytes, which the run
 * must report (exit 1).
 */
function sabotaged (framerFor) {
  let runs = 0
  return (...args) => {
    const framer = framerFor(...args)
    const take = framer.take.bind(framer)
    framer.take = (buf, pos, len) => {
      const next = take(buf, pos, len)
      if (framer.dataEnd > framer.dataStart && ++runs % 50 === 0) framer.dataEnd--
      return next
    }
    return framer
  }
}

async function main () {
  const opts = options()
  const dist = (p) => join(REPO_ROOT, 'packages', p)
  const [heads, framing, info, iface] = await Promise.all([
    import(dist('origin/dist/response-head.js')), import(dist('origin/dist/body-framing.js')),
    import(dist('origin/dist/remote-info.js')), import(dist('interface/dist/index.js'))
  ]).catch(() => { throw new Error('packages/origin/dist is missing: run "npm run build" first') })
  const lib = { ...heads, ...framing, ...info }
  if (opts.sabotage) lib.framerFor = sabotaged(framing.framerFor)
  const { OriginProtocolError } = iface

  const r = prng(opts.seed)
  const scratch = Buffer.allocUnsafe(READ_BUFFER)
  const counts = { valid: 0, mutated: 0, random: 0 }
  const outcomes = { complete: 0, 'protocol-error': 0, 'no-head': 0, truncated: 0 }
  const failures = []
  let inputBytes = 0
  let slowest = { ms: 0, kind: '', index: -1 }
  let peakRss = 0
  let peakHeap = 0
  const started = performance.now()
  const deadline = started + opts.seconds * 1000
  let done = 0
  const sample = () => {
    const m = process.memoryUsage()
    peakRss = Math.max(peakRss, m.rss)
    peakHeap = Math.max(peakHeap, m.heapUsed)
  }
  for (let i = 0; i < opts.inputs; i++) {
    if ((i & 0xfff) === 0) {
      sample()
      if (performance.now() > deadline) { failures.push({ index: i, kind: '-', what: `out of time after ${i} inputs` }); break }
      if (i > 0 && (i & 0x3ffff) === 0) process.stderr.write(`  ${i} inputs, ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
    }
    const roll = r.next()
    const kind = roll < 0.35 ? 'valid' : roll < 0.9 ? 'mutated' : 'random'
    counts[kind]++
    const valid = kind === 'random' ? null : validResponse(r)
    const input = kind === 'valid' ? valid.bytes : kind === 'mutated' ? mutate(r, valid.bytes) : randomBytes(r)
    const method = valid?.method ?? 'GET'
    inputBytes += input.length
    const t0 = performance.now()
    let result = null
    try {
      result = parse(lib, r, input, method, scratch)
    } catch (err) {
      if (err instanceof OriginProtocolError) {
        outcomes['protocol-error']++
        if (kind === 'valid') failures.push({ index: i, kind, what: `a valid response refused: ${err.message}` })
      } else {
        failures.push({ index: i, kind, what: `crash: ${err?.stack ?? err}` })
      }
    }
    const ms = performance.now() - t0
    if (ms > slowest.ms) slowest = { ms, kind, index: i }
    done++
    if (result === null) continue
    if (result.outcome === 'stuck') {
      failures.push({ index: i, kind, what: 'a framer step made no progress (would hang)' })
      continue
    }
    outcomes[result.outcome]++
    if (result.body.length > input.length) failures.push({ index: i, kind, what: 'more body bytes than input bytes' })
    if (result.head !== null) {
      const bad = checkValues(lib, result.head)
      if (bad !== null) failures.push({ index: i, kind, what: bad })
    }
    if (kind === 'valid') {
      if (result.outcome !== 'complete') failures.push({ index: i, kind, what: `a valid response ended ${result.outcome}` })
      else if (!result.body.equals(valid.expected)) failures.push({ index: i, kind, what: 'a valid response decoded to other bytes' })
      else if (result.head.status !== valid.status) failures.push({ index: i, kind, what: `status ${result.head.status}, sent ${valid.status}` })
      else {
        for (const [name, value] of valid.headers) {
          if (result.head.headers.get(name) !== value) { failures.push({ index: i, kind, what: `header ${name} read as ${result.head.headers.get(name)}` }); break }
        }
      }
    }
    if (failures.length > 20) break
  }
  sample()
  const seconds = (performance.now() - started) / 1000
  const MB = 1e6
  const summary = {
    inputs: done, seed: opts.seed, seconds, perSecond: done / seconds, inputMB: inputBytes / MB, counts, outcomes,
    failures: failures.length, slowestMs: slowest.ms, slowestKind: slowest.kind, peakRssMB: peakRss / MB, peakHeapMB: peakHeap / MB
  }
  for (const f of failures.slice(0, 10)) process.stderr.write(`origin-fuzz: FAIL input ${f.index} (${f.kind}, seed ${opts.seed}): ${f.what}\n`)
  const fmt = (n) => n.toLocaleString('en-US')
  const table = [
    '| inputs | valid | mutated | random | input MB | seconds | inputs/s | slowest input | peak RSS | peak heap | failures |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${fmt(done)} | ${fmt(counts.valid)} | ${fmt(counts.mutated)} | ${fmt(counts.random)} | ${summary.inputMB.toFixed(0)} | ${seconds.toFixed(1)} | ${fmt(Math.round(summary.perSecond))} | ${slowest.ms.toFixed(1)} ms (${slowest.kind}) | ${summary.peakRssMB.toFixed(0)} MB | ${summary.peakHeapMB.toFixed(0)} MB | ${failures.length} |`
  ].join('\n')
  const outcomeLine = `Outcomes: ${fmt(outcomes.complete)} decoded to the end, ${fmt(outcomes['protocol-error'])} refused with ORIGIN_PROTOCOL, ` +
    `${fmt(outcomes.truncated)} cut inside the body, ${fmt(outcomes['no-head'])} cut inside the head (both are ORIGIN_UNAVAILABLE on a socket: the connection closed early).`
  process.stdout.write(`\n${table}\n\n${outcomeLine}\n`)
  if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
  const m = machineInfo()
  const body = `## Origin response parser fuzzing

Written by \`node benchmarks/origin-fuzz/run.js${opts.smoke ? ' --smoke' : ''}${opts.inputs !== 1_000_000 && !opts.smoke ? ` --inputs ${opts.inputs}` : ''}\` on ${new Date().toISOString()} (seed ${opts.seed}).

- Machine: ${m.cores} × ${m.cpuModel}; ${m.os}; Node ${m.node}
- What runs: @dopt/origin's \`HeadReader\` and body framers (Content-Length, chunked, close-delimited), driven as the
  raw socket transport drives them: every input cut into random reads (a third of them 1-8 bytes), each copied into
  one reused 64 KiB read buffer.
- Inputs: valid responses (random status, headers, framing and body, some after 103 heads, some to a HEAD); the
  same mutated 1-8 times (bytes flipped or inserted - CR, LF, NUL, \`:\`, digits -, runs deleted or repeated, long
  runs of one byte, cut short, digit strings replaced); random bytes.
- Checked: every valid response decodes to exactly its body, status and headers; every input decodes or fails with
  ORIGIN_PROTOCOL (no other exception); every framer step makes progress (no hang); no more body bytes than input;
  an accepted head has token names and no CR, LF or NUL in its values; Content-Range and Content-Length values parse
  to consistent numbers or to nothing.

${table}

${outcomeLine}`
  // A sabotaged run's figures describe a broken parser: never written anywhere.
  if (!opts.sabotage) {
    await writeSection(opts.out, SECTION, body)
    process.stderr.write(`origin-fuzz: wrote ${opts.out}\n`)
  }
  if (failures.length > 0) throw new Error(`${failures.length} failure(s)`)
}

await runBenchmark('origin-fuzz', main)
