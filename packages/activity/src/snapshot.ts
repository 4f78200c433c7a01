import { JOB_STATES } from '@dopt/interface'
import type { JobPriority, JobState } from '@dopt/interface'
import type { DoptNode } from '@dopt/node'

/** One job as the page and the metrics see it. */
export interface JobActivity {
  jobId: string
  displayName: string
  state: JobState
  priority: JobPriority
  /** -1 while a file's size is not known. */
  bytesTotal: number
  bytesTransferred: number
  /** Over the job's life (saved with it), as `JobProgress`. */
  bytesFromPeers: number
  bytesFromOrigin: number
  bytesUploaded: number
  filesTotal: number
  filesTransferred: number
  /** The code of the job's error, when it is in `error` or `transient-error`. */
  errorCode: string | null
}

/** The node's counters since it started: they never go down, also when a job ends. */
export interface ActivityTotals {
  bytesFromPeers: number
  bytesFromOrigin: number
  bytesUploaded: number
  piecesUploaded: number
  piecesRejected: number
  peersBanned: number
}

/** A point of the chart: the totals at a time. */
export interface ActivitySample {
  /** Milliseconds since the epoch. */
  time: number
  bytesFromPeers: number
  bytesFromOrigin: number
  bytesUploaded: number
}

/** Everything the page shows, read from the node at one time. */
export interface ActivitySnapshot {
  /** Milliseconds since the epoch. */
  time: number
  node: { peerId: string | null, mode: string }
  totals: ActivityTotals
  /** Every job the node has, by state (acknowledged and cancelled jobs are gone, so always 0). */
  jobsByState: Record<JobState, number>
  /** Jobs, in creation order; at most `maxListed`, `jobCount` says how many there are. */
  jobs: JobActivity[]
  jobCount: number
  peers: Array<{ peerId: string, source: string, addrs: string[] }>
  peerCount: number
  cache: { items: number, bytes: number, bytesServed: number, list: Array<{ cid: string, url: string, size: number, bytesServed: number, lastUsedTime: number }> }
  /** Peers banned now (a ban ends after its time); `banCount` counts all of them. */
  bans: Array<{ peerId: string, reason: string, until: number }>
  banCount: number
}

/** How many jobs, peers, cache items and bans a snapshot lists at most (counts cover all). */
export const DEFAULT_MAX_LISTED = 200

/** Reads everything the page and the metrics show from a running node: one await per call, no state kept. */
export async function readSnapshot (node: DoptNode, maxListed = DEFAULT_MAX_LISTED): Promise<ActivitySnapshot> {
  const [jobs, cacheItems] = await Promise.all([node.jobs.enumJobs(), node.getCacheItems()])
  const stats = node.getStats()
  const peers = node.getPeers()
  const bans = node.getBannedPeers()
  const jobsByState = Object.fromEntries(JOB_STATES.map(s => [s, 0])) as Record<JobState, number>
  const listed: JobActivity[] = []
  for (const job of jobs) {
    const state = job.getState()
    jobsByState[state]++
    if (listed.length >= maxListed) continue
    const p = job.getProgress()
    listed.push({
      jobId: job.id,
      displayName: job.getDisplayName(),
      state,
      priority: job.getPriority(),
      bytesTotal: p.bytesTotal,
      bytesTransferred: p.bytesTransferred,
      bytesFromPeers: p.bytesFromPeers,
      bytesFromOrigin: p.bytesFromOrigin,
      bytesUploaded: p.bytesUploaded,
      filesTotal: p.filesTotal,
      filesTransferred: p.filesTransferred,
      errorCode: job.getError()?.code ?? null
    })
  }
  return {
    time: Date.now(),
    node: { peerId: node.peerId, mode: node.mode },
    totals: {
      bytesFromPeers: stats.bytesFromPeers,
      bytesFromOrigin: stats.bytesFromOrigin,
      bytesUploaded: stats.bytesUploaded,
      piecesUploaded: stats.piecesUploaded,
      piecesRejected: stats.piecesRejected,
      peersBanned: stats.peersBanned
    },
    jobsByState,
    jobs: listed,
    jobCount: jobs.length,
    peers: peers.slice(0, maxListed).map(p => ({ peerId: p.peerId, source: p.source, addrs: p.addrs })),
    peerCount: peers.length,
    cache: {
      items: cacheItems.length,
      bytes: cacheItems.reduce((n, c) => n + c.size, 0),
      bytesServed: cacheItems.reduce((n, c) => n + c.bytesServed, 0),
      list: cacheItems.slice(0, maxListed).map(c => ({ cid: c.cid, url: c.url, size: c.size, bytesServed: c.bytesServed, lastUsedTime: c.lastUsedTime }))
    },
    bans: bans.slice(0, maxListed).map(b => ({ peerId: b.peerId, reason: b.reason, until: b.until })),
    banCount: bans.length
  }
}

/** The chart's point of a snapshot. */
export function sampleOf (s: ActivitySnapshot): ActivitySample {
  return { time: s.time, bytesFromPeers: s.totals.bytesFromPeers, bytesFromOrigin: s.totals.bytesFromOrigin, bytesUploaded: s.totals.bytesUploaded }
}
