import { join } from 'node:path'
import { InvalidArgumentError } from '@dopt/interface'

/** The control socket's name in the data folder. */
export const SOCKET_NAME = 'control.sock'
/** The folder in which callers prove who they are (see auth.ts): sticky, writable by all, listable by none. */
export const AUTH_DIR_NAME = 'control-auth'

/** Linux's limit on a Unix socket path (sun_path), less the terminating NUL. */
const MAX_SOCKET_PATH = 107

/** Where the daemon of `dataDir` listens. */
export function socketPath (dataDir: string): string {
  const path = join(dataDir, SOCKET_NAME)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new InvalidArgumentError(`the control socket ${path} would be longer than the ${MAX_SOCKET_PATH} bytes a Unix socket path may have: use a shorter --data-dir`, { path })
  }
  return path
}

export function authDir (dataDir: string): string {
  return join(dataDir, AUTH_DIR_NAME)
}
