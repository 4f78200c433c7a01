import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'
import { createNode, nodeIdentity } from '@dopt/node'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'dopt-identity-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

it('tells a data folder\'s peer id before its node starts, and the node then has it', async () => {
  const dataDir = join(dir, 'data')
  const id = await nodeIdentity(dataDir)
  expect(await nodeIdentity(dataDir)).toBe(id)
  const node = await createNode({ dataDir, mode: 'lan', mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  try {
    expect(node.peerId).toBe(id)
    expect(node.getStats()).toEqual({ bytesUploaded: 0, piecesUploaded: 0, peersBanned: 0, piecesRejected: 0, bytesFromOrigin: 0, bytesFromPeers: 0 })
  } finally {
    await node.stop()
  }
})
