import { describe, it, expect } from 'vitest'
import { DEFAULT_PIECE_SIZE, MIN_PIECE_SIZE, MAX_PIECE_SIZE, pieceCount, pieceRange } from '../src/index.js'

describe('piece sizes', () => {
  it('are 1 MiB by default, within 16 KiB..16 MiB', () => {
    expect(DEFAULT_PIECE_SIZE).toBe(1024 * 1024)
    expect(MIN_PIECE_SIZE).toBe(16 * 1024)
    expect(MAX_PIECE_SIZE).toBe(16 * 1024 * 1024)
    expect(DEFAULT_PIECE_SIZE).toBeGreaterThanOrEqual(MIN_PIECE_SIZE)
    expect(DEFAULT_PIECE_SIZE).toBeLessThanOrEqual(MAX_PIECE_SIZE)
  })
})

describe('pieceCount', () => {
  it('is zero for an empty file', () => {
    expect(pieceCount(0, DEFAULT_PIECE_SIZE)).toBe(0)
  })

  it('rounds up a partial last piece', () => {
    expect(pieceCount(1, DEFAULT_PIECE_SIZE)).toBe(1)
    expect(pieceCount(DEFAULT_PIECE_SIZE - 1, DEFAULT_PIECE_SIZE)).toBe(1)
    expect(pieceCount(DEFAULT_PIECE_SIZE + 1, DEFAULT_PIECE_SIZE)).toBe(2)
    expect(pieceCount(10 * MIN_PIECE_SIZE + 7, MIN_PIECE_SIZE)).toBe(11)
  })

  it('is exact for whole multiples', () => {
    expect(pieceCount(DEFAULT_PIECE_SIZE, DEFAULT_PIECE_SIZE)).toBe(1)
    expect(pieceCount(3 * DEFAULT_PIECE_SIZE, DEFAULT_PIECE_SIZE)).toBe(3)
  })

  it('handles sizes past 4 GiB', () => {
    const size = 5 * 2 ** 30 + 1
    expect(pieceCount(size, DEFAULT_PIECE_SIZE)).toBe(5 * 1024 + 1)
  })
})

describe('pieceRange', () => {
  it('gives full pieces before the last', () => {
    const size = 2 * DEFAULT_PIECE_SIZE + 100
    expect(pieceRange(0, size, DEFAULT_PIECE_SIZE)).toEqual({ start: 0, end: DEFAULT_PIECE_SIZE })
    expect(pieceRange(1, size, DEFAULT_PIECE_SIZE)).toEqual({ start: DEFAULT_PIECE_SIZE, end: 2 * DEFAULT_PIECE_SIZE })
  })

  it('clips the last piece to the file size', () => {
    const size = 2 * DEFAULT_PIECE_SIZE + 100
    expect(pieceRange(2, size, DEFAULT_PIECE_SIZE)).toEqual({ start: 2 * DEFAULT_PIECE_SIZE, end: size })
  })

  it('gives a full last piece when the size is a multiple', () => {
    expect(pieceRange(1, 2 * MIN_PIECE_SIZE, MIN_PIECE_SIZE)).toEqual({ start: MIN_PIECE_SIZE, end: 2 * MIN_PIECE_SIZE })
  })

  it('covers the file exactly, without gaps or overlaps', () => {
    const size = 7 * MIN_PIECE_SIZE + 12345
    const n = pieceCount(size, MIN_PIECE_SIZE)
    let expected = 0
    for (let i = 0; i < n; i++) {
      const { start, end } = pieceRange(i, size, MIN_PIECE_SIZE)
      expect(start).toBe(expected)
      expect(end).toBeGreaterThan(start)
      expect(end - start).toBeLessThanOrEqual(MIN_PIECE_SIZE)
      expected = end
    }
    expect(expected).toBe(size)
  })

  it('is exact past 4 GiB', () => {
    const size = 5 * 2 ** 30 + 1
    const last = pieceCount(size, DEFAULT_PIECE_SIZE) - 1
    expect(pieceRange(last, size, DEFAULT_PIECE_SIZE)).toEqual({ start: 5 * 2 ** 30, end: size })
  })
})
