import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '@dopt/interface'
import { ScenarioError, formatArrival, parseArrival, parseRate, parseScenario, parseSize, readScenario, systemsFor } from '../src/index.js'

const MiB = 1024 * 1024
const minimal = { nodes: 4, fileSize: '64MiB', originRate: '20MiB/s', uploadRate: 20 * MiB }

/** The ScenarioError `parse` throws; fails if it throws nothing or something else. */
function errorOf (value: unknown): ScenarioError {
  try {
    parseScenario(value)
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError)
    return err as ScenarioError
  }
  throw new Error(`accepted ${JSON.stringify(value)}`)
}

describe('sizes and rates', () => {
  it('reads binary and decimal units and plain bytes', () => {
    expect(parseSize('64MiB', 'x')).toBe(64 * MiB)
    expect(parseSize('1GiB', 'x')).toBe(1024 * MiB)
    expect(parseSize('1.5g', 'x')).toBe(1.5 * 1024 * MiB)
    expect(parseSize('500MB', 'x')).toBe(500e6)
    expect(parseSize('4096', 'x')).toBe(4096)
    expect(parseSize(4096, 'x')).toBe(4096)
    expect(parseRate('20MiB/s', 'x')).toBe(20 * MiB)
    expect(parseRate('20MiB', 'x')).toBe(20 * MiB)
    expect(parseRate('0', 'x')).toBe(0)
  })

  it('refuses what is not a size, naming the field', () => {
    expect(() => parseSize('12QB', '--size')).toThrow(/--size must be a size/)
    expect(() => parseSize('0', '--size')).toThrow(/--size must be a whole number of bytes >= 1/)
    expect(() => parseSize('1.5', '--size')).toThrow(InvalidArgumentError)
    expect(() => parseSize(true, '--size')).toThrow(/--size/)
    expect(() => parseRate('-5', '--origin-rate')).toThrow(/--origin-rate/)
    expect(() => parseRate('fast', '--origin-rate')).toThrow(/--origin-rate must be a rate/)
  })
})

