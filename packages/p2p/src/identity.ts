import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { LocalFileError, makeDirectory } from '@dopt/interface'
import type { PrivateKey } from '@libp2p/interface'

/** File in the data folder that holds the node's private key (protobuf, as libp2p encodes keys). */
export const PEER_KEY_FILE = 'peer-key'

/**
 * The node's identity key: read from `<dataDir>/peer-key`, or generated (Ed25519) and saved there so the peer id
 * survives restarts. Without a data folder the key lives in memory only.
 */
export async function loadOrCreateKey (dataDir?: string): Promise<PrivateKey> {
  if (dataDir === undefined) return await generateKeyPair('Ed25519')
  const path = join(dataDir, PEER_KEY_FILE)
  let bytes: Uint8Array | null = null
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LocalFileError(`cannot read ${path}`, { cause: err, path, context: 'local-file' })
  }
  if (bytes !== null) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err) {
      throw new LocalFileError(`${path} does not hold a private key`, { cause: err, path, context: 'local-file' })
    }
  }
  const key = await generateKeyPair('Ed25519')
  try {
    await makeDirectory(dataDir)
    // Write then rename, so a crash never leaves half a key; 0600 because it is a secret.
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
    await rename(tmp, path)
  } catch (err) {
    throw new LocalFileError(`cannot write ${path}`, { cause: err, path, context: 'local-file' })
  }
  return key
}

/**
 * The peer id a node with this data folder has (its key is made now if it has none yet), so that a harness can give
 * nodes each other's addresses before any of them starts.
 */
export async function peerIdOfDataDir (dataDir: string): Promise<string> {
  return peerIdFromPrivateKey(await loadOrCreateKey(dataDir)).toString()
}
