import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { arrivalOffsets, splitmix32 } from '../src/arrivals.js'

describe('arrivalOffsets', () => {
  it('starts everyone at 0 together and in seed-first', () => {
    expect(arrivalOffsets({ kind: 'together' }, 3)).toEqual([0, 0, 0])
    expect(arrivalOffsets({ kind: 'seed-first' }, 2)).toEqual([0, 0])
  })

  it('staggers node k at k × every', () => {
    expect(arrivalOffsets({ kind: 'staggered', every: 0.5 }, 4)).toEqual([0, 0.5, 1, 1.5])
  })

  it('draws Poisson arrivals from the seed: the same seed, the same offsets; mean gap near `mean`', () => {
    const a = arrivalOffsets({ kind: 'poisson', mean: 2, seed: 7 }, 5)
    expect(arrivalOffsets({ kind: 'poisson', mean: 2, seed: 7 }, 5)).toEqual(a)
    expect(arrivalOffsets({ kind: 'poisson', mean: 2, seed: 8 }, 5)).not.toEqual(a)
    expect(a[0]).toBe(0)
    for (let k = 1; k < a.length; k++) expect(a[k]!).toBeGreaterThan(a[k - 1]!)
    // Gap 1 is -mean·ln(1 - u) for the first splitmix32 output of the seed.
    expect(a[1]).toBeCloseTo(-2 * Math.log(1 - splitmix32(7)() / 2 ** 32), 12)
    expect(arrivalOffsets({ kind: 'poisson', mean: 1 }, 3)).toEqual(arrivalOffsets({ kind: 'poisson', mean: 1, seed: 1 }, 3))
    const many = arrivalOffsets({ kind: 'poisson', mean: 2 }, 20001)
    expect(many[20000]! / 20000).toBeGreaterThan(1.9)
    expect(many[20000]! / 20000).toBeLessThan(2.1)
  })

  it('refuses bad parameters', () => {
    expect(() => arrivalOffsets({ kind: 'together' }, 0)).toThrow(InvalidArgumentError)
    expect(() => arrivalOffsets({ kind: 'staggered', every: -1 }, 2)).toThrow(InvalidArgumentError)
    expect(() => arrivalOffsets({ kind: 'poisson', mean: 0 }, 2)).toThrow(InvalidArgumentError)
  })
})
