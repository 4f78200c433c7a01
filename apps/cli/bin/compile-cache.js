// Node 22.1 and later can keep the V8 code of the modules they compile on disk and reuse it at the next start
// (module.enableCompileCache). For the bundle that takes a sixth to a quarter off a command's start-up (Node 24;
// docs/benchmarks.md, "Start-up"); Node 20 has no such cache and this does nothing there.
//
// The cache lives in the user's own cache folder, $XDG_CACHE_HOME/dopt/compile-cache, else
// ~/.cache/dopt/compile-cache — not Node's default under the shared temporary folder, where another user could
// have made the folder first. NODE_COMPILE_CACHE=DIR puts it elsewhere (Node then enables it itself);
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Any failure leaves the command running without a cache.
import { mkdirSync, statSync } from 'node:fs'
import module from 'node:module'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The folder the cache goes to, or null when the user has no cache home to put it in. */
export function compileCacheDir (env = process.env) {
  const xdg = env.XDG_CACHE_HOME
  const home = xdg != null && xdg.startsWith('/') ? xdg : join(homedir(), '.cache')
  if (!statSync(home, { throwIfNoEntry: false })?.isDirectory()) return null
  // One level at a time: a recursive mkdir never returns where a mkdir fails with ENOENT under an existing parent
  // (/proc, for one; packages/interface/src/make-directory.ts).
  const dir = join(home, 'dopt', 'compile-cache')
  for (const d of [join(home, 'dopt'), dir]) {
    try { mkdirSync(d, { mode: 0o700 }) } catch (err) { if (err?.code !== 'EEXIST') return null }
  }
  return dir
}

/** Turns the compile cache on where Node has one; returns Node's status object, or null when it was not tried. */
export function enableCompileCache (env = process.env) {
  if (typeof module.enableCompileCache !== 'function') return null
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return null // Node has done what they ask
  try {
    const dir = compileCacheDir(env)
    return dir === null ? null : module.enableCompileCache(dir)
  } catch {
    return null
  }
}
