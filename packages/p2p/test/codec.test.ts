import { describe, expect, it } from 'vitest'
import { FrameDecoder, MessageType, encodeFrame, encodeHeader, encodePieceRequest, decodePieceRequest, isRequest } from '../src/codec.js'
import type { Frame } from '../src/codec.js'

describe('frame codec', () => {
  it('decodes frames split at every byte and frames packed together', () => {
    const frames = [
      encodeFrame(MessageType.PIECE, 7, new Uint8Array([1, 2, 3])),
      encodeFrame(MessageType.HAVE, 8),
      encodeFrame(MessageType.MANIFEST, 0xffffffff, new Uint8Array(1000).fill(9))
    ]
    const all = new Uint8Array(frames.reduce((n, f) => n + f.byteLength, 0))
    let at = 0
    for (const f of frames) { all.set(f, at); at += f.byteLength }
    for (const step of [1, 5, 9, 13, all.byteLength]) {
      const got: Frame[] = []
      const decoder = new FrameDecoder(f => { got.push({ ...f, payload: f.payload.slice() }) }, t => !isRequest(t))
      for (let i = 0; i < all.byteLength; i += step) decoder.push(all.subarray(i, i + step))
      expect(got.map(f => [f.type, f.id, f.payload.byteLength])).toEqual([
        [MessageType.PIECE, 7, 3], [MessageType.HAVE, 8, 0], [MessageType.MANIFEST, 0xffffffff, 1000]
      ])
      expect(got[2]!.payload.every(b => b === 9)).toBe(true)
    }
  })

  it('rejects an oversized frame from its header alone', () => {
    const decoder = new FrameDecoder(() => {}, t => !isRequest(t))
    expect(() => { decoder.push(encodeHeader(MessageType.PIECE, 1, 16 * 1024 * 1024 + 1)) }).toThrow(/over its limit/)
  })

  it('rejects message types the side does not accept', () => {
    const server = new FrameDecoder(() => {}, isRequest)
    expect(() => { server.push(encodeFrame(MessageType.PIECE, 1)) }).toThrow(/unexpected message type/)
    const client = new FrameDecoder(() => {}, t => !isRequest(t))
    expect(() => { client.push(encodeFrame(0x42 as MessageType, 1)) }).toThrow(/unexpected message type/)
  })

  it('round-trips a piece request', () => {
    expect(decodePieceRequest(encodePieceRequest('bafkqaaa', 123456))).toEqual({ manifestCid: 'bafkqaaa', index: 123456 })
  })
})
