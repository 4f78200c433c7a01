import { describe, it, expect } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { SHA256_LENGTH, sha256, sha256Async, toHex, parseSha256Hex, equalBytes } from '../src/index.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const nodeHex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

const VECTORS: Array<[string, string]> = [
  ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1']
]

describe('sha256', () => {
  it('is 32 bytes', () => {
    expect(SHA256_LENGTH).toBe(32)
    expect(sha256(enc('abc')).byteLength).toBe(32)
  })

  it.each(VECTORS)('matches the known vector for %j', (input, hex) => {
    expect(toHex(sha256(enc(input)))).toBe(hex)
    expect(nodeHex(enc(input))).toBe(hex)
  })

  it.each(VECTORS)('sha256Async matches the known vector for %j', async (input, hex) => {
    const digest = await sha256Async(enc(input))
    expect(digest).toBeInstanceOf(Uint8Array)
    expect(toHex(digest)).toBe(hex)
  })

  it('sync and async agree with node:crypto on random data, including 1 MiB', async () => {
    for (const n of [1, 63, 64, 65, 1000, 1 << 20]) {
      const data = new Uint8Array(randomBytes(n))
      const expected = nodeHex(data)
      expect(toHex(sha256(data))).toBe(expected)
      expect(toHex(await sha256Async(data))).toBe(expected)
    }
  })

  it('hashes only the viewed bytes of a subarray', async () => {
    const whole = enc('xxabcyy')
    const view = whole.subarray(2, 5)
    const expected = VECTORS[1]![1]
    expect(toHex(sha256(view))).toBe(expected)
    expect(toHex(await sha256Async(view))).toBe(expected)
  })
})

describe('toHex', () => {
  it('encodes lowercase hex of only the viewed bytes', () => {
    expect(toHex(new Uint8Array([0, 1, 0xab, 0xff]))).toBe('0001abff')
    expect(toHex(new Uint8Array([9, 0xde, 0xad, 9]).subarray(1, 3))).toBe('dead')
    expect(toHex(new Uint8Array(0))).toBe('')
  })
})

describe('parseSha256Hex', () => {
  const hex = VECTORS[1]![1]

  it('accepts 64 hex digits, either case', () => {
    const lower = parseSha256Hex(hex)
    expect(lower).toBeInstanceOf(Uint8Array)
    expect(lower!.byteLength).toBe(32)
    expect(equalBytes(lower!, sha256(enc('abc')))).toBe(true)
    const upper = parseSha256Hex(hex.toUpperCase())
    expect(upper).not.toBeNull()
    expect(equalBytes(upper!, lower!)).toBe(true)
  })

  it('rejects anything else', () => {
    expect(parseSha256Hex('')).toBeNull()
    expect(parseSha256Hex(hex.slice(0, 63))).toBeNull()
    expect(parseSha256Hex(hex + '0')).toBeNull()
    expect(parseSha256Hex(hex + '00')).toBeNull()
    expect(parseSha256Hex('g' + hex.slice(1))).toBeNull()
    expect(parseSha256Hex(' ' + hex)).toBeNull()
    expect(parseSha256Hex(hex + '\n')).toBeNull()
    expect(parseSha256Hex('0x' + hex.slice(2))).toBeNull()
    expect(parseSha256Hex(hex.slice(0, 32) + '-' + hex.slice(33))).toBeNull()
    expect(parseSha256Hex(Buffer.from(sha256(enc('abc'))).toString('base64'))).toBeNull()
  })
})

describe('equalBytes', () => {
  it('compares contents and lengths', () => {
    expect(equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true)
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true)
    expect(equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false)
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false)
    expect(equalBytes(new Uint8Array([0, 1, 2, 0]).subarray(1, 3), new Uint8Array([1, 2]))).toBe(true)
  })
})
