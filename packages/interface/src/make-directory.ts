import { mkdir, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'

/**
 * Creates the folder `path` and any missing parents, like `mkdir({ recursive: true })`, but always ends.
 *
 * Node's recursive mkdir (20, and later as far as known) never settles, spinning a core, when a parent exists and
 * yet mkdir of the child fails with ENOENT: under `/proc`, where any mkdir does, the walk steps back to the parent,
 * finds it there, steps forward, gets ENOENT again, and so forever. A user's `--data-dir` can be such a path, so
 * dopt walks itself: up while parents are missing (bounded by the path's depth), then down once; an ENOENT on the
 * way down is final.
 */
export async function makeDirectory (path: string): Promise<void> {
  const missing: string[] = []
  let dir = resolve(path)
  for (;;) {
    try {
      await mkdir(dir)
      break
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') break
      const parent = dirname(dir)
      if (code !== 'ENOENT' || parent === dir) throw err
      missing.push(dir)
      dir = parent
    }
  }
  for (const child of missing.reverse()) {
    try {
      await mkdir(child)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
  // EEXIST says something is there, not that it is a folder.
  if (!(await stat(path)).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR', path, syscall: 'mkdir' })
  }
}
