/**
 * A strict reader of Prometheus' text exposition format (0.0.4), for the tests: every line must be a HELP, a TYPE
 * or a sample of a metric whose TYPE came first; label values must be quoted and escaped; values must be numbers.
 * Anything else throws with the line, so a malformed scrape fails the test.
 */
export interface Scrape {
  types: Map<string, string>
  /** Samples by metric name; each with its labels and value. */
  samples: Map<string, Array<{ labels: Record<string, string>, value: number }>>
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/
const SUFFIXES = ['_total', '_bucket', '_sum', '_count', '_created']

export function parsePrometheus (text: string): Scrape {
  const types = new Map<string, string>()
  const samples = new Map<string, Array<{ labels: Record<string, string>, value: number }>>()
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a line feed')
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line)
    if (meta != null) {
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`bad TYPE: ${line}`)
        if (types.has(meta[2]!)) throw new Error(`TYPE twice: ${line}`)
        types.set(meta[2]!, meta[3]!)
      }
      continue
    }
    if (line.startsWith('#')) throw new Error(`a comment that is not HELP or TYPE: ${line}`)
    const m = SAMPLE.exec(line)
    if (m == null) throw new Error(`not a sample line: ${line}`)
    const name = m[1]!
    const family = types.has(name) ? name : SUFFIXES.map(s => name.endsWith(s) ? name.slice(0, -s.length) : '').find(f => f !== '' && types.has(f))
    if (family === undefined) throw new Error(`a sample before its TYPE: ${line}`)
    const labels: Record<string, string> = {}
    let rest = m[2] ?? ''
    while (rest !== '') {
      const l = LABEL.exec(rest)
      if (l == null) throw new Error(`bad labels: ${line}`)
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1')
      rest = rest.slice(l[0].length)
    }
    const raw = m[3]!
    // Prometheus reads values with Go's ParseFloat, which takes Inf and NaN in any case (prom-client writes "Nan").
    if (!/^([+-]?(inf|nan)|-?\d+(\.\d+)?(e[+-]?\d+)?)$/i.test(raw)) throw new Error(`bad value: ${line}`)
    const value = /nan/i.test(raw) ? NaN : /inf/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw)
    const list = samples.get(name) ?? []
    list.push({ labels, value })
    samples.set(name, list)
  }
  return { types, samples }
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf (s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = (s.samples.get(name) ?? []).filter(x => Object.entries(labels).every(([k, v]) => x.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}
