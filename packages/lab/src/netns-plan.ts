/**
 * The plan of a lab network in Linux network namespaces (pure: names, addresses and the `ip`/`tc` command lines;
 * netns.ts runs them). One namespace per dopt node and one for the origin, each with a veth `eth0` whose other end
 * sits in a hub namespace, on a bridge. The namespaces are joined to nothing else: no route, no link to the host's
 * network, so nothing a node sends can reach the host's real interfaces. Every address is in 10.203.0.0/16 and
 * exists only inside these namespaces.
 *
 * Shaping, per direction (tc, instead of dopt's uploadRate / foregroundDownloadRate and the origin's token bucket):
 * - a node's upload: tbf on its own `eth0` (egress, in its namespace);
 * - a node's download: tbf on the hub's port toward it (the bridge sends it everything the node receives);
 * - the origin's total egress: tbf on the origin's `eth0`;
 * - latency and loss: netem on every hub port, so a packet between any two hosts crosses exactly one (the one
 *   toward its destination): `latency` ms one way (a round trip gains 2 × latency) and `loss` % per packet.
 */

/** Where namespace names start: `dopt-<runId>-<member>`; runId is `<pid>r<seq>`, so leftovers can be told apart. */
export const NETNS_PREFIX = 'dopt-'
/** Every address of a lab network is in here. */
export const NETNS_SUBNET = '10.203.0.0/16'
/** The origin's address (its namespace's `eth0`). */
export const ORIGIN_ADDRESS = '10.203.0.1'
/** Nodes listen on this port, each in its own namespace. */
export const NODE_PORT = 4001
/** Queueing a tbf allows before it drops: enough for TCP to fill the rate, small enough to stay responsive. */
const TBF_LATENCY_MS = 100
/** netem's queue, in packets: room for the delayed packets of every flow at high rates. */
const NETEM_LIMIT = 100_000

export interface NetworkShape {
  /** The origin's total egress, bytes/s; 0 for none. */
  originRate: number
  /** Each node's upload, bytes/s; 0 for none. */
  uploadRate: number
  /** Each node's download, bytes/s; 0 for none. */
  downloadRate: number
  /** Added one-way delay between any two hosts, ms; 0 for none. */
  latency: number
  /** Packets lost, percent (each packet, once on its way); 0 for none. */
  loss: number
}

/** One host of the network: a namespace, its address, and the name of its port on the hub's bridge. */
export interface NetnsHost {
  ns: string
  address: string
  /** Its veth's other end, in the hub namespace (names are per namespace, so short ones do). */
  hubPort: string
}

export interface NetworkPlan {
  runId: string
  hub: string
  origin: NetnsHost
  nodes: NetnsHost[]
  /** Each a command line (`ip ...` or `tc ...`), run in order; a failure stops the setup. */
  setup: string[][]
  /** What removes it all: deleting the namespaces deletes their veths and the bridge. */
  teardown: string[][]
}

/** A run id from a process id and a sequence number: `<pid>r<seq>`. */
export function runIdOf (pid: number, seq: number): string {
  return `${pid}r${seq}`
}

/** The process id of a namespace name of a lab network, or null if the name is not one of the lab's. */
export function ownerOf (ns: string): number | null {
  const m = /^dopt-(\d+)r\d+-(?:hub|origin|\d+)$/.exec(ns)
  return m === null ? null : Number(m[1])
}

/** The address of node `index` (0-based): 10.203.1.1 upwards, 254 per /24. */
export function nodeAddress (index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 254 * 200) throw new RangeError(`no address for node ${index}`)
  return `10.203.${1 + Math.floor(index / 254)}.${1 + (index % 254)}`
}

/** tc's `bit` is bits per second; a byte rate is spelt out so that tc's `bps` (bytes!) is never misread. */
const bits = (bytesPerSecond: number): string => `${Math.round(bytesPerSecond * 8)}bit`

/**
 * tbf at `rate` bytes/s: a burst of 10 ms of the rate, at least 64 KiB (veth hands over GSO packets of up to
 * 64 KiB, and a burst below one packet would stall it).
 */
export function tbfArgs (rate: number): string[] {
  const burst = Math.max(64 * 1024, Math.ceil(rate / 100))
  return ['tbf', 'rate', bits(rate), 'burst', String(burst), 'latency', `${TBF_LATENCY_MS}ms`]
}

/** netem's delay and loss (what is 0 is left out). */
export function netemArgs (latency: number, loss: number): string[] {
  const args = ['netem', 'limit', String(NETEM_LIMIT)]
  if (latency > 0) args.push('delay', `${latency}ms`)
  if (loss > 0) args.push('loss', `${loss}%`)
  return args
}

/**
 * The qdiscs of one device's egress: nothing, a tbf, a netem, or a netem with the tbf under it (netem delays, then
 * the tbf paces what comes out; tc-netem(8)'s own example).
 */
export function shapeCommands (ns: string, dev: string, rate: number, latency = 0, loss = 0): string[][] {
  const netem = latency > 0 || loss > 0
  if (!netem && rate === 0) return []
  if (!netem) return [['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', ...tbfArgs(rate)]]
  const root = ['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', ...netemArgs(latency, loss)]
  if (rate === 0) return [root]
  return [root, ['tc', '-n', ns, 'qdisc', 'add', 'dev', dev, 'parent', '1:1', 'handle', '10:', ...tbfArgs(rate)]]
}

/** The whole plan for `nodes` nodes shaped as `shape`, under run id `runId`. */
export function planNetwork (runId: string, nodes: number, shape: NetworkShape): NetworkPlan {
  if (!/^\d+r\d+$/.test(runId)) throw new RangeError(`not a run id: ${runId}`)
  const name = (member: string): string => `${NETNS_PREFIX}${runId}-${member}`
  const hub = name('hub')
  const origin: NetnsHost = { ns: name('origin'), address: ORIGIN_ADDRESS, hubPort: 'porigin' }
  const hosts: NetnsHost[] = Array.from({ length: nodes }, (_, k) => ({ ns: name(String(k)), address: nodeAddress(k), hubPort: `p${k}` }))
  const setup: string[][] = []
  for (const ns of [hub, origin.ns, ...hosts.map(h => h.ns)]) setup.push(['ip', 'netns', 'add', ns])
  setup.push(
    ['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge'],
    ['ip', '-n', hub, 'link', 'set', 'br0', 'up']
  )
  for (const host of [origin, ...hosts]) {
    setup.push(
      // Made in the hub, its other end put straight into the host's namespace: it never exists in the host's own.
      ['ip', '-n', hub, 'link', 'add', host.hubPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns],
      ['ip', '-n', hub, 'link', 'set', host.hubPort, 'master', 'br0', 'up'],
      ['ip', '-n', host.ns, 'addr', 'add', `${host.address}/16`, 'dev', 'eth0'],
      ['ip', '-n', host.ns, 'link', 'set', 'eth0', 'up'],
      ['ip', '-n', host.ns, 'link', 'set', 'lo', 'up']
    )
  }
  setup.push(...shapeCommands(origin.ns, 'eth0', shape.originRate))
  setup.push(...shapeCommands(hub, origin.hubPort, 0, shape.latency, shape.loss))
  for (const host of hosts) {
    setup.push(...shapeCommands(host.ns, 'eth0', shape.uploadRate))
    setup.push(...shapeCommands(hub, host.hubPort, shape.downloadRate, shape.latency, shape.loss))
  }
  const teardown = [...hosts.map(h => h.ns), origin.ns, hub].map(ns => ['ip', 'netns', 'delete', ns])
  return { runId, hub, origin, nodes: hosts, setup, teardown }
}
