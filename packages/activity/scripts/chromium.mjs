// Where Debian's chromium is, for the browser test and the screenshot script; scripts/ensure-chromium installs it.
import { accessSync, constants } from 'node:fs'

const CANDIDATES = ['/usr/lib/chromium/chromium', '/usr/bin/chromium']

/** The Chromium binary to drive: DOPT_CHROMIUM when set, else Debian's; throws, saying what to run, when there is none. */
export function chromiumPath () {
  const wanted = process.env.DOPT_CHROMIUM
  for (const p of wanted !== undefined && wanted !== '' ? [wanted] : CANDIDATES) {
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // Not there, or not executable: the next candidate.
    }
  }
  throw new Error(`no Chromium found (${wanted !== undefined && wanted !== '' ? `DOPT_CHROMIUM=${wanted}` : CANDIDATES.join(', ')}): ` +
    'run scripts/ensure-chromium (as root it installs Debian\'s chromium with apt-get)')
}

/**
 * Launch options for playwright-core: headless, no sandbox (it needs user namespaces or a setuid helper, often
 * absent in containers and CI; the browser only opens a page on the loopback), and every host name but
 * 127.0.0.1 resolving to nothing, so the browser cannot reach past the loopback.
 */
export function launchOptions () {
  return {
    executablePath: chromiumPath(),
    headless: true,
    chromiumSandbox: false,
    args: ['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', '--no-proxy-server', '--disable-gpu', '--no-first-run', '--disable-extensions']
  }
}
