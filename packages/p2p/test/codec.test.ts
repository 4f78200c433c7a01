import { describe, expect, it } from 'vitest'
import {
  EntryKind, FrameDecoder, MessageType, decodeEntries, decodePieceRequest, decodeState, encodeDataHeader, encodeEntries, encodeFrame, encodeHeader,
  encodePieceRequest, encodeState, isRequest, receivable
} from '../src/codec.js'
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

  it('receives a payload into the buffer its target names, however the frame is split', () => {
    const payload = new Uint8Array(70_000).map((_, i) => i % 251)
    const frame = encodeFrame(MessageType.PIECE, 5, payload)
    for (const step of [1, 9, 10, 4096, frame.byteLength]) {
      const into = new Uint8Array(80_000)
      const asked: Array<[number, number, number]> = []
      const got: Frame[] = []
      const decoder = new FrameDecoder(f => { got.push(f) }, t => !isRequest(t), (type, id, length) => {
        asked.push([type, id, length])
        return into
      })
      for (let i = 0; i < frame.byteLength; i += step) decoder.push(frame.subarray(i, i + step))
      expect(asked).toEqual([[MessageType.PIECE, 5, 70_000]])
      expect(got).toHaveLength(1)
      expect(got[0]!.payload.buffer).toBe(into.buffer) // a view of the target, not a copy
      expect(got[0]!.payload.byteLength).toBe(70_000)
      expect(Buffer.from(got[0]!.payload).equals(Buffer.from(payload))).toBe(true)
    }
  })

  it('buffers a payload itself when the target gives no buffer or one too small', () => {
    const frame = encodeFrame(MessageType.PIECE, 1, new Uint8Array(1000).fill(3))
    for (const target of [() => undefined, () => new Uint8Array(999)]) {
      const got: Frame[] = []
      const decoder = new FrameDecoder(f => { got.push(f) }, t => !isRequest(t), target)
      decoder.push(frame.subarray(0, 500))
      decoder.push(frame.subarray(500))
      expect(got[0]!.payload.byteLength).toBe(1000)
      expect(got[0]!.payload.every(b => b === 3)).toBe(true)
    }
  })

  it('stops writing into a target buffer once detached mid-payload, and goes on decoding', () => {
    const first = encodeFrame(MessageType.PIECE, 1, new Uint8Array(1000).fill(7))
    const second = encodeFrame(MessageType.PIECE, 2, new Uint8Array(10).fill(8))
    const into = new Uint8Array(1000)
    const got: Frame[] = []
    const decoder = new FrameDecoder(f => { got.push(f) }, t => !isRequest(t), (_t, id) => id === 1 ? into : undefined)
    decoder.push(first.subarray(0, 409)) // header + 400 payload bytes
    decoder.detach(2) // another frame: no effect
    decoder.push(first.subarray(409, 509))
    decoder.detach(1)
    decoder.push(first.subarray(509))
    decoder.push(second)
    expect(into.subarray(0, 500).every(b => b === 7)).toBe(true)
    expect(into.subarray(500).every(b => b === 0)).toBe(true) // nothing after the detach
    expect(got.map(f => f.id)).toEqual([1, 2])
    expect(got[0]!.payload.buffer).not.toBe(into.buffer)
    expect(got[1]!.payload.every(b => b === 8)).toBe(true)
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

describe('protocol 1.1.0 frames', () => {
  it('puts each DATA part where its offset says, however the frames are split', () => {
    const piece = new Uint8Array(600).map((_, i) => i % 253)
    const parts = [encodeDataHeader(3, 600, 0, 250), piece.subarray(0, 250), encodeDataHeader(3, 600, 250, 350), piece.subarray(250)]
    const all = Buffer.concat(parts)
    for (const step of [1, 9, 16, 17, 100, all.byteLength]) {
      const into = new Uint8Array(600)
      const asked: Array<[number, number, number]> = []
      const got: Frame[] = []
      const decoder = new FrameDecoder(f => { got.push(f) }, receivable('client', '1.1.0'), (type, _id, length, total, offset) => {
        expect(type).toBe(MessageType.DATA)
        asked.push([length, total!, offset!])
        return into.subarray(offset!, offset! + length)
      })
      for (let i = 0; i < all.byteLength; i += step) decoder.push(all.subarray(i, i + step))
      expect(asked).toEqual([[250, 600, 0], [350, 600, 250]])
      expect(got.map(f => [f.id, f.total, f.offset, f.payload.byteLength])).toEqual([[3, 600, 0, 250], [3, 600, 250, 350]])
      expect(Buffer.from(into).equals(Buffer.from(piece))).toBe(true)
    }
  })

  it('rejects a DATA part outside its piece, and 1.1.0 types on a 1.0.0 stream', () => {
    const over = new FrameDecoder(() => {}, receivable('client', '1.1.0'))
    expect(() => { over.push(encodeDataHeader(1, 100, 90, 20)) }).toThrow(/does not fit/)
    const huge = new FrameDecoder(() => {}, receivable('client', '1.1.0'))
    expect(() => { huge.push(encodeDataHeader(1, 17 * 1024 * 1024, 0, 10)) }).toThrow(/does not fit/)
    const old = new FrameDecoder(() => {}, receivable('client', '1.0.0'))
    expect(() => { old.push(encodeDataHeader(1, 10, 0, 10)) }).toThrow(/unexpected message type/)
    const oldServer = new FrameDecoder(() => {}, receivable('server', '1.0.0'))
    expect(() => { oldServer.push(encodeFrame(MessageType.SUBSCRIBE, 1, new Uint8Array([0x62]))) }).toThrow(/unexpected message type/)
    const newServer = new FrameDecoder(() => {}, receivable('server', '1.1.0'))
    expect(() => { newServer.push(encodeFrame(MessageType.SUBSCRIBE, 1, new Uint8Array([0x62]))) }).not.toThrow()
  })

  it('round-trips STATE and UPDATE entries, split into UPDATEs under the size limit', () => {
    const state = { pieceSize: 1 << 20, pieceCount: 11, flags: 1, have: new Uint8Array([0xff, 0xe0]) }
    expect(decodeState(encodeState(state))).toEqual(state)
    const hash = new Uint8Array(32).fill(7)
    const entries = [
      { kind: EntryKind.HAVE, index: 0 }, { kind: EntryKind.VOUCH, index: 1, hash }, { kind: EntryKind.INTENT, index: 0xffffffff },
      { kind: EntryKind.UNINTENT, index: 3 }, { kind: EntryKind.LOST, index: 4 }
    ]
    const [payload, ...rest] = encodeEntries(entries)
    expect(rest).toHaveLength(0)
    expect(decodeEntries(payload!)).toEqual(entries)
    const many = Array.from({ length: 40_000 }, (_, index) => ({ kind: EntryKind.VOUCH, index, hash }))
    const payloads = encodeEntries(many)
    expect(payloads.length).toBeGreaterThan(1)
    expect(payloads.every(p => p.byteLength <= 1024 * 1024)).toBe(true)
    expect(payloads.flatMap(p => decodeEntries(p))).toHaveLength(40_000)
  })

  it('refuses malformed STATE and entries', () => {
    expect(() => decodeState(new Uint8Array(5))).toThrow(/short STATE/)
    expect(() => decodeState(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 9, 0, 0xff]))).toThrow(/does not match/)
    expect(() => decodeEntries(new Uint8Array([9, 0, 0, 0, 0]))).toThrow(/unknown UPDATE entry kind/)
    expect(() => decodeEntries(new Uint8Array([2, 0, 0, 0, 0, 1, 2]))).toThrow(/inside a hash/)
    expect(() => decodeEntries(new Uint8Array([1, 0, 0]))).toThrow(/inside an entry/)
  })
})
