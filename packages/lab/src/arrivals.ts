import { InvalidArgumentError } from '@dopt/interface'
import type { Arrival } from './fleet-types.js'

/**
 * Seconds after the release at which each of `nodes` nodes starts, for an arrival pattern:
 * - `together` and `seed-first`: all 0 (in `seed-first`, node 0 already holds the file at 0 and seeds);
 * - `staggered`: node k at k × every;
 * - `poisson`: node 0 at 0, then exponential gaps of mean `mean`: gap_k = -mean × ln(1 - u_k), where u_1, u_2, …
 *   are successive outputs of splitmix32 seeded with `seed` (default 1), each divided by 2^32. The same seed gives
 *   the same offsets in every system that uses this function.
 */
export function arrivalOffsets (arrival: Arrival, nodes: number): number[] {
  if (!Number.isSafeInteger(nodes) || nodes < 1) throw new InvalidArgumentError(`Not a node count: ${nodes}`)
  switch (arrival.kind) {
    case 'together':
    case 'seed-first':
      return new Array<number>(nodes).fill(0)
    case 'staggered':
      if (!(arrival.every >= 0)) throw new InvalidArgumentError(`A stagger must be >= 0: ${arrival.every}`)
      return Array.from({ length: nodes }, (_, k) => k * arrival.every)
    case 'poisson': {
      if (!(arrival.mean > 0)) throw new InvalidArgumentError(`A Poisson mean must be > 0: ${arrival.mean}`)
      const next = splitmix32(arrival.seed ?? 1)
      const out = [0]
      for (let k = 1; k < nodes; k++) out.push(out[k - 1]! - arrival.mean * Math.log(1 - next() / 2 ** 32))
      return out
    }
  }
}

/** splitmix32 (the 32-bit variant of Steele, Lea & Flood's SplitMix): one 32-bit unsigned word per call. */
export function splitmix32 (seed: number): () => number {
  let z = seed >>> 0
  return () => {
    z = (z + 0x9e3779b9) >>> 0
    let t = z ^ (z >>> 16)
    t = Math.imul(t, 0x21f0aaad)
    t ^= t >>> 15
    t = Math.imul(t, 0x735a2d97)
    return (t ^ (t >>> 15)) >>> 0
  }
}
