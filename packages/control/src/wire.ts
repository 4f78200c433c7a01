import type { IncomingMessage, ServerResponse } from 'node:http'
import { DoptError, toErrorInfo } from '@dopt/interface'
import type { DoptErrorOptions, ErrorInfo } from '@dopt/interface'

/** Version prefix of every route. */
export const API = '/v1'
/** The largest request body the daemon reads. */
export const MAX_BODY = 64 * 1024

/**
 * A request the control API refuses before it reaches a job: bad JSON, an unknown field, a body too large, an
 * unknown route. Its `code` says which (`BAD_REQUEST`, `BODY_TOO_LARGE`, `NO_SUCH_ROUTE`, `METHOD_NOT_ALLOWED`,
 * `UNSUPPORTED_MEDIA_TYPE`, `UNAUTHENTICATED`); it crosses the socket like any other error.
 */
export class RequestError extends DoptError {
  static override readonly code: string = 'BAD_REQUEST'
  readonly status: number

  constructor (status: number, code: string, message: string, options: DoptErrorOptions = {}) {
    super(message, { context: 'general-queue-manager', ...options })
    ;(this as { code: string }).code = code
    this.status = status
  }
}

/** HTTP status of each error code; anything else is 500 only if it is not a DoptError (a bug), else 400. */
const STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_URL: 400,
  INVALID_PATH: 400,
  JOB_EMPTY: 409,
  INVALID_STATE: 409,
  PENDING: 409,
  JOB_NOT_FOUND: 404,
  ACCESS_DENIED: 403,
  NODE_STOPPED: 503,
  LOCAL_FILE: 500,
  UNKNOWN: 500
}

export function statusOf (err: unknown): number {
  if (err instanceof RequestError) return err.status
  if (err instanceof DoptError) return STATUS[err.code] ?? 400
  return 500
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

/** `{ error: { code, message, context, ... } }`, as every failed request answers. */
export function sendError (res: ServerResponse, err: unknown): void {
  const info: ErrorInfo = err instanceof DoptError ? toErrorInfo(err) : { code: 'UNKNOWN', context: 'unknown', message: 'the daemon failed to handle the request' }
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, statusOf(err), { error: info })
}

/** Reads a JSON object body (none: `{}`), refusing other media types, oversized bodies and anything not an object. */
export async function readBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  const length = req.headers['content-length']
  if (length !== undefined && Number(length) > MAX_BODY) throw new RequestError(413, 'BODY_TOO_LARGE', `a request body may have at most ${MAX_BODY} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new RequestError(413, 'BODY_TOO_LARGE', `a request body may have at most ${MAX_BODY} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return {}
  const type = req.headers['content-type'] ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new RequestError(415, 'UNSUPPORTED_MEDIA_TYPE', `a request body must be application/json, not "${type}"`)
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new RequestError(400, 'BAD_REQUEST', `the request body is not valid JSON: ${(err as Error).message}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new RequestError(400, 'BAD_REQUEST', 'the request body must be a JSON object')
  return value as Record<string, unknown>
}

type FieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'string[]|null' | 'string|null'

/** Checks a body's fields: each known, each of its type; `required` must be present. Names the offending field. */
export function checkFields (body: Record<string, unknown>, fields: Record<string, FieldType>, required: string[] = []): void {
  for (const [key, value] of Object.entries(body)) {
    const type = fields[key]
    if (type === undefined) throw new RequestError(400, 'BAD_REQUEST', `unknown field "${key}" (known: ${Object.keys(fields).join(', ') || 'none'})`)
    if (!hasType(value, type)) throw new RequestError(400, 'BAD_REQUEST', `field "${key}" must be ${type}, not ${JSON.stringify(value)?.slice(0, 80) ?? 'undefined'}`)
  }
  for (const key of required) {
    if (body[key] === undefined) throw new RequestError(400, 'BAD_REQUEST', `field "${key}" is required`)
  }
}

function hasType (value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string': return typeof value === 'string'
    case 'string|null': return value === null || typeof value === 'string'
    case 'number': return typeof value === 'number' && Number.isFinite(value)
    case 'boolean': return typeof value === 'boolean'
    case 'string[]': return Array.isArray(value) && value.every(v => typeof v === 'string')
    case 'string[]|null': return value === null || (Array.isArray(value) && value.every(v => typeof v === 'string'))
  }
}
