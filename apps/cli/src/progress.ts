import type { JobProgress } from '@dopt/node'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes (n: number): string {
  let i = 0
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${UNITS[i]}`
}

/** A one-line progress bar on a terminal (stderr); does nothing when stderr is not a terminal. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream
  readonly #enabled: boolean
  readonly #started = Date.now()
  #drawn = false

  constructor (stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream
    this.#enabled = stream.isTTY === true
  }

  update (p: JobProgress): void {
    if (!this.#enabled) return
    const width = 30
    const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesTransferred / p.bytesTotal) : 0
    const filled = Math.round(fraction * width)
    const seconds = Math.max(0.001, (Date.now() - this.#started) / 1000)
    const rate = formatBytes(p.bytesTransferred / seconds)
    const total = p.bytesTotal >= 0 ? formatBytes(p.bytesTotal) : '?'
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(p.bytesTransferred)} / ${total}  ${rate}/s`
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
