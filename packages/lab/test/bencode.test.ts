import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { bdecode, bencode, bencodedSpan } from '../src/bencode.js'

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1')

describe('bencode', () => {
  it('encodes integers, strings, bytes and lists as BEP 3 writes them', () => {
    expect(text(bencode(0))).toBe('i0e')
    expect(text(bencode(-42))).toBe('i-42e')
    expect(text(bencode(2n ** 70n))).toBe(`i${2n ** 70n}e`)
    expect(text(bencode('spam'))).toBe('4:spam')
    expect(text(bencode(''))).toBe('0:')
    expect(text(bencode('é'))).toBe('2:\xc3\xa9') // UTF-8 bytes, counted as bytes
    expect(text(bencode(Uint8Array.of(0, 255, 10)))).toBe('3:\x00\xff\n')
    expect(text(bencode(['spam', 42, []]))).toBe('l4:spami42elee')
  })

  it('writes dictionary keys sorted as raw bytes, not in insertion order', () => {
    expect(text(bencode({ zeta: 1, alpha: 'x', 'piece length': 16384 }))).toBe('d5:alpha1:x12:piece lengthi16384e4:zetai1ee')
    // As bytes, 'Z' (0x5a) < 'a' (0x61) < 0xc3 (the first byte of 'é'); a shorter prefix sorts first.
    const map = new Map<string | Uint8Array, number>([['é', 1], ['a', 2], ['Z', 3], ['ab', 4], [Uint8Array.of(0x01), 5]])
    expect(text(bencode(map))).toBe('d1:\x01i5e1:Zi3e1:ai2e2:abi4e2:\xc3\xa9i1ee')
  })

  it('refuses what has no bencoding', () => {
    expect(() => bencode(1.5)).toThrow(InvalidArgumentError)
    expect(() => bencode(Number.MAX_SAFE_INTEGER + 1)).toThrow(InvalidArgumentError)
    expect(() => bencode(new Map<string | Uint8Array, number>([['a', 1], [Uint8Array.of(0x61), 2]]))).toThrow(/duplicate/)
  })

  it('decodes what it encodes', () => {
    const value = { announce: 'http://127.0.0.1:1/announce', info: { length: 5, pieces: Uint8Array.of(1, 2, 3) }, list: [1, -2, 'x'] }
    const decoded = bdecode(bencode(value)) as Map<string, unknown>
    expect(text(decoded.get('announce') as Uint8Array)).toBe(value.announce)
    const info = decoded.get('info') as Map<string, unknown>
    expect(info.get('length')).toBe(5)
    expect(info.get('pieces')).toEqual(Uint8Array.of(1, 2, 3))
    const list = decoded.get('list') as unknown[]
    expect(list.slice(0, 2)).toEqual([1, -2])
    expect(text(list[2] as Uint8Array)).toBe('x')
    expect(bdecode(bencode(2n ** 70n))).toBe(2n ** 70n)
  })

  it('refuses malformed input', () => {
    const bad = ['i01e', 'i-0e', 'ie', 'i1', '5:abc', '01:a', 'l', 'd1:ae', 'di1ei2ee', 'i1ei2e', 'x', '']
    for (const input of bad) expect(() => bdecode(Buffer.from(input, 'latin1')), input).toThrow(InvalidArgumentError)
    expect(() => bdecode(Buffer.from('l'.repeat(100) + 'e'.repeat(100)))).toThrow(/deep/)
  })

  it('finds the exact bytes of a top-level value', () => {
    const data = bencode({ a: 1, info: { x: 'yz' }, z: [] })
    const span = bencodedSpan(data, 'info')
    expect(span).not.toBeNull()
    expect(text(data.subarray(span!.start, span!.end))).toBe('d1:x2:yze')
    expect(bencodedSpan(data, 'missing')).toBeNull()
    expect(bencodedSpan(bencode([1]), 'info')).toBeNull()
  })
})
