import { InvalidArgumentError } from '@dopt/interface'
import type { ExchangeRequest } from './transport.js'

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * True when `value` holds a control byte, which a header value written by dopt never carries (RFC 9110 section 5.5
 * allows HTAB only): CR or LF would let a value from elsewhere (an origin's ETag echoed as If-Range, a saved
 * validator) add headers or a request.
 */
function hasControl (value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true
  }
  return false
}

/** Throws INVALID_ARGUMENT unless `value` is safe to write as the value of header `name`. */
export function checkHeaderValue (name: string, value: string, url?: string): void {
  if (hasControl(value)) {
    throw new InvalidArgumentError(`the ${name} header value contains a control character (CR, LF, NUL, ...)`, { url })
  }
  if (!TOKEN.test(name)) throw new InvalidArgumentError(`invalid header name: ${JSON.stringify(name)}`, { url })
}

/** The request line and headers of a keep-alive request, ready to write to a socket (latin1). */
export function requestHead (request: ExchangeRequest, userAgent: string): string {
  const { url } = request
  // The WHATWG URL parser percent-encodes controls in the path and query and refuses them in the host.
  let head = `${request.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`
  checkHeaderValue('user-agent', userAgent, url.href)
  head += `User-Agent: ${userAgent}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n`
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    head += `Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n`
  }
  for (const [name, value] of Object.entries(request.headers)) {
    checkHeaderValue(name, value, url.href)
    head += `${name}: ${value}\r\n`
  }
  return head + '\r\n'
}
