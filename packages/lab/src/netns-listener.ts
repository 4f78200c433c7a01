// Opens a listening TCP socket inside a network namespace for a process outside it (netns.ts starts this with
// `ip netns exec NS node netns-listener.js HOST PORT` and an IPC channel): it listens on HOST:PORT there, sends the
// server's handle over IPC (Node passes a net.Server's socket to the other process), and exits. The lab's origin,
// an HTTP server in the lab's own process, then serves on that socket: connections to it are in the namespace.
import { createServer } from 'node:net'

const [host, port] = process.argv.slice(2)
if (process.send === undefined || host === undefined || port === undefined) {
  process.stderr.write('netns-listener: start me with HOST PORT and an IPC channel (from the lab)\n')
  process.exit(2)
}
const server = createServer()
server.once('error', err => {
  process.send?.({ error: err.message }, () => process.exit(1))
})
server.listen(Number(port), host, () => {
  process.send?.('server', server, () => {
    // The other process holds its own copy of the socket now.
    server.close()
    process.disconnect()
  })
})
