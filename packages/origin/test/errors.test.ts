import { describe, expect, it } from 'vitest'
import { HttpStatusError } from '@dopt/interface'
import { createOriginClient } from '../src/index.js'
import { randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 3, retryDelay: 10 })

describe('errors', () => {
  for (const status of [404, 410, 401, 403, 400, 451]) {
    it(`fails at once with HTTP_STATUS on ${status}`, async () => {
      await withServer((_req, res) => { res.writeHead(status).end('no') }, async ({ url, requests }) => {
        const err = await client.fetchRange(`${url}/f`, { start: 0, onData: () => {} }).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(HttpStatusError)
        expect(err).toMatchObject({ code: 'HTTP_STATUS', context: 'remote-file', httpStatus: status, url: `${url}/f` })
        expect(requests).toHaveLength(1)
      })
    })
  }

  it('rethrows what onData throws, unchanged and without retry', async () => {
    const failure = new Error('disk full')
    await withServer(serveBytes(randomBody(1_000_000)), async ({ url, requests }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => { throw failure } })).rejects.toBe(failure)
      expect(requests).toHaveLength(1)
    })
  })

  it('rethrows what an onData promise rejects with, unchanged', async () => {
    const failure = new Error('write failed')
    await withServer(serveBytes(randomBody(1_000_000)), async ({ url, requests }) => {
      let calls = 0
      await expect(client.fetchRange(url, {
        start: 0,
        onData: async () => {
          if (++calls === 2) throw failure
        }
      })).rejects.toBe(failure)
      expect(calls).toBe(2)
      expect(requests).toHaveLength(1)
    })
  })

  it('fails with ORIGIN_PROTOCOL on a response that is not HTTP', async () => {
    const { withRawServer } = await import('./with-server.js')
    await withRawServer(socket => { socket.end('SSH-2.0-OpenSSH\r\n\r\n') }, async ({ url }) => {
      await expect(client.fetchRange(url, { start: 0, onData: () => {} })).rejects.toMatchObject({ code: 'ORIGIN_PROTOCOL' })
    })
  })
})
