import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sandbox, start, waitUntil } from './helpers.js'
import type { Sandbox } from './helpers.js'

const packaging = fileURLToPath(new URL('../../../packaging/', import.meta.url))

/** The unit's settings, `Key=value` lines by key (a key may repeat). */
function unitSettings (text: string): Map<string, string[]> {
  const settings = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
    if (m != null) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!])
  }
  return settings
}

let box: Sandbox
beforeEach(async () => { box = await sandbox() })
afterEach(async () => { await box.cleanup() })

describe('the systemd unit and the example settings', () => {
  it('the unit runs dopt daemon as a service user in a state directory, hardened, and its command line and config work', { timeout: 60_000 }, async () => {
    const unit = unitSettings(await readFile(join(packaging, 'systemd', 'dopt.service'), 'utf8'))
    expect(unit.get('User')).toEqual(['dopt'])
    expect(unit.get('StateDirectory')).toEqual(['dopt'])
    expect(unit.get('ProtectSystem')).toEqual(['strict'])
    expect(unit.get('NoNewPrivileges')).toEqual(['yes'])
    expect(unit.get('ExecReload')?.[0]).toContain('-HUP')
    expect(unit.get('KillSignal')).toEqual(['SIGTERM'])
    // Its command line, with the machine's folders swapped for the test's, and the example settings file.
    const [program, ...args] = unit.get('ExecStart')![0]!.split(/\s+/)
    expect(program).toMatch(/\/dopt$/)
    const config = join(box.dir, 'dopt.json')
    const example = JSON.parse(await readFile(join(packaging, 'dopt.json'), 'utf8')) as Record<string, unknown>
    await (await import('node:fs/promises')).writeFile(config, JSON.stringify({ ...example, adminGroup: 'root' }))
    const swapped = args.map(a => a === '/var/lib/dopt' ? box.dataDir : a === '/etc/dopt/dopt.json' ? config : a)
    // On 127.0.0.1 only, whatever the example says: the command line wins over the file.
    const daemon = start([...swapped, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--activity', '127.0.0.1:0', '--json'], { timeoutMs: 40_000 })
    await waitUntil('the daemon is ready', () => daemon.stdout.includes('\n') || daemon.child.exitCode !== null, { timeoutMs: 20_000 })
    const ready = JSON.parse(daemon.stdout.split('\n')[0]!) as { api: string, listen: string[] }
    expect(ready.api).toBe(join(box.dataDir, 'control.sock'))
    daemon.child.kill('SIGHUP')
    await waitUntil('reloaded', () => daemon.stdout.includes('"event":"reloaded"'), { timeoutMs: 10_000 })
    daemon.child.kill('SIGTERM')
    expect((await daemon.done).code).toBe(0)
  })
})
