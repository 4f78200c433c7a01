import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/** Runs benchmarks/origin-fuzz/run.js (a child process, over the built dist) and returns its exit code and output. */
async function fuzz (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [join(ROOT, 'benchmarks/origin-fuzz/run.js'), ...args], { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => { resolve({ code: err === null ? 0 : (err as { code?: number | null }).code ?? null, stdout, stderr }) })
  })
}

describe('response parser fuzzing (a short run of benchmarks/origin-fuzz)', () => {
  it('decodes or refuses a few thousand generated responses, with no crash, hang or wrong body', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dopt-fuzz-'))
    try {
      const out = join(dir, 'report.md')
      const seed = Math.floor(Math.random() * 2 ** 31)
      const { code, stdout, stderr } = await fuzz(['--inputs', '4000', '--seed', String(seed), '--out', out, '--json'])
      expect(stderr, `seed ${seed}`).not.toContain('FAIL')
      expect(code, stderr).toBe(0)
      const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
      expect(summary).toMatchObject({ inputs: 4000, failures: 0, seed })
      const outcomes = summary.outcomes as Record<string, number>
      // Every kind of outcome was reached: the inputs are not all alike.
      for (const kind of ['complete', 'protocol-error', 'truncated', 'no-head']) expect(outcomes[kind]).toBeGreaterThan(50)
      expect(await readFile(out, 'utf8')).toContain('<!-- origin-fuzz:begin -->')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('fails (exit 1) when a framer loses bytes (--sabotage): the checks catch it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dopt-fuzz-'))
    try {
      const { code, stderr } = await fuzz(['--inputs', '2000', '--seed', '5', '--out', join(dir, 'report.md'), '--sabotage'])
      expect(code).toBe(1)
      expect(stderr).toContain('decoded to other bytes')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
