/**
 * Recently received pieces, kept in memory to serve to peers: in a swarm a piece is wanted by many peers within a
 * second or so of its arrival, and reading it back from the disk for each of them (dopt writes past the page cache)
 * would cost a disk read per peer. Bounded by bytes; least recently used first out. One per node.
 */
export class PieceMemory {
  readonly #budget: number
  readonly #pieces = new Map<string, Uint8Array>()
  #bytes = 0

  constructor (budget: number) {
    this.#budget = budget
  }

  get bytes (): number {
    return this.#bytes
  }

  get (key: string, index: number): Uint8Array | undefined {
    const id = `${key}#${index}`
    const bytes = this.#pieces.get(id)
    if (bytes === undefined) return undefined
    // Most recently used last.
    this.#pieces.delete(id)
    this.#pieces.set(id, bytes)
    return bytes
  }

  has (key: string, index: number): boolean {
    return this.#pieces.has(`${key}#${index}`)
  }

  /** Keeps `bytes` (not copied: the caller gives up the buffer) as piece `index` of `key`. */
  put (key: string, index: number, bytes: Uint8Array): void {
    if (bytes.byteLength > this.#budget) return
    this.delete(key, index)
    this.#pieces.set(`${key}#${index}`, bytes)
    this.#bytes += bytes.byteLength
    for (const [id, old] of this.#pieces) {
      if (this.#bytes <= this.#budget) break
      this.#pieces.delete(id)
      this.#bytes -= old.byteLength
    }
  }

  delete (key: string, index: number): void {
    const id = `${key}#${index}`
    const old = this.#pieces.get(id)
    if (old === undefined) return
    this.#pieces.delete(id)
    this.#bytes -= old.byteLength
  }

  /** Forgets every piece of `key`. */
  drop (key: string): void {
    const prefix = `${key}#`
    for (const [id, old] of this.#pieces) {
      if (!id.startsWith(prefix)) continue
      this.#pieces.delete(id)
      this.#bytes -= old.byteLength
    }
  }
}
