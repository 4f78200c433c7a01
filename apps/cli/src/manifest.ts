import { rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { manifestOfFile, toHex } from '@dopt/content'
import { SIDECAR_SUFFIX } from '@dopt/engine'
import { DoptError, InvalidPathError, parseSize } from '@dopt/interface'
import { formatBytes } from './progress.js'
import { EXIT_OK, UsageError, parse } from './usage.js'

/**
 * `dopt manifest FILE`: a file's manifest and CID, made offline as a publisher of updates would. The manifest's
 * bytes go to `FILE.dopt-manifest` (or `-o PATH`), ready to be published beside the file; a job given the CID
 * (`dopt get --manifest CID`) checks every piece against it and swarms from the first second.
 */
export async function runManifest (argv: string[], out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Promise<number> {
  const { values, positionals } = parse({
    args: argv,
    allowPositionals: true,
    options: {
      'piece-size': { type: 'string' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean', default: false }
    }
  })
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'manifest needs a FILE' : `manifest takes one FILE, got ${positionals.length}`)
  const file = resolve(positionals[0]!)
  const st = await stat(file).catch(() => null)
  if (st == null || !st.isFile()) throw new InvalidPathError(`${positionals[0]!} is not a file`, { path: file })
  const pieceSize = values['piece-size'] === undefined ? undefined : parseSize(values['piece-size'], '--piece-size')
  const target = resolve(values.output ?? file + SIDECAR_SUFFIX)
  if (target === file) throw new InvalidPathError('the manifest cannot overwrite the file it describes', { path: target })
  const { manifest, bytes, cid } = await manifestOfFile(file, pieceSize === undefined ? {} : { pieceSize }).catch((err: unknown) => {
    if (err instanceof DoptError) throw err
    throw new InvalidPathError(`cannot read ${positionals[0]!}: ${(err as Error).message}`, { path: file, cause: err })
  })
  // Written beside, then renamed: a publisher's half-written sidecar would be refused by every node anyway, and
  // one of an earlier version stays whole until the new one is.
  const tmp = `${target}.${process.pid}.tmp`
  try {
    await writeFile(tmp, bytes)
    await rename(tmp, target)
  } catch (err) {
    await rm(tmp, { force: true })
    throw new InvalidPathError(`cannot write the manifest to ${target}: ${(err as Error).message}`, { path: target, cause: err })
  }
  const result = {
    cid, size: manifest.size, pieceSize: manifest.pieceSize, pieces: manifest.pieceHashes.length,
    sha256: manifest.sha256 == null ? null : toHex(manifest.sha256), manifest: target
  }
  if (values.json) {
    out.write(JSON.stringify(result) + '\n')
  } else {
    err.write(`dopt: manifest of ${basename(file)} (${formatBytes(manifest.size)}, ${result.pieces} pieces of ${formatBytes(manifest.pieceSize)}) written to ${target}\n`)
    err.write(`dopt: publish it beside the file as ${basename(file)}${SIDECAR_SUFFIX}; nodes fetch it with: dopt get URL -o PATH --manifest ${cid}\n`)
    out.write(cid + '\n')
  }
  return EXIT_OK
}
