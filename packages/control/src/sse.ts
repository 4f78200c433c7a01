import type { ServerResponse } from 'node:http'

/** Bytes an event stream may have queued for a slow reader before it is dropped. */
const MAX_QUEUED = 4 * 1024 * 1024
/** A comment every so often keeps idle streams from looking dead to the client and to proxies. */
const KEEPALIVE_MS = 15_000

/** The server's side of a server-sent event stream. */
export class EventStream {
  readonly #res: ServerResponse
  readonly #timer: NodeJS.Timeout
  #closed = false
  readonly #onClose: Array<() => void> = []

  constructor (res: ServerResponse) {
    this.#res = res
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    res.flushHeaders()
    this.#timer = setInterval(() => { this.#write(': keep-alive\n\n') }, KEEPALIVE_MS)
    this.#timer.unref()
    res.once('close', () => { this.close() })
  }

  get closed (): boolean {
    return this.#closed
  }

  onClose (fn: () => void): void {
    if (this.#closed) fn()
    else this.#onClose.push(fn)
  }

  send (event: string, data: unknown): void {
    this.#write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  #write (text: string): void {
    if (this.#closed) return
    // A reader that does not keep up is cut off rather than held in memory without bound.
    if (this.#res.writableLength > MAX_QUEUED) {
      this.close()
      return
    }
    this.#res.write(text)
  }

  close (): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#res.end()
    for (const fn of this.#onClose.splice(0)) fn()
  }
}

export interface SseMessage {
  event: string
  data: string
}

/** Parses a server-sent event stream into messages (the subset the daemon sends: event and data lines). */
export async function * parseEventStream (body: AsyncIterable<Buffer | string>): AsyncGenerator<SseMessage> {
  let buffer = ''
  let event = 'message'
  let data: string[] = []
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '')
      buffer = buffer.slice(nl + 1)
      if (line === '') {
        if (data.length > 0) yield { event, data: data.join('\n') }
        event = 'message'
        data = []
      } else if (line.startsWith(':')) {
        continue
      } else if (line.startsWith('event:')) {
        event = line.slice(6).trim()
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''))
      }
    }
  }
}
