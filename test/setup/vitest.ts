import { afterEach, expect } from 'vitest'
import { attempts } from './loopback-only.mjs'

const EXPECTED = Symbol.for('dopt.offMachineExpected')
const store = globalThis as Record<symbol, number | undefined>

/** For the tests of the guard itself: the next `n` attempts to reach off the machine are theirs, and expected. */
export function expectOffMachineAttempts (n: number): void {
  store[EXPECTED] = (store[EXPECTED] ?? 0) + n
}

let seen = attempts().length
// A test that tried to send anything off the machine fails, even if the attempt was swallowed in a library.
afterEach(() => {
  const fresh = attempts().slice(seen)
  seen = attempts().length
  const allowed = store[EXPECTED] ?? 0
  store[EXPECTED] = 0
  expect(fresh.length > allowed ? fresh : [], 'attempts to reach beyond 127.0.0.0/8').toEqual([])
})
