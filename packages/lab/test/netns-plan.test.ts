import { describe, expect, it } from 'vitest'
import { NETNS_PREFIX, ORIGIN_ADDRESS, netemArgs, nodeAddress, ownerOf, planNetwork, runIdOf, shapeCommands, tbfArgs } from '../src/index.js'

const MiB = 1024 * 1024
const NONE = { originRate: 0, uploadRate: 0, downloadRate: 0, latency: 0, loss: 0 }

describe('the plan of a lab network (names, addresses, command lines)', () => {
  it('names every namespace dopt-<pid>r<seq>-<member>, and reads the owner back from a name', () => {
    const plan = planNetwork(runIdOf(4242, 3), 3, NONE)
    expect(plan.runId).toBe('4242r3')
    expect(plan.hub).toBe('dopt-4242r3-hub')
    expect(plan.origin.ns).toBe('dopt-4242r3-origin')
    expect(plan.nodes.map(n => n.ns)).toEqual(['dopt-4242r3-0', 'dopt-4242r3-1', 'dopt-4242r3-2'])
    for (const ns of [plan.hub, plan.origin.ns, ...plan.nodes.map(n => n.ns)]) {
      expect(ns.startsWith(NETNS_PREFIX)).toBe(true)
      expect(ownerOf(ns)).toBe(4242)
    }
    // Anything else is not the lab's, and is never touched.
    for (const other of ['dopt-x', 'dopt-4242-0', 'docker-1', 'dopt-4242r3-eth0', 'xdopt-4242r3-0']) expect(ownerOf(other)).toBeNull()
    expect(() => planNetwork('bad id', 1, NONE)).toThrow(RangeError)
  })

  it('gives the origin 10.203.0.1 and the nodes distinct addresses in 10.203.0.0/16', () => {
    expect(ORIGIN_ADDRESS).toBe('10.203.0.1')
    expect(nodeAddress(0)).toBe('10.203.1.1')
    expect(nodeAddress(253)).toBe('10.203.1.254')
    expect(nodeAddress(254)).toBe('10.203.2.1')
    const plan = planNetwork('1r1', 64, NONE)
    const addresses = [plan.origin.address, ...plan.nodes.map(n => n.address)]
    expect(new Set(addresses).size).toBe(65)
    for (const a of addresses) expect(a).toMatch(/^10\.203\.\d{1,3}\.\d{1,3}$/)
    expect(() => nodeAddress(-1)).toThrow(RangeError)
  })

  it('builds namespaces, a bridge in the hub and one veth per host, made in the hub (never in the host\'s namespace)', () => {
    const plan = planNetwork('7r1', 2, NONE)
    const lines = plan.setup.map(c => c.join(' '))
    expect(lines.slice(0, 4)).toEqual(['ip netns add dopt-7r1-hub', 'ip netns add dopt-7r1-origin', 'ip netns add dopt-7r1-0', 'ip netns add dopt-7r1-1'])
    expect(lines).toContain('ip -n dopt-7r1-hub link add br0 type bridge')
    expect(lines).toContain('ip -n dopt-7r1-hub link add p1 type veth peer name eth0 netns dopt-7r1-1')
    expect(lines).toContain('ip -n dopt-7r1-hub link set p1 master br0 up')
    expect(lines).toContain('ip -n dopt-7r1-1 addr add 10.203.1.2/16 dev eth0')
    expect(lines).toContain('ip -n dopt-7r1-origin addr add 10.203.0.1/16 dev eth0')
    // Every command names a namespace of the plan: nothing runs in the host's own network namespace.
    const own = new Set([plan.hub, plan.origin.ns, ...plan.nodes.map(n => n.ns)])
    for (const cmd of plan.setup) {
      const ns = cmd[1] === '-n' ? cmd[2] : cmd[3]
      expect(own.has(ns!), cmd.join(' ')).toBe(true)
    }
    // No route out: no default route, no address outside the subnet.
    expect(lines.some(l => / route /.test(l))).toBe(false)
    // No shaping asked for, no qdisc.
    expect(lines.some(l => l.startsWith('tc '))).toBe(false)
    // Teardown deletes every namespace (their veths and the bridge go with them).
    expect(plan.teardown.map(c => c.join(' ')).sort()).toEqual([...own].map(ns => `ip netns delete ${ns}`).sort())
  })

  it('shapes each direction where it leaves: uploads on the node\'s eth0, downloads on the hub\'s port toward it, the origin on its eth0', () => {
    const plan = planNetwork('7r2', 1, { originRate: 20 * MiB, uploadRate: 4 * MiB, downloadRate: 2 * MiB, latency: 0, loss: 0 })
    const tc = plan.setup.filter(c => c[0] === 'tc').map(c => c.join(' '))
    expect(tc).toEqual([
      `tc -n dopt-7r2-origin qdisc add dev eth0 root handle 1: tbf rate ${20 * MiB * 8}bit burst ${Math.ceil(20 * MiB / 100)} latency 100ms`,
      `tc -n dopt-7r2-0 qdisc add dev eth0 root handle 1: tbf rate ${4 * MiB * 8}bit burst 65536 latency 100ms`,
      `tc -n dopt-7r2-hub qdisc add dev p0 root handle 1: tbf rate ${2 * MiB * 8}bit burst 65536 latency 100ms`
    ])
  })

  it('puts latency and loss on every hub port (one per path), with the download\'s tbf under the netem', () => {
    const plan = planNetwork('7r3', 2, { originRate: 0, uploadRate: 0, downloadRate: MiB, latency: 20, loss: 0.5 })
    const tc = plan.setup.filter(c => c[0] === 'tc').map(c => c.join(' '))
    expect(tc).toEqual([
      'tc -n dopt-7r3-hub qdisc add dev porigin root handle 1: netem limit 100000 delay 20ms loss 0.5%',
      'tc -n dopt-7r3-hub qdisc add dev p0 root handle 1: netem limit 100000 delay 20ms loss 0.5%',
      `tc -n dopt-7r3-hub qdisc add dev p0 parent 1:1 handle 10: tbf rate ${MiB * 8}bit burst 65536 latency 100ms`,
      'tc -n dopt-7r3-hub qdisc add dev p1 root handle 1: netem limit 100000 delay 20ms loss 0.5%',
      `tc -n dopt-7r3-hub qdisc add dev p1 parent 1:1 handle 10: tbf rate ${MiB * 8}bit burst 65536 latency 100ms`
    ])
  })

  it('spells rates in bits per second and keeps a burst of at least one 64 KiB packet', () => {
    expect(tbfArgs(1000)).toEqual(['tbf', 'rate', '8000bit', 'burst', '65536', 'latency', '100ms'])
    expect(tbfArgs(100 * MiB)).toEqual(['tbf', 'rate', `${100 * MiB * 8}bit`, 'burst', String(Math.ceil(100 * MiB / 100)), 'latency', '100ms'])
    expect(netemArgs(0, 1)).toEqual(['netem', 'limit', '100000', 'loss', '1%'])
    expect(netemArgs(5, 0)).toEqual(['netem', 'limit', '100000', 'delay', '5ms'])
    expect(shapeCommands('ns', 'eth0', 0)).toEqual([])
  })
})
