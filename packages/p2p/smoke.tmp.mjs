import { createP2P } from '/work/main/packages/p2p/dist/index.js'
import { randomBytes, createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
const pieces = Array.from({ length: 64 }, () => randomBytes(1 << 20))
const cid = CID.create(1, 0x55, await sha256.digest(new Uint8Array([1]))).toString()
const content = { getManifest: async () => null, getHave: async () => null, readPiece: async (c, i) => c === cid ? pieces[i] ?? null : null }
const a = await createP2P({ mdns: false, dht: false, maxConcurrentUploads: 8 }, { content })
const b = await createP2P({ mdns: false, dht: false, peers: a.getMultiaddrs() }, { content: { getManifest: async () => null, getHave: async () => null, readPiece: async () => null } })
console.log('started')
const t = performance.now()
let n = 0
const got = await Promise.all(pieces.map(async (_, i) => { const p = await b.fetchPiece(a.peerId, cid, i, { timeout: 20000 }); n++; return p }).map(p => p.catch(e => { console.log('ERR', e.message); return null })))
console.log('done', n, performance.now() - t)
await a.stop(); await b.stop()
