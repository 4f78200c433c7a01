import { describe, expect, it } from 'vitest'
import { Bitfield } from '@dopt/content'
import { pickFromPeer, shareOwner } from '../src/piece-picker.js'
import type { PickState } from '../src/piece-picker.js'
import { SwarmView } from '../src/swarm-view.js'

const SIZE = 16

/** A download of SIZE pieces by `self`, with a seed holding them all and member peers holding what is given. */
function setup (self: string, members: Record<string, number[]>): { view: SwarmView, state: PickState, seed: ReturnType<SwarmView['add']>, done: Bitfield } {
  const view = new SwarmView(SIZE, self)
  const full = new Bitfield(SIZE)
  for (let i = 0; i < SIZE; i++) full.set(i)
  const seed = view.add({ id: 'seed', key: 'k', have: full, member: true })
  for (const [id, pieces] of Object.entries(members)) {
    const have = new Bitfield(SIZE)
    for (const i of pieces) have.set(i)
    view.add({ id, key: 'k', have, member: true })
  }
  const done = new Bitfield(SIZE)
  const ids = view.members()
  const state: PickState = {
    view,
    done,
    cursor: 0,
    busy: () => 0,
    lagging: () => false,
    accepted: () => false,
    acceptable: () => true,
    random: () => 0.5,
    mine: i => ids[shareOwner(i, SIZE, ids.length, 0)] === self
  }
  return { view, state, seed, done }
}

describe('pickFromPeer at a peer that holds the whole file', () => {
  it('asks it for this node\'s share first, whatever the rarity', () => {
    const { state, seed } = setup('a', { b: [] })
    // A full peer is not a member: it takes no share of its own.
    expect(seed.member).toBe(false)
    for (let k = 0; k < 20; k++) {
      const i = pickFromPeer(seed, state, false)
      expect(i).not.toBeNull()
      expect(state.mine!(i!)).toBe(true)
    }
  })

  it('with shareOnly, asks for nothing else once its share is done; without, for the rest', () => {
    const { state, seed, done } = setup('a', { b: [] })
    for (let i = 0; i < SIZE; i++) if (state.mine!(i)) done.set(i)
    expect(pickFromPeer(seed, state, false, true)).toBeNull()
    const other = pickFromPeer(seed, state, false, false)
    expect(other).not.toBeNull()
    expect(state.mine!(other!)).toBe(false)
  })

  it('at a member peer, picks the rarest, shares aside', () => {
    const { view, state } = setup('a', { b: [1, 2], c: [2] })
    const b = view.get('b')!
    // Piece 1 is held by the seed and b, piece 2 by the seed, b and c: 1 is rarer.
    expect(pickFromPeer(b, state, false, true)).toBe(1)
  })
})
