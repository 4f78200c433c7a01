import type { ServerResponse } from 'node:http'

export interface SseHubInit {
  /** Most clients at once; one more is answered 503. */
  maxClients: number
  /** A client with more than this many bytes not yet taken by its socket is dropped: it reads too slowly. */
  maxBufferedBytes: number
  /** Milliseconds between comment lines that keep idle connections (and proxies) open. */
  keepAlive: number
}

/**
 * Server-sent event streams to the page. Bounded: at most `maxClients`, and a client that does not keep up (its
 * socket's write buffer over `maxBufferedBytes`) is dropped rather than buffered for, so a stalled tab cannot
 * grow the node's memory. The page's EventSource reconnects by itself.
 */
export class SseHub {
  readonly #init: SseHubInit
  readonly #clients = new Set<ServerResponse>()
  readonly #timer: NodeJS.Timeout
  /** Clients dropped for reading too slowly, since the server started. */
  dropped = 0

  constructor (init: SseHubInit) {
    this.#init = init
    this.#timer = setInterval(() => { this.#write(': keep-alive\n\n') }, init.keepAlive)
    this.#timer.unref()
  }

  get size (): number {
    return this.#clients.size
  }

  /** Takes `res` as a stream and sends `first` on it; false (and nothing sent) when the hub is full. */
  add (res: ServerResponse, first: string[]): boolean {
    if (this.#clients.size >= this.#init.maxClients) return false
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Tells nginx-style proxies not to buffer the stream.
      'X-Accel-Buffering': 'no'
    })
    this.#clients.add(res)
    res.on('close', () => this.#clients.delete(res))
    // Where to reconnect from is not kept: a reconnecting page is sent the history again.
    res.write('retry: 2000\n\n')
    for (const text of first) this.#send(res, text)
    return true
  }

  /** Sends an event to every client. */
  broadcast (event: string, data: unknown): void {
    if (this.#clients.size > 0) this.#write(format(event, data))
  }

  /** Ends every stream. */
  close (): void {
    clearInterval(this.#timer)
    for (const res of this.#clients) res.end()
    this.#clients.clear()
  }

  #write (text: string): void {
    for (const res of this.#clients) this.#send(res, text)
  }

  #send (res: ServerResponse, text: string): void {
    if (res.writableLength > this.#init.maxBufferedBytes) {
      this.dropped++
      this.#clients.delete(res)
      res.destroy()
      return
    }
    res.write(text)
  }
}

/** One event in the text/event-stream format; JSON has no raw newlines, so one `data:` line. */
export function format (event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
