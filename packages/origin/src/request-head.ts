import type { ExchangeRequest } from './transport.js'

/** The request line and headers of a request, ready to write to a socket (latin1). */
export function requestHead (request: ExchangeRequest, userAgent: string, close: boolean): string {
  const { url } = request
  let head = `${request.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    `User-Agent: ${userAgent}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n`
  if (close) head += 'Connection: close\r\n'
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    head += `Authorization: Basic ${Buffer.from(credentials).toString('base64')}\r\n`
  }
  for (const [name, value] of Object.entries(request.headers)) head += `${name}: ${value}\r\n`
  return head + '\r\n'
}
