import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { ListenFailedError } from '@dopt/interface'
import type { DoptNode } from '@dopt/node'
import { isLoopback } from './address.js'
import { ActivityOptionError, NotLoopbackError } from './errors.js'
import { ActivityMetrics } from './metrics.js'
import { FAVICON_SVG, PAGE_CSS, PAGE_HTML } from './page.js'
import { PAGE_SCRIPT } from './page-script.js'
import { SseHub, format } from './sse.js'
import { DEFAULT_MAX_LISTED, readSnapshot } from './snapshot.js'
import { Sampler } from './sampler.js'

export interface ActivityServerInit {
  /** Address to listen on; must be loopback unless `allowNonLoopback`. @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port (see `url`). @default 0 */
  port?: number
  /**
   * Listen on an address that is not loopback. The page and /metrics have no authentication: only with a firewall
   * or an authenticating proxy in front. @default false
   */
  allowNonLoopback?: boolean
  /** Milliseconds between samples sent to the page (job events send one sooner). @default 1000 */
  interval?: number
  /** Samples kept for the chart of a page opened later. @default 600 */
  historyLength?: number
  /** Event streams at once; one more is answered 503. @default 16 */
  maxClients?: number
  /** A stream with more than this many bytes waiting in its socket is dropped (a client that reads too slowly). @default 1048576 */
  maxBufferedBytes?: number
  /** Most jobs, peers and cache items a page update lists (and jobs with series in /metrics); counts cover all. @default 200 */
  maxListed?: number
  /** Also serve prom-client's process metrics (CPU, memory, event loop lag, GC) with the prefix `dopt_`. @default true */
  processMetrics?: boolean
}

/** A running activity server. */
export interface ActivityServer {
  /** `http://HOST:PORT/`: the page; `/metrics`, `/events` and `/snapshot` under it. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Event streams open now. */
  readonly clients: number
  /** Stops listening, ends every event stream and stops sampling; the node is left running. */
  close(): Promise<void>
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

const positive = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) throw new ActivityOptionError(name, `must be a whole number >= 1, not ${String(value)}`)
  return v
}

/**
 * Serves a running node's metrics (`/metrics`, Prometheus text format) and its activity page (`/`, live through
 * server-sent events on `/events`) on a loopback address. Read-only: every route is GET, anything else is 405.
 * Refuses a non-loopback `host` (`NOT_LOOPBACK`) unless `allowNonLoopback`; fails with `LISTEN_FAILED` when the
 * address cannot be had.
 */
export async function startActivityServer (node: DoptNode, init: ActivityServerInit = {}): Promise<ActivityServer> {
  const host = init.host ?? '127.0.0.1'
  const port = init.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ActivityOptionError('port', `must be 0 to 65535, not ${String(init.port)}`)
  const local = isLoopback(host)
  if (!local && init.allowNonLoopback !== true) throw new NotLoopbackError(host)
  const interval = positive('interval', init.interval, 1000)
  const historyLength = positive('historyLength', init.historyLength, 600)
  const maxListed = positive('maxListed', init.maxListed, DEFAULT_MAX_LISTED)
  const hub = new SseHub({
    maxClients: positive('maxClients', init.maxClients, 16),
    maxBufferedBytes: positive('maxBufferedBytes', init.maxBufferedBytes, 1 << 20),
    keepAlive: 15_000
  })
  const metrics = new ActivityMetrics({ processMetrics: init.processMetrics ?? true })
  const sampler = new Sampler(node, hub, interval, historyLength, maxListed)
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => { void handle(req, res) })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', err => {
      reject(new ListenFailedError(`the activity server cannot listen on ${host}:${port}: ${err.message}`, { cause: err, context: 'none' }))
    })
    server.listen(port, host === 'localhost' ? '127.0.0.1' : host, () => { resolve() })
  }).catch(async (err: unknown) => {
    hub.close()
    throw err
  })
  const bound = server.address() as AddressInfo
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address
  // Host names a browser may use for this server. Anything else is a page elsewhere reaching in through DNS
  // rebinding (its name resolved to 127.0.0.1), refused: the data is read-only but not public.
  const hosts = new Set([`${urlHost}:${bound.port}`, `localhost:${bound.port}`, `127.0.0.1:${bound.port}`, `[::1]:${bound.port}`])
  sampler.start()

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'read-only: only GET is served here\n', { Allow: 'GET' })
      if (local && !hosts.has((req.headers.host ?? '').toLowerCase())) return send(res, 421, 'text/plain', 'unknown Host\n')
      switch (path) {
        case '/': return send(res, 200, 'text/html; charset=utf-8', PAGE_HTML)
        case '/activity.js': return send(res, 200, 'text/javascript; charset=utf-8', PAGE_SCRIPT)
        case '/activity.css': return send(res, 200, 'text/css; charset=utf-8', PAGE_CSS)
        case '/favicon.svg': return send(res, 200, 'image/svg+xml', FAVICON_SVG)
        case '/metrics': return send(res, 200, metrics.contentType, await metrics.render(await readSnapshot(node, maxListed)))
        case '/snapshot': return send(res, 200, 'application/json', JSON.stringify(await sampler.current()))
        case '/events': {
          const first = [format('history', sampler.history), format('snapshot', await sampler.current())]
          if (!hub.add(res, first)) send(res, 503, 'text/plain', 'too many activity pages are open\n', { 'Retry-After': '5' })
          return
        }
        default: return send(res, 404, 'text/plain', 'not found\n')
      }
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain', `cannot read the node: ${(err as Error).message}\n`)
      else res.destroy()
    }
  }

  let closing: Promise<void> | null = null
  return {
    url: `http://${urlHost}:${bound.port}/`,
    host: bound.address,
    port: bound.port,
    get clients () { return hub.size },
    async close () {
      closing ??= (async () => {
        sampler.stop()
        hub.close()
        const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
        for (const s of sockets) s.destroy()
        await closed
      })()
      await closing
    }
  }
}

function send (res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
