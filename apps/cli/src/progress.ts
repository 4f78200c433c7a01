import { formatBytes } from '@dopt/interface'
import type { JobProgress } from '@dopt/node'

export { formatBytes }

/** Steady width: the bar's figures keep one decimal (`4.0 MiB`). */
const barBytes = (n: number): string => formatBytes(n, { fixed: true })

/** A one-line progress bar on a terminal (stderr); does nothing when stderr is not a terminal. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  readonly #started = Date.now()
  /** Bytes a resumed job had before this run: the rate counts only what this run fetched. */
  readonly #base: number
  #drawn = false

  constructor (stream: NodeJS.WriteStream = process.stderr, baseBytes = 0) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
    this.#base = baseBytes
  }

  update (p: JobProgress): void {
    if (!this.#enabled) return
    const width = 30
    const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesTransferred / p.bytesTotal) : 0
    const filled = Math.round(fraction * width)
    const seconds = Math.max(0.001, (Date.now() - this.#started) / 1000)
    const rate = barBytes(Math.max(0, p.bytesTransferred - this.#base) / seconds)
    const total = p.bytesTotal >= 0 ? barBytes(p.bytesTotal) : '?'
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${barBytes(p.bytesTransferred)} / ${total}  ${rate}/s`
    this.#stream.write(`\r${line}\x1b[K`)
    this.#drawn = true
  }

  /** Prints a line of its own: over the bar if one is drawn (the next update draws it again below). */
  note (line: string): void {
    this.#stream.write(this.#drawn ? `\r${line}\x1b[K\n` : `${line}\n`)
    this.#drawn = false
  }

  done (): void {
    if (this.#drawn) this.#stream.write('\n')
    this.#drawn = false
  }
}
