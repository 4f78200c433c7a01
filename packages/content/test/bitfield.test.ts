import { describe, it, expect } from 'vitest'
import { Bitfield } from '../src/index.js'

describe('Bitfield', () => {
  it('starts empty', () => {
    const b = new Bitfield(10)
    expect(b.length).toBe(10)
    expect(b.count).toBe(0)
    expect(b.full).toBe(false)
    for (let i = 0; i < 10; i++) expect(b.get(i)).toBe(false)
    expect([...b.missing()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(b.toBytes()).toEqual(new Uint8Array(2))
  })

  it('sets and gets bits, most significant bit first', () => {
    const b = new Bitfield(12)
    b.set(0)
    b.set(7)
    b.set(8)
    b.set(11)
    expect(b.get(0)).toBe(true)
    expect(b.get(1)).toBe(false)
    expect(b.get(7)).toBe(true)
    expect(b.get(8)).toBe(true)
    expect(b.get(11)).toBe(true)
    expect(b.count).toBe(4)
    expect([...b.toBytes()]).toEqual([0b10000001, 0b10010000])
  })

  it('counts only changes: setting a set bit or clearing a clear bit is a no-op', () => {
    const b = new Bitfield(9)
    b.set(3)
    b.set(3)
    expect(b.count).toBe(1)
    b.set(3, false)
    expect(b.get(3)).toBe(false)
    expect(b.count).toBe(0)
    b.set(3, false)
    expect(b.count).toBe(0)
  })

  it('is full when every bit is set, and lists missing bits in order', () => {
    const b = new Bitfield(10)
    for (const i of [9, 0, 4]) b.set(i)
    expect([...b.missing()]).toEqual([1, 2, 3, 5, 6, 7, 8])
    for (let i = 0; i < 10; i++) b.set(i)
    expect(b.full).toBe(true)
    expect(b.count).toBe(10)
    expect([...b.missing()]).toEqual([])
    b.set(5, false)
    expect(b.full).toBe(false)
    expect([...b.missing()]).toEqual([5])
  })

  it('clear unsets everything', () => {
    const b = new Bitfield(16)
    for (let i = 0; i < 16; i++) b.set(i)
    b.clear()
    expect(b.count).toBe(0)
    expect(b.full).toBe(false)
    expect(b.toBytes()).toEqual(new Uint8Array(2))
  })

  it('a zero-length bitfield is full and has no bytes', () => {
    const b = new Bitfield(0)
    expect(b.count).toBe(0)
    expect(b.full).toBe(true)
    expect([...b.missing()]).toEqual([])
    expect(b.toBytes().byteLength).toBe(0)
    expect(b.get(0)).toBe(false)
    expect(() => b.set(0)).toThrow(RangeError)
  })

  it('loads from bytes and round-trips through toBytes', () => {
    const b = new Bitfield(16, new Uint8Array([0b10100000, 0b00000011]))
    expect(b.count).toBe(4)
    expect([0, 2, 14, 15].every(i => b.get(i))).toBe(true)
    expect(b.get(1)).toBe(false)
    const copy = new Bitfield(16, b.toBytes())
    expect(copy.toBytes()).toEqual(b.toBytes())
    expect(copy.count).toBe(4)
  })

  it('ignores padding bits past length in given bytes', () => {
    const b = new Bitfield(10, new Uint8Array([0xff, 0xff]))
    expect(b.count).toBe(10)
    expect(b.full).toBe(true)
    expect(b.get(10)).toBe(false)
    expect(b.get(15)).toBe(false)
    expect([...b.toBytes()]).toEqual([0xff, 0b11000000])
    // Only padding bits set: nothing counts.
    const p = new Bitfield(3, new Uint8Array([0b00011111]))
    expect(p.count).toBe(0)
    expect([...p.missing()]).toEqual([0, 1, 2])
  })

  it('ignores extra bytes past the length and zero-fills short input', () => {
    const long = new Bitfield(8, new Uint8Array([0x0f, 0xff, 0xff]))
    expect(long.count).toBe(4)
    expect(long.toBytes()).toEqual(new Uint8Array([0x0f]))
    const short = new Bitfield(20, new Uint8Array([0xff]))
    expect(short.count).toBe(8)
    expect(short.toBytes()).toEqual(new Uint8Array([0xff, 0, 0]))
    expect([...short.missing()]).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
  })

  it('does not alias the given bytes or the returned bytes', () => {
    const input = new Uint8Array([0])
    const b = new Bitfield(8, input)
    b.set(0)
    expect(input[0]).toBe(0)
    const out = b.toBytes()
    out[0] = 0xff
    expect(b.count).toBe(1)
    expect(b.get(1)).toBe(false)
  })

  it('get is false out of range; set throws RangeError out of range', () => {
    const b = new Bitfield(8, new Uint8Array([0xff]))
    expect(b.get(-1)).toBe(false)
    expect(b.get(8)).toBe(false)
    expect(b.get(1000)).toBe(false)
    expect(() => b.set(8)).toThrow(RangeError)
    expect(() => b.set(-1)).toThrow(RangeError)
    expect(() => b.set(8, false)).toThrow(RangeError)
    expect(b.count).toBe(8)
  })

  it('counts every byte value correctly', () => {
    for (let v = 0; v < 256; v++) {
      let expected = 0
      for (let x = v; x !== 0; x >>= 1) expected += x & 1
      expect(new Bitfield(8, new Uint8Array([v])).count).toBe(expected)
    }
  })

  it('lists missing bits from a start, skipping whole set bytes, and finds the first missing one', () => {
    const b = new Bitfield(70)
    for (let i = 0; i < 70; i++) if (![3, 17, 40, 64, 69].includes(i)) b.set(i)
    expect([...b.missing()]).toEqual([3, 17, 40, 64, 69])
    expect([...b.missing(4)]).toEqual([17, 40, 64, 69])
    expect([...b.missing(17)]).toEqual([17, 40, 64, 69])
    expect([...b.missing(41)]).toEqual([64, 69])
    expect([...b.missing(-5)]).toEqual([3, 17, 40, 64, 69])
    expect([...b.missing(70)]).toEqual([])
    expect(b.firstMissing()).toBe(3)
    expect(b.firstMissing(18)).toBe(40)
    b.set(69)
    expect(b.firstMissing(65)).toBe(70)
    // Against a bit-by-bit walk, on a random pattern.
    const r = new Bitfield(1000)
    let seed = 7
    for (let i = 0; i < 1000; i++) { seed = (seed * 1103515245 + 12345) % 2 ** 31; if (seed % 10 !== 0) r.set(i) }
    const slow = Array.from({ length: 1000 }, (_, i) => i).filter(i => !r.get(i))
    for (const from of [0, 1, 7, 8, 9, 500, 999]) expect([...r.missing(from)]).toEqual(slow.filter(i => i >= from))
  })
})

describe('setBits', () => {
  it('yields the set bits in order, as a bit-by-bit walk does', () => {
    for (const length of [0, 1, 7, 8, 9, 64, 1000]) {
      const bits = new Bitfield(length)
      for (let i = 0; i < length; i++) if ((i * 2654435761) % 7 < 2) bits.set(i)
      const walk: number[] = []
      for (let i = 0; i < length; i++) if (bits.get(i)) walk.push(i)
      expect([...bits.setBits()]).toEqual(walk)
    }
  })
})
