// Prints the top self-time functions of a V8 .cpuprofile (from `node --cpu-prof`).
//   node benchmarks/cpuprofile-top.js FILE.cpuprofile [N]
import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { REPO_ROOT } from './lib.js'

const [file, n = '25'] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: node benchmarks/cpuprofile-top.js FILE.cpuprofile [N]\n')
  process.exit(2)
}
const profile = JSON.parse(await readFile(file, 'utf8'))
const byId = new Map(profile.nodes.map(node => [node.id, node]))
const self = new Map()
const deltas = profile.timeDeltas ?? []
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]
  self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)
const byFn = new Map()
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id)
  const where = f.url === '' ? '' : ` ${f.url.startsWith('file://') ? relative(REPO_ROOT, new URL(f.url).pathname) : f.url}:${f.lineNumber + 1}`
  const key = `${f.functionName || '(anonymous)'}${where}`
  byFn.set(key, (byFn.get(key) ?? 0) + us)
}
process.stdout.write(`total sampled: ${(total / 1e6).toFixed(2)} s\n`)
for (const [key, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  process.stdout.write(`${(us / 1e3).toFixed(0).padStart(7)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${key}\n`)
}
