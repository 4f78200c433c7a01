import type { Bitfield } from '@dopt/content'
import type { PeerState, SwarmView } from './swarm-view.js'

/** What the pickers see of a download: the view of its swarm and its own pieces. */
export interface PickState {
  view: SwarmView
  done: Bitfield
  /** First piece not yet written; nothing before it needs a look. */
  cursor: number
  /** Requests in flight for a piece (peers and origin). */
  busy(index: number): number
  /** The piece's request has been under way for a while: the endgame may race it. */
  lagging(index: number): boolean
  /** Handed to the sink, not written yet: not to be fetched again. */
  accepted(index: number): boolean
  /**
   * May this piece be taken from peers: its hash is known (a trusted manifest's, or vouched for), or it comes from
   * the peer fetching it from the origin (`fromClaimer`), which vouches for it when it is whole.
   */
  acceptable(index: number, fromClaimer: boolean): boolean
  /** A number in [0, 1): ties are broken at random, so peers do not all ask for the same piece. */
  random(): number
  /**
   * Whether a piece is this node's share (the origin's rule, `pickOriginRun`): asked of a peer that holds the whole
   * file, its share first, so that members ask it for different pieces. Absent: no preference.
   */
  mine?(index: number): boolean
}

/** Most candidate pieces one pick looks at: a pick runs per request, and must not cost a walk over every piece. */
const PICK_SCAN = 1024

/**
 * The piece to ask `peer` for: the rarest (fewest peers hold or fetch it) of those it serves that nobody is fetching,
 * ties broken at random; in the endgame (`endgame`), one already in flight elsewhere (at most twice). A piece the
 * peer is still fetching from the origin counts as one it serves (it is sent as it arrives), but only its lowest,
 * one at a time: that is the one arriving now (the origin sends a run in order).
 */
export function pickFromPeer (peer: PeerState, s: PickState, endgame: boolean, shareOnly = false): number | null {
  // A peer with the whole file (a seed) sends each piece it is asked for; when members ask it for the same pieces,
  // its upload goes to copies that the members could have traded among themselves (seed-first, N = 8: the seed sent
  // two copies at its cap). Its own share first; with `shareOnly`, nothing else (the other members ask for theirs,
  // and trade them on).
  if (!endgame && !peer.member && s.mine !== undefined) {
    const own = pick(peer, s, false, s.mine)
    if (own !== null || shareOnly) return own
  }
  return pick(peer, s, endgame, null)
}

function pick (peer: PeerState, s: PickState, endgame: boolean, only: ((index: number) => boolean) | null): number | null {
  const { view, done } = s
  let streamable = -1
  if (peer.streaming === 0) {
    for (const i of peer.claims) if (!done.get(i) && !s.accepted(i) && (streamable < 0 || i < streamable)) streamable = i
  }
  let best = -1
  let bestScore = Infinity
  let ties = 0
  let looked = 0
  for (const i of done.missing(s.cursor)) {
    const held = peer.have.get(i)
    if (!held && i !== streamable) continue
    if (only !== null && !only(i)) continue
    if (peer.fetching.has(i) || s.accepted(i) || !s.acceptable(i, !held)) continue
    const busy = s.busy(i)
    if (busy > 0 && (!endgame || busy >= 2 || !held || !s.lagging(i))) continue
    // Fewer sources first; a piece held whole before one still arriving; then a coin.
    const score = (view.holders[i]! + view.claimers[i]!) * 2 + (held ? 0 : 1)
    if (score < bestScore) {
      best = i
      bestScore = score
      ties = 1
    } else if (score === bestScore && s.random() * ++ties < 1) {
      best = i
    }
    if (++looked >= PICK_SCAN || (bestScore <= 2 && looked >= 64)) break
  }
  return best < 0 ? null : best
}

export interface OriginPick {
  /** This node's peer id and the shares' rotation (from the content's key), as every member computes them. */
  self: string
  rotation: number
  /** Take only pieces that no peer holds or fetches, and only this node's share. False: take any missing piece. */
  share: boolean
  maxRun: number
  /** Who shares the pieces, sorted; by default the view's members. */
  members?: string[]
  /**
   * A piece that is another member's share, which this node may take instead: its owner shows no sign of fetching
   * its share (no claim for a while).
   */
  ownerIdle(owner: string): boolean
}

/**
 * The next run of pieces to fetch from the origin, coalesced for one ranged GET.
 *
 * The origin is the scarcest source, so each piece should come from it once: a piece some peer holds or fetches is
 * left to the swarm, and the rest is shared out among the members (this node and the peers downloading the content
 * too) by a rule they all compute alike - blocks of consecutive pieces, dealt round robin over the sorted members -
 * so that they fetch different pieces without asking each other first. Claims (INTENT) settle what the rule does
 * not (members that see the swarm differently for a moment). Blocks are about a quarter of each member's share, so
 * runs can be coalesced, and the file still fills from the front.
 */
/** Which member's share a piece is (an index into the sorted `members`): blocks dealt round robin from `rotation`. */
export function shareOwner (index: number, size: number, members: number, rotation: number): number {
  const block = Math.max(1, Math.floor(size / (4 * members)))
  return (Math.floor(index / block) + rotation) % members
}

export function pickOriginRun (s: PickState, o: OriginPick): { first: number, count: number } | null {
  const { view, done } = s
  const free = (i: number): boolean => !done.get(i) && !s.accepted(i) && s.busy(i) === 0 &&
    (!o.share || (view.holders[i] === 0 && view.claimers[i] === 0))
  const members = o.share ? o.members ?? view.members() : [o.self]
  const m = members.length
  const me = members.indexOf(o.self)
  const ownerOf = (i: number): number => shareOwner(i, view.size, m, o.rotation)
  const mine = (i: number): boolean => m === 1 || ownerOf(i) === me
  let helpable = -1
  for (const first of done.missing(s.cursor)) {
    if (!free(first)) continue
    if (!mine(first)) {
      if (helpable < 0 && o.ownerIdle(members[ownerOf(first)]!)) helpable = first
      continue
    }
    let count = 1
    while (count < o.maxRun && first + count < view.size && free(first + count) && mine(first + count)) count++
    return { first, count }
  }
  return helpable < 0 ? null : { first: helpable, count: 1 }
}
