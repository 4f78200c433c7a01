import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// The built module, as libp2p's first importer (dist/index.js) loads it; each case runs in a fresh process so that
// what Promise looked like before the import is known.
const POLYFILL = fileURLToPath(new URL('../dist/polyfill.js', import.meta.url))
const major = Number(process.versions.node.split('.')[0])

async function probe (prelude: string): Promise<{ before: string, after: string, resolved: number }> {
  const script = `${prelude}
    const before = Promise.withResolvers
    await import(${JSON.stringify(POLYFILL)})
    const { promise, resolve } = Promise.withResolvers()
    resolve(42)
    console.log(JSON.stringify({
      before: typeof before === 'function' ? (before === Promise.withResolvers ? 'kept' : 'replaced') : 'absent',
      after: Function.prototype.toString.call(Promise.withResolvers).includes('[native code]') ? 'native' : 'polyfill',
      resolved: await promise
    }))`
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 })
  return JSON.parse(stdout) as { before: string, after: string, resolved: number }
}

describe('the Promise.withResolvers polyfill', () => {
  it(`leaves Node's own in place where it has one (22 and later), and fills it in on Node 20 (this is ${process.version})`, async () => {
    const result = await probe('')
    if (major >= 22) expect(result).toEqual({ before: 'kept', after: 'native', resolved: 42 })
    else expect(result).toEqual({ before: 'absent', after: 'polyfill', resolved: 42 })
  })

  it('fills it in, working, where it is missing (removed here, on whatever Node runs this)', async () => {
    expect(await probe('delete Promise.withResolvers')).toEqual({ before: 'absent', after: 'polyfill', resolved: 42 })
  })
})
