import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BIN, closedPortUrl, sandbox, servePayload } from './helpers.js'
import type { Sandbox } from './helpers.js'

const MiB = 1024 * 1024
// util-linux's `script` runs a command on a real pseudo-terminal: stderr is a TTY there, as for a user.
const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`

/** Runs `dopt ...args` on a pseudo-terminal; resolves with its exit code and everything the terminal showed. */
async function onTerminal (args: string[], timeoutMs = 30_000): Promise<{ code: number | null, screen: string }> {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let screen = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { screen += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { screen += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  clearTimeout(timer)
  // The bar ends each drawing with "erase to end of line"; shown as <EL> so that the tests' patterns stay readable.
  return { code, screen: screen.replaceAll('\x1b[K', '<EL>') }
}

describe.runIf(hasScript)('dopt get on a terminal', () => {
  let box: Sandbox
  beforeEach(async () => { box = await sandbox() })
  afterEach(async () => { await box.cleanup() })

  it('draws a progress bar on one line, up to 100%, then ends the line before the summary', async () => {
    const { data, url, out } = servePayload(box, 'tty.bin', 4 * MiB, 61)
    box.origin.setFault('/tty.bin', { rate: 8 * MiB })
    const { code, screen } = await onTerminal(['get', url, '-o', out, '--data-dir', box.dataDir, '--mode', 'http'])
    expect(code, screen).toBe(0)
    expect(Buffer.compare(await readFile(out), data)).toBe(0)
    const bars = screen.match(/\r\[[#-]{30}\] +\d+% [^\r\n]*\/s<EL>/g) ?? []
    expect(bars.length).toBeGreaterThanOrEqual(2)
    expect(bars.at(-1)).toMatch(/\[#{30}\] 100% 4\.0 MiB \/ 4\.0 MiB/)
    // The last bar is followed by a line end (the terminal shows \r\n), then the summary on its own line.
    const afterBar = screen.slice(screen.lastIndexOf('<EL>') + 4)
    expect(afterBar).toMatch(/^\r?\n\S/)
  })

  it('prints each retry over the bar, on its own line, and draws the bar again below', async () => {
    const { code, screen } = await onTerminal(['get', await closedPortUrl(), '-o', `${box.dir}/x.bin`, '--data-dir', box.dataDir,
      '--mode', 'http', '--retry-delay', '0.3', '--no-progress-timeout', '3'])
    expect(code, screen).toBe(1)
    const notes = screen.match(/\rdopt: [^\r\n]*ECONNREFUSED[^\r\n]*; retrying in 0\.3 s<EL>\r?\n/g) ?? []
    expect(notes.length, screen).toBeGreaterThanOrEqual(1)
    // Never a retry message glued to the end of a bar.
    expect(screen).not.toMatch(/\/s(<EL>)?dopt:/)
  })
})
