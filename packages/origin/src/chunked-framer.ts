import { OriginProtocolError } from '@dopt/interface'
import type { BodyFramer } from './body-framing.js'

const CR = 0x0d
const LF = 0x0a

const State = { Size: 0, Extension: 1, Data: 2, DataEnd: 3, Trailer: 4, Done: 5 } as const
type State = typeof State[keyof typeof State]

/**
 * Decodes `Transfer-Encoding: chunked` in place: chunk data is reported as runs of the read buffer, and only the
 * small size lines are parsed byte by byte, so a chunked body costs about as much as a sized one.
 */
export class ChunkedFramer implements BodyFramer {
  dataStart = 0
  dataEnd = 0
  readonly endsAtClose = false
  readonly #url: string
  #state: State = State.Size
  #size = 0
  #digits = 0
  #remaining = 0
  #lineLength = 0

  constructor (url: string) {
    this.#url = url
  }

  get finished (): boolean {
    return this.#state === State.Done
  }

  take (buf: Buffer, pos: number, len: number): number {
    this.dataStart = this.dataEnd = pos
    while (pos < len) {
      switch (this.#state) {
        case State.Data: {
          const n = Math.min(this.#remaining, len - pos)
          this.#remaining -= n
          if (this.#remaining === 0) this.#state = State.DataEnd
          this.dataStart = pos
          this.dataEnd = pos + n
          return this.dataEnd
        }
        case State.Size:
          this.#sizeByte(buf[pos] as number)
          break
        case State.Extension:
          if (buf[pos] === LF) this.#endSizeLine()
          break
        case State.DataEnd: {
          const byte = buf[pos]
          if (byte === LF) this.#state = State.Size
          else if (byte !== CR) throw this.#error('missing CRLF after chunk data')
          break
        }
        case State.Trailer: {
          const byte = buf[pos]
          if (byte === LF) {
            if (this.#lineLength === 0) {
              this.#state = State.Done
              this.dataStart = this.dataEnd = pos + 1
              return pos + 1
            }
            this.#lineLength = 0
          } else if (byte !== CR) {
            this.#lineLength++
          }
          break
        }
        case State.Done:
          return len
      }
      pos++
    }
    this.dataStart = this.dataEnd = pos
    return pos
  }

  #sizeByte (byte: number): void {
    const digit = hexValue(byte)
    if (digit >= 0) {
      // 13 hex digits keep the size below 2^53.
      if (++this.#digits > 13) throw this.#error('chunk size too large')
      this.#size = this.#size * 16 + digit
    } else if (byte === LF) {
      this.#endSizeLine()
    } else if (byte === 0x3b || byte === 0x20 || byte === 0x09) { // ';', ' ', '\t': extensions, ignored
      this.#state = State.Extension
    } else if (byte !== CR) {
      throw this.#error('invalid chunk size')
    }
  }

  #endSizeLine (): void {
    if (this.#digits === 0) throw this.#error('missing chunk size')
    if (this.#size === 0) {
      this.#state = State.Trailer
      this.#lineLength = 0
    } else {
      this.#state = State.Data
      this.#remaining = this.#size
    }
    this.#size = 0
    this.#digits = 0
  }

  #error (message: string): OriginProtocolError {
    return new OriginProtocolError(`chunked body: ${message}`, { context: 'remote-file', url: this.#url })
  }
}

function hexValue (byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37
  return -1
}
