/**
 * Polls `check` every `intervalMs` until it returns true; throws `timed out waiting until <what>` after
 * `timeoutMs`. For tests that wait on something another process or the event loop settles.
 */
export async function waitUntil (what: string, check: () => boolean | Promise<boolean>, { timeoutMs = 10_000, intervalMs = 25 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
