import { isIP } from 'node:net'
import { ActivityOptionError } from './errors.js'

/** Where the activity server listens. */
export interface ActivityAddress {
  host: string
  port: number
}

/** True for 127.0.0.0/8, ::1, an IPv4-mapped 127.x address, and the name `localhost`. */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase()
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) !== 6) return false
  // The URL parser writes an IPv6 address in its shortest form (0:0:0:0:0:0:0:1 is [::1], a mapped IPv4 [::ffff:7f00:1]).
  const canonical = new URL(`http://[${h}]/`).hostname
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical)
}

/**
 * Parses an address as the command line takes it: `HOST:PORT`, `[IPv6]:PORT`, or a bare `PORT` (on 127.0.0.1).
 * Port 0 picks a free port. Whether the host is loopback is checked when the server starts.
 */
export function parseActivityAddress (text: string): ActivityAddress {
  const t = text.trim()
  let host = '127.0.0.1'
  let port = t
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(t)
  if (bracket != null) {
    host = bracket[1]!
    port = bracket[2]!
  } else if (t.includes(':')) {
    const i = t.lastIndexOf(':')
    host = t.slice(0, i)
    port = t.slice(i + 1)
    if (host.includes(':')) throw new ActivityOptionError('address', `"${text}": write an IPv6 address in brackets, as [::1]:PORT`)
  }
  if (host === '' || !/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new ActivityOptionError('address', `"${text}" is not HOST:PORT (a port from 0 to 65535)`)
  }
  return { host, port: Number(port) }
}
