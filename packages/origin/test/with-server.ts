import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface TestServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string
  /** Every request received, in order. */
  requests: IncomingMessage[]
}

/** Runs `fn` against a fresh node:http server on 127.0.0.1 and a random port, closing it (and its sockets) after. */
export async function withServer (handler: Handler, fn: (server: TestServer) => Promise<void>): Promise<void> {
  const requests: IncomingMessage[] = []
  const server = createServer((req, res) => {
    requests.push(req)
    handler(req, res)
  })
  const url = await listen(server)
  try {
    await fn({ url, requests })
  } finally {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
}

/** Like `withServer`, with a raw TCP server, for responses node:http would not send (odd framing, split heads). */
export async function withRawServer (onConnection: (socket: Socket) => void,
  fn: (server: { url: string }) => Promise<void>): Promise<void> {
  const sockets = new Set<Socket>()
  const server = createNetServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onConnection(socket)
  })
  const url = await listen(server)
  try {
    await fn({ url })
  } finally {
    for (const socket of sockets) socket.destroy()
    await new Promise(resolve => server.close(resolve))
  }
}

async function listen (server: Server | NetServer): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