describe('parseScenario', () => {
  it('fills in the defaults, so a report records exactly what ran', () => {
    expect(parseScenario(minimal)).toEqual({
      name: 'lab', nodes: 4, fileSize: 64 * MiB, pieceSize: MiB, originRate: 20 * MiB, uploadRate: 20 * MiB,
      downloadRate: 0, arrival: { kind: 'together' }, churn: [], check: 'sha256', mode: 'lan', network: { mode: 'loopback' },
      baselines: [], seed: 1, timeout: 300, dopt: {}
    })
  })

  it('network: loopback by default; netns with latency and loss (defaults 0), or the short forms', () => {
    expect(parseScenario({ ...minimal, network: 'netns' }).network).toEqual({ mode: 'netns', latency: 0, loss: 0 })
    expect(parseScenario({ ...minimal, network: { mode: 'netns', latency: 20, loss: 0.5 } }).network).toEqual({ mode: 'netns', latency: 20, loss: 0.5 })
    expect(parseScenario({ ...minimal, network: 'loopback' }).network).toEqual({ mode: 'loopback' })
    const once = parseScenario({ ...minimal, network: { mode: 'netns', loss: 1 } })
    expect(parseScenario(JSON.parse(JSON.stringify(once)))).toEqual(once)
  })

  it('network: refuses a bad mode, latency or loss, and shaping on loopback, naming the field', () => {
    expect(errorOf({ ...minimal, network: 'docker' }).message).toBe('scenario network.mode: must be loopback or netns, not "docker"')
    expect(errorOf({ ...minimal, network: { mode: 'netns', latency: -1 } }).field).toBe('network.latency')
    expect(errorOf({ ...minimal, network: { mode: 'netns', latency: 20_000 } }).field).toBe('network.latency')
    expect(errorOf({ ...minimal, network: { mode: 'netns', loss: 60 } }).message).toMatch(/^scenario network\.loss: must be a number >= 0 and <= 50/)
    expect(errorOf({ ...minimal, network: { mode: 'netns', jitter: 5 } }).field).toBe('network.jitter')
    expect(errorOf({ ...minimal, network: { mode: 'loopback', latency: 5 } }).message).toMatch(/network\.latency: needs mode netns/)
    expect(errorOf({ ...minimal, network: 3 }).field).toBe('network')
  })

  it('is idempotent: a resolved scenario parses to itself', () => {
    const once = parseScenario({ ...minimal, arrival: 'poisson:2:7', churn: [{ node: 1, at: 2, action: 'kill-restart' }], dopt: { originDelay: 0 } })
    expect(parseScenario(JSON.parse(JSON.stringify(once)))).toEqual(once)
    expect(once.arrival).toEqual({ kind: 'poisson', mean: 2, seed: 7 })
    expect(once.churn).toEqual([{ node: 1, at: 2, action: 'kill-restart', restartAfter: 1 }])
  })

  it('names the field of each mistake', () => {
    expect(errorOf([]).field).toBe('(top level)')
    expect(errorOf({ ...minimal, nodez: 3 }).field).toBe('nodez')
    expect(errorOf({ ...minimal, nodes: 0 }).message).toMatch(/scenario nodes: must be a whole number from 1 to 64, not 0/)
    expect(errorOf({ ...minimal, nodes: 2.5 }).field).toBe('nodes')
    expect(errorOf({ ...minimal, fileSize: undefined }).message).toMatch(/fileSize: is required/)
    expect(errorOf({ ...minimal, fileSize: 'huge' }).message).toMatch(/^scenario fileSize: must be a size/)
    expect(errorOf({ ...minimal, pieceSize: 1000 }).field).toBe('pieceSize')
    expect(errorOf({ ...minimal, originRate: -1 }).field).toBe('originRate')
    expect(errorOf({ ...minimal, uploadRate: undefined }).field).toBe('uploadRate')
    expect(errorOf({ ...minimal, check: 'md5' }).message).toMatch(/check: must be one of sha256, manifest, none/)
    expect(errorOf({ ...minimal, mode: 'internet' }).field).toBe('mode')
    expect(errorOf({ ...minimal, arrival: { kind: 'later' } }).field).toBe('arrival.kind')
    expect(errorOf({ ...minimal, arrival: { kind: 'staggered' } }).field).toBe('arrival.every')
    expect(errorOf({ ...minimal, arrival: { kind: 'staggered', every: 1, mean: 2 } }).field).toBe('arrival.mean')
    expect(errorOf({ ...minimal, arrival: 'seed-first', nodes: 1 }).field).toBe('nodes')
    expect(errorOf({ ...minimal, churn: [{ node: 4, at: 1, action: 'leave' }] }).field).toBe('churn[0].node')
    expect(errorOf({ ...minimal, churn: [{ node: 0, at: 1, action: 'explode' }] }).field).toBe('churn[0].action')
    expect(errorOf({ ...minimal, churn: [{ node: 0, at: 1, action: 'leave', restartAfter: 1 }] }).field).toBe('churn[0].restartAfter')
    expect(errorOf({ ...minimal, baselines: ['aria2', 'aria2'] }).field).toBe('baselines')
    expect(errorOf({ ...minimal, baselines: ['curl'] }).field).toBe('baselines')
    expect(errorOf({ ...minimal, name: 'a/b' }).field).toBe('name')
    expect(errorOf({ ...minimal, timeout: 0 }).field).toBe('timeout')
    expect(errorOf({ ...minimal, dopt: [] }).field).toBe('dopt')
  })

  it('keeps the settings the lab owns out of dopt: mDNS stays off, nodes keep their own folders and ports', () => {
    expect(errorOf({ ...minimal, dopt: { mdns: true } }).message).toMatch(/dopt\.mdns: is set by the lab: mDNS is always off/)
    for (const key of ['dataDir', 'listen', 'peers', 'mode', 'uploadRate', 'foregroundDownloadRate', 'pieceSize']) {
      expect(errorOf({ ...minimal, dopt: { [key]: 1 } }).field).toBe(`dopt.${key}`)
    }
    expect(parseScenario({ ...minimal, dopt: { originDelay: 0, discoveryTimeout: 0.5 } }).dopt).toEqual({ originDelay: 0, discoveryTimeout: 0.5 })
  })

  it('refuses a baseline this build cannot run, before anything starts', () => {
    expect(() => systemsFor(parseScenario({ ...minimal, baselines: ['aria2'] }), {})).toThrow(/"aria2" is not available/)
    const runner = async (): Promise<never> => { throw new Error('not run here') }
    expect(systemsFor(parseScenario({ ...minimal, baselines: ['aria2'] }), { aria2: runner }).map(([name]) => name)).toEqual(['dopt', 'aria2'])
  })

  it('reads a JSON file, and says which file is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dopt-lab-scenario-'))
    try {
      await writeFile(join(dir, 'ok.json'), JSON.stringify({ ...minimal, name: 'ok' }))
      expect((await readScenario(join(dir, 'ok.json'))).name).toBe('ok')
      await writeFile(join(dir, 'bad.json'), '{ nodes: 3 ')
      await expect(readScenario(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json is not valid JSON/)
      await expect(readScenario(join(dir, 'missing.json'))).rejects.toThrow(/cannot read .*missing\.json/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('parseArrival', () => {
  it('reads the short forms and writes them back', () => {
    for (const text of ['together', 'seed-first', 'staggered:2', 'poisson:1.5', 'poisson:3:42']) {
      expect(formatArrival(parseArrival(text))).toBe(text)
    }
    expect(parseArrival('staggered:0.5')).toEqual({ kind: 'staggered', every: 0.5 })
  })

  it('refuses the rest', () => {
    for (const text of ['soon', 'staggered', 'staggered:x', 'staggered:-1', 'together:1', 'poisson:1:2:3', 'poisson:0']) {
      expect(() => parseArrival(text), text).toThrow(ScenarioError)
    }
  })
})
