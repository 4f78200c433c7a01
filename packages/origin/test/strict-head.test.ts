import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { NodeHttpTransport } from '../src/node-http-transport.js'
import { DefaultOriginClient } from '../src/origin-client.js'
import { MAX_HEAD_SIZE } from '../src/response-head.js'
import { dribble } from './dribble.js'
import { withRawServer } from './with-server.js'

const raw = createOriginClient({ retries: 1, retryDelay: 10 })
// The https: path (node:http's strict parser), run against the same plain servers.
const nodeHttp = new DefaultOriginClient({ retries: 1, retryDelay: 10 }, settings => {
  const transport = new NodeHttpTransport(settings)
  return { http: transport, https: transport }
})

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n'

/** Heads no client of dopt's may accept, each with what makes it bad. */
const BAD_HEADS: Array<[string, string]> = [
  ['a bare CR inside a value', `${OK}X-A: one\rtwo\r\n\r\nabc`],
  ['a bare LF inside a value', `${OK}X-A: one\ntwo\r\n\r\nabc`],
  ['a NUL inside a value', `${OK}X-A: one\0two\r\n\r\nabc`],
  ['a folded header line (obs-fold)', `${OK}X-A: one\r\n two\r\n\r\nabc`],
  ['a space before the colon', `${OK}X-A : one\r\n\r\nabc`],
  ['a header line without a colon', `${OK}X-A one\r\n\r\nabc`],
  ['two equal Content-Length headers', `${OK}Content-Length: 3\r\n\r\nabc`],
  ['two different Content-Length headers', `${OK}Content-Length: 4\r\n\r\nabcd`],
  ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc'],
  ['a signed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc'],
  ['Content-Length with Transfer-Encoding', `${OK}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
  ['a malformed status line', 'HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\nabc'],
  ['an HTTP/2 status line', 'HTTP/2 200\r\nContent-Length: 3\r\n\r\nabc']
]

describe('strict response heads (raw socket path)', () => {
  it.each(BAD_HEADS)('refuses %s with ORIGIN_PROTOCOL, without retrying', async (_what, wire) => {
    let connections = 0
    await withRawServer(socket => { connections++; socket.end(wire) }, async ({ url }) => {
      await expect(raw.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', context: 'remote-file' })
      expect(connections).toBe(1)
    })
  })

  it('refuses a head over MAX_HEAD_SIZE that arrives in one read', async () => {
    const wire = Buffer.from(`${OK}X-Big: ${'a'.repeat(MAX_HEAD_SIZE)}\r\n\r\nabc`)
    await withRawServer(socket => { socket.end(wire) }, async ({ url }) => {
      await expect(raw.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', message: 'response head too large' })
    })
  })

  it('refuses a head over MAX_HEAD_SIZE that comes in small reads, and one that never ends', async () => {
    const wire = Buffer.from(`${OK}X-Big: ${'a'.repeat(MAX_HEAD_SIZE)}\r\n\r\nabc`)
    await withRawServer(socket => { void dribble(socket, wire, 4096).catch(() => {}) }, async ({ url }) => {
      await expect(raw.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', message: 'response head too large' })
    })
    await withRawServer(socket => { socket.write(`${OK}X-Endless: `); socket.write('b'.repeat(2 * MAX_HEAD_SIZE)) }, async ({ url }) => {
      await expect(raw.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('counts interim heads in the limit', async () => {
    const hint = `HTTP/1.1 103 Early Hints\r\nLink: <${'/x'.repeat(1000)}>\r\n\r\n`
    await withRawServer(socket => { socket.end(hint.repeat(40) + `${OK}\r\nabc`) }, async ({ url }) => {
      await expect(raw.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL', message: 'response head too large' })
    })
  })

  it('accepts a head of exactly MAX_HEAD_SIZE bytes split at every point of its end', async () => {
    const start = `${OK}X-Pad: `
    const head = start + 'p'.repeat(MAX_HEAD_SIZE - start.length - 2) + '\r\n'
    expect(head.length).toBe(MAX_HEAD_SIZE)
    const wire = Buffer.from(`${head}\r\nabc`)
    for (const cut of [wire.length - 8, wire.length - 6, wire.length - 5, wire.length - 4]) {
      await withRawServer(socket => { socket.write(wire.subarray(0, cut)); setTimeout(() => socket.end(wire.subarray(cut)), 20) }, async ({ url }) => {
        const parts: Buffer[] = []
        await raw.fetchRange(url, { start: 0, onData: c => { parts.push(Buffer.from(c)) } })
        expect(Buffer.concat(parts).toString()).toBe('abc')
      })
    }
  })
})

describe('strict response heads (node:http path)', () => {
  it.each(BAD_HEADS.filter(([what]) => what !== 'an HTTP/2 status line'))('refuses %s with ORIGIN_PROTOCOL', async (_what, wire) => {
    await withRawServer(socket => { socket.end(wire) }, async ({ url }) => {
      await expect(nodeHttp.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })

  it('refuses a head over MAX_HEAD_SIZE', async () => {
    await withRawServer(socket => { socket.end(`${OK}X-Big: ${'a'.repeat(MAX_HEAD_SIZE)}\r\n\r\nabc`) }, async ({ url }) => {
      await expect(nodeHttp.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })
})

describe('header values written by dopt', () => {
  it.each([
    ['CR LF', '"v1"\r\nX-Injected: yes'],
    ['a bare LF', '"v1"\nX'],
    ['NUL', '"v1"\0']
  ])('refuses a validator with %s as If-Range, before any request (both transports)', async (_what, etag) => {
    let connections = 0
    await withRawServer(socket => { connections++; socket.destroy() }, async ({ url }) => {
      for (const client of [raw, nodeHttp]) {
        await expect(client.fetchRange(url, { start: 5, validator: { etag, lastModified: null }, onData: () => {} }))
          .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      }
      expect(connections).toBe(0)
    })
  })

  it('refuses a user agent with a line break', () => {
    expect(() => createOriginClient({ userAgent: 'dopt\r\nX: y' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error)
  })
})
