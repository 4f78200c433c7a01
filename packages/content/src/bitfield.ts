/** A fixed-size set of piece indexes, stored as bits (most significant bit first, as BitTorrent's bitfield). */
export class Bitfield {
  readonly length: number
  readonly #bytes: Uint8Array
  #count: number

  constructor (length: number, bytes?: Uint8Array) {
    this.length = length
    this.#bytes = new Uint8Array(Math.ceil(length / 8))
    if (bytes != null) this.#bytes.set(bytes.subarray(0, this.#bytes.length))
    // Bits past `length` in stored bytes are ignored, so that a short or padded record cannot inflate the count.
    const spare = this.#bytes.length * 8 - length
    if (spare > 0) this.#bytes[this.#bytes.length - 1]! &= (0xff << spare) & 0xff
    this.#count = 0
    for (const b of this.#bytes) this.#count += popcount(b)
  }

  get (index: number): boolean {
    if (index < 0 || index >= this.length) return false
    return ((this.#bytes[index >> 3]! >> (7 - (index & 7))) & 1) === 1
  }

  set (index: number, value = true): void {
    if (index < 0 || index >= this.length) throw new RangeError(`bit ${index} out of range 0..${this.length - 1}`)
    if (this.get(index) === value) return
    const mask = 1 << (7 - (index & 7))
    if (value) {
      this.#bytes[index >> 3]! |= mask
      this.#count++
    } else {
      this.#bytes[index >> 3]! &= ~mask
      this.#count--
    }
  }

  /** Number of set bits. */
  get count (): number {
    return this.#count
  }

  /** True when every bit is set. */
  get full (): boolean {
    return this.#count === this.length
  }

  clear (): void {
    this.#bytes.fill(0)
    this.#count = 0
  }

  /** Indexes of unset bits from `from` on, in order; whole set bytes are skipped eight bits at a time. */
  * missing (from = 0): Generator<number> {
    for (let i = Math.max(0, from); i < this.length; i++) {
      if ((i & 7) === 0 && this.#bytes[i >> 3] === 0xff) {
        i += 7
        continue
      }
      if (!this.get(i)) yield i
    }
  }

  /** Indexes of set bits, in order; whole clear bytes are skipped eight bits at a time. */
  * setBits (): Generator<number> {
    for (let i = 0; i < this.length; i++) {
      if ((i & 7) === 0 && this.#bytes[i >> 3] === 0) {
        i += 7
        continue
      }
      if (this.get(i)) yield i
    }
  }

  /** The first unset bit at or after `from`, or `length` when there is none. */
  firstMissing (from = 0): number {
    for (const i of this.missing(from)) return i
    return this.length
  }

  toBytes (): Uint8Array {
    return this.#bytes.slice()
  }
}

function popcount (b: number): number {
  b = b - ((b >> 1) & 0x55)
  b = (b & 0x33) + ((b >> 2) & 0x33)
  return (b + (b >> 4)) & 0x0f
}
