/**
 * Tests talk only to 127.0.0.0/8 (and ::1), and over TCP to the lab's own network namespaces (LAB_NETNS, below):
 * every UDP send, multicast membership and TCP connect made in a test process is checked, and nothing bound elsewhere goes out - so a test (or a default such as mDNS on every
 * interface) that would reach the machine's real network fails instead of sending. A connect or a membership
 * throws; a datagram fails through its callback (as a network error would: libraries send from callbacks, where a
 * throw would crash the process). Every attempt is noted (`attempts()`), and also printed to stderr with the marker
 * OFF-MACHINE. Loaded for every test file (test/setup/vitest.ts fails a test that made one) and in the CLI tests'
 * children through NODE_OPTIONS (apps/cli/test/helpers.ts fails a command that printed the marker).
 */
import dgram from 'node:dgram'
import net from 'node:net'

const MDNS_GROUP = '224.0.0.251'

export const MARKER = 'OFF-MACHINE'

export class OffMachineError extends Error {
  name = 'OffMachineError'

  constructor (message) {
    super(message)
    // Noted where tests can look: a refused send deep in a library's callback may be swallowed there.
    attempts().push(message)
    process.stderr.write(`${MARKER}: ${message}\n`)
  }
}

/** Every attempt refused in this process, newest last. */
export function attempts () {
  const key = Symbol.for('dopt.offMachineAttempts')
  globalThis[key] ??= []
  return globalThis[key]
}

/**
 * 10.203.0.0/16 is the lab's network namespaces' subnet (packages/lab/src/netns-plan.ts, `dopt lab --netns`): those
 * addresses exist only inside namespaces the lab creates, linked to nothing else, so a connect to one cannot leave
 * the machine (and outside them it fails). Allowed for TCP connects only, so the lab's node processes, which the CLI
 * tests start with this guard, can reach each other and the origin there.
 */
const LAB_NETNS = /^(?:::ffff:)?10\.203\.\d{1,3}\.\d{1,3}$/

function loopback (host) {
  if (host === undefined || host === null || host === '') return true // the default: localhost
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.')
}

const multicastIf = new WeakMap()

const setMulticastInterface = dgram.Socket.prototype.setMulticastInterface
dgram.Socket.prototype.setMulticastInterface = function (iface) {
  multicastIf.set(this, iface)
  return setMulticastInterface.call(this, iface)
}

const addMembership = dgram.Socket.prototype.addMembership
dgram.Socket.prototype.addMembership = function (group, iface) {
  if (iface === undefined || !loopback(iface)) {
    throw new OffMachineError(`a test joined multicast group ${group} on ${iface ?? 'every interface'}: tests stay on 127.0.0.0/8`)
  }
  return addMembership.call(this, group, iface)
}

const send = dgram.Socket.prototype.send
dgram.Socket.prototype.send = function (...args) {
  const address = args.slice(1).find(a => typeof a === 'string')
  const viaLoopback = address === MDNS_GROUP && multicastIf.has(this) && loopback(multicastIf.get(this))
  if (address !== undefined && !loopback(address) && !viaLoopback) {
    const err = new OffMachineError(`a test sent UDP to ${address}${address === MDNS_GROUP ? ' on every interface' : ''}: tests stay on 127.0.0.0/8`)
    const callback = args.findLast(a => typeof a === 'function')
    if (callback !== undefined) process.nextTick(callback, err)
    return
  }
  return send.apply(this, args)
}

const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  let host
  if (typeof first === 'object' && first !== null) host = first.path !== undefined ? 'localhost' : first.host
  else if (typeof first === 'string' && Number.isNaN(Number(first))) host = 'localhost' // a Unix socket path
  else if (typeof args[1] === 'string') host = args[1]
  if (!loopback(host) && !LAB_NETNS.test(host)) throw new OffMachineError(`a test connected to ${host}: tests stay on 127.0.0.0/8 (or the lab's namespaces, 10.203.0.0/16)`)
  return connect.apply(this, args)
}
