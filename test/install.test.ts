// Installing dopt outside this repository, as an update agent's developer does today (docs/library.md, "Install"):
// `npm pack` of every workspace, `npm install` of the tarballs into a temporary folder that cannot see the
// workspace, then an embedding program type-checked by tsc against the installed types and run, `dopt get` and a
// small `dopt lab` from the installed bin. Packages come from the tarballs, their dependencies from the npm cache
// where it has them (--prefer-offline), else the registry.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytesSeeded, startOrigin } from '@dopt/lab'
import type { Origin } from '@dopt/lab'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const AGENT = fileURLToPath(new URL('fixtures/install/agent.ts', import.meta.url))
const EXAMPLE = fileURLToPath(new URL('../examples/update-agent.mjs', import.meta.url))
/** The network guard of the test processes, preloaded into every child: nothing leaves 127.0.0.0/8. */
const GUARD = fileURLToPath(new URL('setup/loopback-only.mjs', import.meta.url))
/** The packages an update agent installs: @dopt/node and the siblings it depends on (none is on a registry yet). */
const LIBRARY = ['interface', 'content', 'store', 'origin', 'p2p', 'engine', 'control', 'node']

interface Result { code: number | null, stdout: string, stderr: string }

/** The environment of a child, without what `npm test` exports (npm_config_*, npm_package_*: the workspace's prefix). */
function cleanEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_PATH' && k !== 'INIT_CWD') env[k] = v
  // The Node running this test first on the PATH: `dopt`'s `#!/usr/bin/env node` and npm run on it.
  env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`
  return { ...env, ...extra }
}

/** Runs a command to its end, killed after `timeoutMs` (a hang fails the test instead of the suite). */
async function exec (cmd: string, args: string[], opts: { cwd: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }): Promise<Result> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.once('error', err => { clearTimeout(timer); reject(err) })
    child.once('close', code => {
      clearTimeout(timer)
      if (stderr.includes('OFF-MACHINE')) reject(new Error(`${cmd} ${args.join(' ')} tried to reach beyond 127.0.0.0/8:\n${stderr}`))
      else resolve({ code, stdout, stderr })
    })
  })
}

function ok (r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
  return r
}

/** Every file under `dir` (symlinks not followed), as paths relative to it. */
async function walk (dir: string, base = dir, out: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    out.push(relative(base, path))
    if (entry.isDirectory()) await walk(path, base, out)
  }
  return out
}

interface Packed { name: string, filename: string, files: Array<{ path: string }> }

const guarded = (): NodeJS.ProcessEnv => cleanEnv({ NODE_OPTIONS: `--import ${GUARD}` })
const workspaceVersion = async (pkg: string): Promise<string> =>
  (JSON.parse(await readFile(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version

describe('installing the packed packages outside the workspace', () => {
  let dir: string
  let app: string
  let packed: Packed[]
  let tarballs: string
  let origin: Origin
  const payload = randomBytesSeeded(3 * 1024 * 1024 + 12345, 13)
  const sha256 = createHash('sha256').update(payload).digest('hex')

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'dopt-install-')))
    app = join(dir, 'agent')
    tarballs = join(dir, 'tarballs')
    await mkdir(app)
    await mkdir(tarballs)
    packed = JSON.parse(ok(await exec('npm', ['pack', '--workspaces', '--json', '--pack-destination', tarballs], { cwd: ROOT }), 'npm pack').stdout) as Packed[]

    const tgz = (name: string): string => join(tarballs, packed.find(p => p.name === name)!.filename)
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'update-agent', private: true, type: 'module' }))
    // What docs/library.md gives an agent's developer: NodeNext, strict, Node's types, nothing else.
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, types: ['node'], outDir: 'out' },
      files: ['agent.ts']
    }))
    await copyFile(AGENT, join(app, 'agent.ts'))
    // typescript and @types/node at the workspace's versions, which its `npm ci` put in the cache.
    ok(await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund',
      ...LIBRARY.map(p => tgz(`@dopt/${p}`)), tgz('@dopt/cli'),
      `typescript@${await workspaceVersion('typescript')}`, `@types/node@${await workspaceVersion('@types/node')}`
    ], { cwd: app, timeoutMs: 150_000 }), 'npm install')

    origin = await startOrigin()
    origin.setFile('/updates/agent-2.1.bin', { data: payload })
  }, 200_000)

  afterAll(async () => {
    await origin?.close()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('packs every workspace; a library as its compiled dist, the CLI as its bundle with classic-level its one dependency', async () => {
    const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
    const names = await Promise.all(root.workspaces.map(async w =>
      (JSON.parse(await readFile(join(ROOT, w, 'package.json'), 'utf8')) as { name: string }).name))
    expect(packed.map(p => p.name).sort()).toEqual(names.sort())
    for (const p of packed.filter(p => p.name !== '@dopt/cli')) {
      const files = p.files.map(f => f.path)
      expect(files, p.name).toContain('dist/index.js')
      expect(files, p.name).toContain('dist/index.d.ts')
      expect(files.filter(f => !f.startsWith('dist/') && f !== 'package.json'), p.name).toEqual([])
    }
    const cli = packed.find(p => p.name === '@dopt/cli')!.files.map(f => f.path)
    expect(cli).toContain('dist/bundle/dopt.js')
    expect(cli).toContain('dist/bundle/lab-node.js')
    expect(cli.filter(f => f.startsWith('dist/') && !f.startsWith('dist/bundle/'))).toEqual([])
    const installed = JSON.parse(await readFile(join(app, 'node_modules/@dopt/cli/package.json'), 'utf8')) as { dependencies: object }
    expect(installed.dependencies).toEqual({ 'classic-level': '^3.0.0' })
  })

  it('installs copies, with no link back to the workspace and no node_modules above the folder', async () => {
    expect(relative(ROOT, dir).startsWith('..')).toBe(true)
    for (let up = dirname(app); up !== dirname(up); up = dirname(up)) {
      await expect(lstat(join(up, 'node_modules')), up).rejects.toMatchObject({ code: 'ENOENT' })
    }
    const modules = join(app, 'node_modules')
    const links: string[] = []
    for (const path of await walk(modules)) {
      if (!(await lstat(join(modules, path))).isSymbolicLink()) continue
      const target = resolve(dirname(join(modules, path)), await readlink(join(modules, path)))
      links.push(path)
      expect(target.startsWith(modules + sep), `${path} -> ${target}`).toBe(true)
    }
    expect(links).toContain(join('.bin', 'dopt')) // npm's bin link, into node_modules/@dopt/cli
    for (const p of [...LIBRARY, 'cli']) expect((await lstat(join(modules, '@dopt', p))).isDirectory(), p).toBe(true)
    expect(await readdir(join(modules, '@dopt'))).not.toContain('lab') // the CLI bundles it
  })

  it('type-checks an update agent with tsc against the installed types, and it downloads, checks and completes a file', async () => {
    ok(await exec(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app }), 'tsc')
    // The types are real ones: calls the API does not allow fail to compile.
    await writeFile(join(app, 'wrong.ts'), [
      "import { createNode } from '@dopt/node'",
      "const node = await createNode({ mode: 'everywhere' })",
      "const job = await node.jobs.createJob('x')",
      "job.setPriority('urgent')",
      'const n: number = job.getState()',
      'export { n }'
    ].join('\n'))
    const wrong = await exec(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict',
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--types', 'node', 'wrong.ts'], { cwd: app })
    expect(wrong.code).not.toBe(0)
    expect(wrong.stdout).toMatch(/wrong\.ts\(2,\d+\): error TS2322: Type '"everywhere"'/)
    expect(wrong.stdout).toMatch(/wrong\.ts\(4,\d+\): error TS2345: Argument of type '"urgent"'/)
    expect(wrong.stdout).toMatch(/wrong\.ts\(5,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/)

    const target = join(app, 'agent-2.1.bin')
    const r = ok(await exec(process.execPath, [join(app, 'out/agent.js'), origin.url('/updates/agent-2.1.bin'), target,
      join(app, 'agent-data'), sha256], { cwd: app, env: guarded() }), 'the agent')
    const line = JSON.parse(r.stdout.trim()) as { reached: string, state: string, listed: number, error: unknown, progress: { bytesFromOrigin: number } }
    expect(line).toMatchObject({ reached: 'transferred', state: 'acknowledged', listed: 0, error: null, progress: { bytesFromOrigin: payload.length } })
    expect(Buffer.compare(await readFile(target), payload)).toBe(0)
  })

  it('runs `dopt get` from the installed bin', async () => {
    const out = join(app, 'got.bin')
    const r = ok(await exec(join(app, 'node_modules/.bin/dopt'), ['get', origin.url('/updates/agent-2.1.bin'), '-o', out,
      '--mode', 'http', '--data-dir', join(app, 'cli-data'), '--sha256', sha256, '--json'], { cwd: app, env: guarded() }), 'dopt get')
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ state: 'acknowledged', bytesTotal: payload.length, error: null })
    expect(Buffer.compare(await readFile(out), payload)).toBe(0)
  })

  it('runs `dopt lab` from the installed CLI alone: its nodes start from the bundle and share the file', async () => {
    const out = join(app, 'lab-report')
    const r = ok(await exec(join(app, 'node_modules/.bin/dopt'), ['lab', '--nodes', '2', '--size', '2MiB', '--origin-rate', '0',
      '--upload-rate', '0', '--timeout', '60', '--json', '--out', out], { cwd: app, env: guarded(), timeoutMs: 90_000 }), 'dopt lab')
    const line = JSON.parse(r.stdout.trim()) as { allDone: boolean, nodes: number, systems: Array<{ system: string, originCopies: number }> }
    expect(line).toMatchObject({ allDone: true, nodes: 2 })
    expect(line.systems[0]!.system).toBe('dopt')
    expect(line.systems[0]!.originCopies).toBeLessThan(2)
    expect(await readdir(out)).toContain('report.json')
  }, 100_000)

  // Last: it adds @dopt/lab to the folder, which the tests above check is not there.
  it('installs @dopt/lab beside them, and examples/update-agent.mjs then runs there as docs/library.md says', async () => {
    const lab = packed.find(p => p.name === '@dopt/lab')!
    ok(await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tarballs, lab.filename)], { cwd: app, timeoutMs: 150_000 }), 'npm install @dopt/lab')
    await copyFile(EXAMPLE, join(app, 'update-agent.mjs'))
    const r = ok(await exec(process.execPath, [join(app, 'update-agent.mjs')], { cwd: app, env: guarded() }), 'the example')
    expect(r.stdout).toMatch(/sha256 [0-9a-f]{64} -> valid/)
    expect(r.stdout).toMatch(/saved \S+agent-2\.1\.bin: sha256 matches\n$/)
  }, 180_000)
})
