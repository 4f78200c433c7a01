import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const child = fileURLToPath(new URL('./fixtures/stop-child.mjs', import.meta.url))

describe('stopping', () => {
  it('leaves nothing that keeps the process alive once both nodes of a transfer are stopped', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [child], { timeout: 30_000 })
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { piece: number, resources: string[] }
    expect(result.piece).toBe(4096)
    // libp2p's address manager used to leave a 1 s timer behind (stopNode in node.ts).
    expect(result.resources.filter(r => r !== 'TTYWrap' && r !== 'PipeWrap')).toEqual([])
  })
})
