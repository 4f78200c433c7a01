import { request } from 'node:http'
import type { IncomingMessage } from 'node:http'

export interface SseEvent { event: string, data: unknown }

/** A real event-stream client over node:http: collects parsed events until `close()`. */
export interface SseClient {
  status: number
  headers: IncomingMessage['headers']
  events: SseEvent[]
  close(): void
}

export async function openEvents (url: string): Promise<SseClient> {
  return await new Promise((resolve, reject) => {
    const req = request(new URL('/events', url), { headers: { Accept: 'text/event-stream' } }, res => {
      const client: SseClient = { status: res.statusCode ?? 0, headers: res.headers, events: [], close: () => { req.destroy() } }
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) client.events.push({ event, data: JSON.parse(data.join('\n')) })
        }
      })
      res.on('error', () => {})
      resolve(client)
    })
    req.on('error', reject)
    req.end()
  })
}
