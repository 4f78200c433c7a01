import { describe, expect, it } from 'vitest'
import { createOriginClient } from '../src/index.js'
import { randomBody, serveBytes } from './fixtures.js'
import { withServer } from './with-server.js'

const client = createOriginClient({ retries: 1, retryDelay: 10 })
const body = randomBody(8 * 1024 * 1024 + 99)

describe('onData backpressure', () => {
  it('waits for a returned promise: one call at a time, the chunk intact until it settles', async () => {
    await withServer(serveBytes(body), async ({ url }) => {
      const parts: Buffer[] = []
      let active = 0
      let maxActive = 0
      await client.fetchRange(url, {
        start: 0,
        onData: async chunk => {
          active++
          maxActive = Math.max(maxActive, active)
          await new Promise(resolve => setTimeout(resolve, 1))
          // Copied only after the wait: had reading gone on, the reused buffer would hold other bytes by now.
          parts.push(Buffer.from(chunk))
          active--
        }
      })
      expect(maxActive).toBe(1)
      expect(Buffer.concat(parts).equals(body)).toBe(true)
    })
  })

  it('stops the origin from sending while onData waits', async () => {
    let serverBlocked = false
    await withServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length })
      let pos = 0
      const pump = (): void => {
        while (pos < body.length) {
          const ok = res.write(body.subarray(pos, pos + 65536))
          pos += 65536
          if (!ok) {
            serverBlocked = true
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    }, async ({ url }) => {
      let bytes = 0
      await client.fetchRange(url, {
        start: 0,
        onData: async chunk => {
          bytes += chunk.length
          if (bytes < 1_000_000) await new Promise(resolve => setTimeout(resolve, 300))
        }
      })
      expect(serverBlocked).toBe(true)
      expect(bytes).toBe(body.length)
    })
  })
})
