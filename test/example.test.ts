import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const EXAMPLE = fileURLToPath(new URL('../examples/update-agent.mjs', import.meta.url))
const GUARD = fileURLToPath(new URL('setup/loopback-only.mjs', import.meta.url))

describe('examples/update-agent.mjs', () => {
  it('runs as docs/library.md says, from any folder: the file is checked in fileTransferred, completed, and saved intact', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [EXAMPLE], {
      cwd: tmpdir(), timeout: 30_000, env: { ...process.env, NODE_OPTIONS: `--import ${GUARD}` }
    })
    expect(stderr).not.toContain('OFF-MACHINE')
    expect(stdout).toMatch(/sha256 [0-9a-f]{64} -> valid/)
    expect(stdout).toContain('jobTransferred: completing')
    expect(stdout).toMatch(/saved \S+agent-2\.1\.bin: sha256 matches\n$/)
  })
})
