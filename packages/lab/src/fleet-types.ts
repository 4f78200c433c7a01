/**
 * The fleet lab's data: a scenario (what to run, also stored as JSON so a run can be repeated exactly) and the report
 * of a run (report.json). Shared by the runner, the baselines and the charts.
 */

/** When the nodes of a scenario start, relative to the release instant. */
export type Arrival =
  /** All nodes start at the release instant. */
  | { kind: 'together' }
  /** Node k starts at k × `every` seconds. */
  | { kind: 'staggered', every: number }
  /** Poisson arrivals: exponential gaps of mean `mean` seconds, drawn from `seed`. */
  | { kind: 'poisson', mean: number, seed?: number }
  /** Node 0 holds the file before the release (downloaded first, then seeding); the others start together. */
  | { kind: 'seed-first' }

/** Something that happens to one node during a run. */
export interface ChurnEvent {
  /** Index of the node (0-based). */
  node: number
  /** Seconds after the release. */
  at: number
  /** `leave`: SIGTERM, the node does not come back; `kill-restart`: SIGKILL, restarted after `restartAfter` s. */
  action: 'leave' | 'kill-restart'
  /** @default 1 */
  restartAfter?: number
}

/** How content is checked end to end, as the application would ask. */
export type CheckKind =
  /** A plain URL with the whole file's SHA-256 (`--sha256`). */
  | 'sha256'
  /** A publisher's manifest pinned by CID (`--manifest`), fetched from the origin's sidecar or from peers. */
  | 'manifest'
  /** A plain URL, no end-to-end check. */
  | 'none'

/** A baseline system run beside dopt on the same scenario. */
export type BaselineKind = 'aria2' | 'aria2-random'

/** Where a run's processes talk to each other, and so what applies its rate limits. */
export interface NetworkSetting {
  /**
   * `loopback`: every process on 127.0.0.1; the rates are the applications' own limits (dopt's uploadRate and
   * foregroundDownloadRate, the origin's token bucket). `netns` (root only): each node in a network namespace of its
   * own, joined by a bridge, the origin in one too; tc shapes the rates, latency and loss (docs/lab.md).
   */
  mode: 'loopback' | 'netns'
  /** netns: added one-way delay between any two hosts, milliseconds (netem). @default 0 */
  latency?: number
  /** netns: packets lost, percent, each packet once on its way (netem). @default 0 */
  loss?: number
}

export interface Scenario {
  /** Short name, used in file names. */
  name: string
  description?: string
  /** Number of nodes, N. */
  nodes: number
  /** Payload size in bytes. */
  fileSize: number
  /** Piece size in bytes (dopt's and the torrent's). @default 1 MiB */
  pieceSize?: number
  /** The origin's total egress in bytes/s over all its responses together; 0 for none. */
  originRate: number
  /** Each node's upload limit in bytes/s; 0 for none. */
  uploadRate: number
  /** Each node's download limit in bytes/s; 0 for none. @default 0 */
  downloadRate?: number
  arrival: Arrival
  churn?: ChurnEvent[]
  check: CheckKind
  /** dopt's download mode. @default 'lan' */
  mode?: 'lan' | 'group'
  /** Baselines to run in the same invocation. @default [] */
  baselines?: BaselineKind[]
  /** @default { mode: 'loopback' } */
  network?: NetworkSetting
  /** Seed of the payload's bytes. @default 1 */
  seed?: number
  /** Seconds after which a run is stopped and its unfinished nodes reported as such. @default 300 */
  timeout?: number
  /**
   * Extra NodeConfig settings for every dopt node (e.g. `originDelay`, `discoveryTimeout`), passed as they are.
   * Not the ones the lab sets itself: dataDir, listen, peers, mdns (always off), mode, uploadRate,
   * foregroundDownloadRate, pieceSize. @default {}
   */
  dopt?: Record<string, unknown>
}

/** One node (a dopt node or a baseline client) in one run. */
export interface NodeResult {
  index: number
  /** Seconds after the release at which it started its download. */
  start: number
  /** Seconds after the release at which its file was complete and checked; null if it never was. */
  done: number | null
  /** Body bytes it received from the origin (as the node reports it, or as the origin counted for its URL). */
  bytesFromOrigin: number
  bytesFromPeers: number
  bytesUploaded: number
  /** CPU seconds (user + system) of its process(es). */
  cpuSeconds: number
  /** Peak resident memory in bytes. */
  peakRss: number
  /** Its output file matched the payload's SHA-256. */
  verified: boolean
  /** Why it did not finish, if it did not. */
  error?: string
  /** Node 0 of a seed-first run: it downloaded before the release (negative start and done). */
  seed?: boolean
  /** Times its process was killed and started again on the same data folder (churn). */
  restarts?: number
  /** Bytes already verified when its last restarted process found its job again (a resume, not a new start). */
  resumedBytes?: number
  /** Peers it was connected to at the release (dopt: the lab waits for the full mesh, N - 1, up to a minute). */
  peersAtRelease?: number
}

/** What the origin saw during one run. */
export interface OriginStats {
  /** Body bytes sent, all requests. */
  bytesSent: number
  requests: number
  /** Cumulative body bytes sent, sampled: [seconds after the release, bytes]. */
  egress: Array<[number, number]>
}

/** One system (dopt or a baseline) on one scenario, once. */
export interface SystemRun {
  system: 'dopt' | BaselineKind
  nodes: NodeResult[]
  origin: OriginStats
  /** Seconds from the release to the last node done (null if some node never finished). */
  lastDone: number | null
  /** origin.bytesSent / fileSize. */
  originCopies: number
  /** ISO time of the release instant. */
  releasedAt?: string
}

/** The lower bounds the figures are compared with. */
export interface Bounds {
  /** Kumar & Ross: max(F/u_origin, F/d_min, N·F/(u_origin + Σu_i)), seconds; its terms beside it. */
  lastDone: number
  terms: {
    originUpload: number
    slowestDownload: number
    totalUpload: number
    /** The last node to arrive needs at least F/d_min after its arrival: max(start) + F/d_min. */
    lastArrival?: number
  }
  /** The origin sends at least one copy: F bytes. */
  oneCopyBytes: number
}

export interface Report {
  scenario: Scenario
  machine: { cpus: number, cpuModel: string, memoryBytes: number, os: string, node: string }
  dopt: { commit: string, dirty: boolean, versions: Record<string, string> }
  /** ISO time the run started. */
  startedAt: string
  bounds: Bounds
  /** Every run, in the order they ran (with --repeat K: K per system). */
  runs: SystemRun[]
  /**
   * What applied the scenario's rates: `application` (loopback: dopt's own limits and the origin's token bucket) or
   * `tc` (netns: tbf qdiscs on the namespaces' links; dopt's limits and the token bucket were off).
   */
  limits?: 'application' | 'tc'
  /** Systems the scenario asked for that could not run on this machine (aria2 not installed), and why. */
  skipped?: Array<{ system: SystemRun['system'], reason: string }>
  /** Per system, median and spread (min, max) of the headline figures over the repeats. */
  summary: Array<{
    system: SystemRun['system']
    repeats: number
    lastDone: { median: number | null, min: number | null, max: number | null }
    lastDoneOverBound: { median: number | null, min: number | null, max: number | null }
    originCopies: { median: number, min: number, max: number }
    cpuSecondsPerGiBPerNode: { median: number, min: number, max: number }
  }>
}
