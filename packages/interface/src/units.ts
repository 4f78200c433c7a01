import { InvalidArgumentError } from './errors.js'

const KiB = 1024
const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: KiB, ki: KiB, kib: KiB, kb: 1e3,
  m: KiB ** 2, mi: KiB ** 2, mib: KiB ** 2, mb: 1e6,
  g: KiB ** 3, gi: KiB ** 3, gib: KiB ** 3, gb: 1e9,
  t: KiB ** 4, ti: KiB ** 4, tib: KiB ** 4, tb: 1e12
}

/**
 * Bytes from `64MiB`, `1GiB`, `1.5G`, `500MB`, `4096` or a JSON number. Binary units (KiB, MiB, GiB, TiB, and the
 * bare K, M, G, T) are powers of 1024; KB, MB, GB, TB powers of 1000. `what` names the field in the error.
 */
export function parseSize (value: unknown, what: string, { allowZero = false } = {}): number {
  const bytes = parseAmount(value, what, /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*$/i, 'a size such as 64MiB, 1GiB or a byte count')
  if (!Number.isSafeInteger(bytes) || bytes < (allowZero ? 0 : 1)) {
    throw new InvalidArgumentError(`${what} must be a whole number of bytes ${allowZero ? '>= 0' : '>= 1'}, not ${JSON.stringify(value)}`)
  }
  return bytes
}

/** Bytes per second from `20MiB`, `20MiB/s`, `2.5e6` or a JSON number; 0 means no limit. */
export function parseRate (value: unknown, what: string): number {
  const rate = parseAmount(value, what, /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([a-z]*)\s*(?:\/\s*s)?\s*$/i, 'a rate such as 20MiB/s, 20MiB, a number of bytes/s, or 0 for none')
  if (!Number.isFinite(rate) || rate < 0) throw new InvalidArgumentError(`${what} must be a rate >= 0 bytes/s, not ${JSON.stringify(value)}`)
  return rate
}

function parseAmount (value: unknown, what: string, pattern: RegExp, want: string): number {
  if (typeof value === 'number') return value
  if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be ${want}, not ${JSON.stringify(value)}`)
  const match = pattern.exec(value)
  const unit = match === null ? undefined : UNITS[(match[2] ?? '').toLowerCase()]
  if (match === null || unit === undefined) throw new InvalidArgumentError(`${what} must be ${want}, not ${JSON.stringify(value)}`)
  // A unit's fraction of a byte rounds (1.1MiB); a bare byte count must already be whole.
  return unit === 1 ? Number(match[1]) : Math.round(Number(match[1]) * unit)
}

/**
 * `64 MiB`, `1.5 GiB`, `512 B`: binary units, one decimal when not whole. `fixed`: always one decimal above bytes
 * (`4.0 MiB`), for figures that change in place such as a progress bar, which then keeps its width.
 */
export function formatBytes (n: number, { fixed = false } = {}): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  const text = i === 0 ? String(Math.round(v)) : (fixed || !Number.isInteger(v) ? v.toFixed(1) : String(v))
  return `${text} ${units[i]}`
}
