/**
 * The IPC messages between the lab (parent) and a dopt node process (lab-node.js). Times are wall-clock
 * milliseconds since the Unix epoch (`performance.timeOrigin + performance.now()`): every process on the machine
 * shares that clock, and the parent makes them relative to the release instant.
 */

/** Parent → node, first: what node to be. */
export interface InitMessage {
  type: 'init'
  index: number
  /** NodeConfig for createNode, as JSON (the lab's settings laid over the scenario's `dopt`). */
  config: Record<string, unknown>
  url: string
  output: string
  /** The job's display name; a restarted node finds its job by it. */
  displayName: string
  check: { sha256?: string, manifest?: string }
  /** new: create the job at `go`; resume: find the job left by a killed process; none: the download was done. */
  job: 'new' | 'resume' | 'none'
  /** Milliseconds between progress messages. */
  progressInterval: number
}

/** Parent → node: start the download at `startAt` (epoch ms). */
export interface GoMessage {
  type: 'go'
  startAt: number
}

/** Parent → node: the run is over; send `final`, stop the node and exit. */
export interface StopMessage {
  type: 'stop'
}

export type ToNode = InitMessage | GoMessage | StopMessage

/** What a node process has done so far. */
export interface NodeFigures {
  bytesTransferred: number
  bytesFromOrigin: number
  bytesFromPeers: number
  bytesUploaded: number
  /** CPU seconds (user + system) since its download started (a restarted process: since it started). */
  cpuSeconds: number
  /** Peak resident memory of the process, bytes. */
  peakRss: number
}

export type FromNode =
  /** The node is up and listening. */
  | { type: 'ready', peerId: string | null, addrs: string[] }
  /** Until its `go`: how many peers it is connected to (the lab releases once the mesh is complete). */
  | { type: 'peers', count: number }
  /** Its job was created (or found) and resumed at `at`. */
  | ({ type: 'started', at: number } & NodeFigures)
  | ({ type: 'progress', state: string } & NodeFigures)
  /** Its job ended `acknowledged` at `at`: the file is at its output path. */
  | ({ type: 'done', at: number } & NodeFigures)
  /** Its job ended in error (or could not be created). */
  | ({ type: 'failed', at: number, code: string, message: string } & NodeFigures)
  /** Sent last, before the process stops its node and exits. */
  | ({ type: 'final' } & NodeFigures)
  /** The node could not start: createNode failed. */
  | { type: 'fatal', code: string, message: string }
