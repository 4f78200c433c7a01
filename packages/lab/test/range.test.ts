import { describe, expect, it } from 'vitest'
import { ifRangeMatches, parseRange } from '../src/range.js'

describe('parseRange', () => {
  it('reads single byte ranges, clamping the end to the size', () => {
    expect(parseRange('bytes=0-0', 10)).toEqual({ start: 0, end: 0 })
    expect(parseRange('bytes=3-', 10)).toEqual({ start: 3, end: 9 })
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 })
    expect(parseRange('bytes=-40', 10)).toEqual({ start: 0, end: 9 })
    expect(parseRange('Bytes = 2 - 50', 10)).toEqual({ start: 2, end: 9 })
  })

  it('finds unsatisfiable ranges', () => {
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable')
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable')
    expect(parseRange('bytes=-1', 0)).toBe('unsatisfiable')
  })

  it('ignores what it does not honour', () => {
    for (const header of ['bytes=0-1,3-4', 'bytes=5-2', 'bytes=-', 'items=0-1', 'bytes=a-b', '']) {
      expect(parseRange(header, 10), header).toBeNull()
    }
  })
})

describe('ifRangeMatches', () => {
  const date = 'Mon, 01 Jan 2024 00:00:00 GMT'

  it('matches entity tags strongly', () => {
    expect(ifRangeMatches('"a"', '"a"', date)).toBe(true)
    expect(ifRangeMatches('"b"', '"a"', date)).toBe(false)
    expect(ifRangeMatches('W/"a"', 'W/"a"', date)).toBe(false)
    expect(ifRangeMatches('"a"', 'W/"a"', date)).toBe(false)
    expect(ifRangeMatches('"a"', null, date)).toBe(false)
  })

  it('matches dates exactly', () => {
    expect(ifRangeMatches('Mon, 01 Jan 2024 00:00:00 GMT', '"a"', date)).toBe(true)
    expect(ifRangeMatches('Mon, 01 Jan 2024 00:00:01 GMT', '"a"', date)).toBe(false)
    expect(ifRangeMatches(date, '"a"', null)).toBe(false)
    expect(ifRangeMatches('not a date', '"a"', date)).toBe(false)
  })
})
