import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'

/** Bad command-line input: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  readonly code = 'USAGE'
}

export const EXIT_OK = 0
export const EXIT_JOB_ERROR = 1
export const EXIT_USAGE = 2

export const HELP = `dopt — peer-to-peer delivery optimization node

Usage:
  dopt get URL -o PATH [options]     download URL to PATH through a job (resumes an interrupted one)
  dopt daemon [options]              run this machine's node: resume jobs, serve the cache to peers
  dopt demo                          download a generated file from a local origin, with progress
  dopt manifest FILE [options]       a publisher's manifest of FILE, offline: writes FILE.dopt-manifest,
                                     prints its CID (for dopt get --manifest)
  dopt lab [options]                 fleet benchmark on this machine: how much origin egress peers save
                                     (dopt lab --help for its options)
  dopt help [COMMAND]                this text, or a command's (also: dopt COMMAND --help)
  dopt --version                     dopt's version

Job commands, like bitsadmin, against the daemon of --data-dir (dopt daemon):
  dopt create NAME                   a job, suspended; prints its id
  dopt addfile JOB URL PATH          add a file (--sha256 HEX, --manifest CID, --manifest-from SRC)
  dopt resume JOB | suspend JOB | cancel JOB | complete JOB
  dopt info JOB                      the job: state, progress, files, error, times
  dopt list [--all-users]            your jobs (every user's, for administrators)
  dopt set JOB [options]             priority, retry delay, no-progress timeout, notify flags and command line
  dopt validate JOB INDEX valid|invalid   the verdict on a transferred file
  dopt monitor [JOB]                 live events and progress, until Ctrl-C
  dopt peers                         connected peers and banned ones
  dopt cache                         what the seeding cache holds
  dopt reload                        re-read the daemon's --config (as SIGHUP; administrators)

Options of every command:
  --data-dir DIR        data folder (default: $DOPT_DATA_DIR, else $XDG_DATA_HOME/dopt, else ~/.local/share/dopt)
  --json                machine-readable output: one JSON object per line on stdout

Options that start a node (get when no daemon runs for the data folder, daemon):
  --mode M              http | lan | group | internet (default: lan)
  --peer MULTIADDR      a peer to connect to (repeatable)
  --listen MULTIADDR    where to listen (repeatable; daemon default /ip4/0.0.0.0/tcp/0, get /ip4/127.0.0.1/tcp/0)
  --group ID            share only with nodes of this group
  --no-mdns             do not look for LAN peers by mDNS (given peers and the DHT still work)
  --mdns-interface IP   mDNS on this interface only (127.0.0.1: nothing leaves the machine)
  --config FILE         JSON settings (NodeConfig names); options given here win; the daemon re-reads it on SIGHUP
  --admin-group GROUP   daemon: members of GROUP (name or gid) manage every user's jobs, as root does
  --activity ADDR       daemon: serve a live activity page and Prometheus /metrics on ADDR (127.0.0.1:PORT;
                        loopback only: they are not authenticated)

Options of get:
  -o, --output PATH     where the file goes (required)
  --sha256 HEX          expected SHA-256 of the file; a mismatch is a validation failure
  --manifest CID        a publisher's manifest (dopt manifest FILE) to check every piece against; its bytes come
                        from peers or from <URL>.dopt-manifest on the origin
  --manifest-from SRC   where that manifest is otherwise: a URL or a file
  --validate-cmd CMD    run "CMD TEMPORARY_PATH" once transferred; exit 0 means valid
  --priority P          foreground | high | normal | low (default: foreground)
  --retry-delay S       seconds between retries after a transient error (default: 2)
  --no-progress-timeout S  seconds without progress before giving up (default: 60)
  --seed-for SECONDS    keep serving the file to peers this long after it is saved

Options of manifest:
  --piece-size SIZE     bytes per piece, e.g. 1MiB or 4MiB (default: 1 MiB); nodes adopt the publisher's
  -o, --output PATH     where the manifest's bytes go (default: FILE.dopt-manifest, the sidecar nodes look for)

Exit codes: 0 success, 1 the job ended in error, 2 usage or bad input.
`

export const LAB_HELP = `dopt lab — a fleet benchmark of bandwidth savings, every process on 127.0.0.1

Usage:
  dopt lab [options]

Runs N dopt nodes (each its own process and data folder, all peers of each other, mDNS off) against a local origin
whose total egress is capped, releases them at one instant, and writes report.json and report.md to --out: when
each node was done, what the origin sent (origin copies = origin bytes / file size), CPU and memory per node, and
the lower bound of the last completion (docs/lab.md). Without options it runs the reference scenario: 4 nodes,
64 MiB, origin 20 MiB/s in total, uploads 20 MiB/s per node, all together, check sha256.

Options (each overrides the scenario file's field):
  --scenario FILE       a scenario as JSON (benchmarks/fleet/*.json), so a run can be repeated exactly
  --nodes N             number of nodes (1 to 64)
  --size SIZE           file size: bytes, or 64MiB, 1GiB, ... (KiB/MiB/GiB binary; KB/MB/GB decimal)
  --piece-size SIZE     piece size (default 1MiB)
  --origin-rate RATE    the origin's total egress, bytes/s or 20MiB (0: no limit)
  --upload-rate RATE    each node's upload limit (0: no limit)
  --download-rate RATE  each node's download limit (default 0: no limit)
  --check KIND          sha256 | manifest (a pinned CID; the origin serves FILE.dopt-manifest) | none
  --arrival A           together | staggered:SECONDS | poisson:MEAN_SECONDS[:SEED] | seed-first
  --baseline LIST       other systems to run on the same scenario: aria2,aria2-random
  --repeat K            run each system K times; the report gives median, min and max
  --timeout SECONDS     stop a run after this long (default 300); unfinished nodes are reported as such
  --name NAME           the scenario's name (default: the file's, else "reference")
  --out DIR             where the report goes (default ./dopt-lab-NAME-YYYYMMDD-HHMMSS)
  --json                no live display; one JSON line on stdout with the headline figures and the report's path

Network (root only; Linux with iproute2):
  --netns               each node in a network namespace of its own, joined by a bridge, the origin in one too
                        (10.203.0.0/16, linked to nothing else); tc shapes the origin's egress and each node's
                        upload and download instead of dopt's limits and the origin's token bucket. Every namespace
                        is removed at the end, on error and on Ctrl-C. aria2 baselines are skipped (on 127.0.0.1 only)
  --latency MS          with --netns: added one-way delay between any two hosts, milliseconds (netem)
  --loss PCT            with --netns: packets lost, percent (netem)
Without root, ip or tc (or netem, for --latency/--loss) --netns fails with NETNS_UNAVAILABLE and exit 2.

Exit codes: 0 every node finished with a verified file, 1 some node did not (the report says which), 2 bad input,
130 interrupted.
`

/** parseArgs with usage errors instead of TypeErrors. */
export function parse<T extends ParseArgsConfig> (config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** A number of seconds >= 0 from an option. */
export function seconds (value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${name} must be a number of seconds >= 0, not "${value}"`)
  return n
}

/** Help of each command, for `dopt help COMMAND` and `dopt COMMAND --help`. */
export const COMMAND_HELP: Record<string, string> = {
  get: `dopt get URL -o PATH [--sha256 HEX] [--manifest CID] [--manifest-from SRC] [--validate-cmd CMD]
         [--priority P] [--retry-delay S] [--no-progress-timeout S] [--seed-for S] [node options]

Downloads URL to PATH through a job: peers first, the origin for the rest; checks it, saves it. Through the daemon
of --data-dir when one runs (then node options are the daemon's), else with a node of its own for the duration.
Run it again after an interruption (even a kill) to resume. Ctrl-C stops and says how to resume.
`,
  daemon: `dopt daemon [--listen MULTIADDR]... [--peer MULTIADDR]... [--mode M] [--group ID] [--config FILE]
            [--admin-group GROUP] [--activity 127.0.0.1:PORT] [--no-mdns] [--mdns-interface IP] [--json]

Runs this machine's node in the foreground: resumes saved jobs, serves peers, answers the job commands on
DATA/control.sock. SIGHUP re-reads --config (limits and cache settings change at once; the rest is reported as
needing a restart); SIGTERM/SIGINT stop it, keeping every job. A second daemon on the same folder is refused.
See docs/daemon.md and docs/operations.md.
`,
  create: 'dopt create NAME [--description TEXT] [--priority P] [--json]\n\nCreates a job, suspended, owned by you; prints its id ({"jobId":"..."} with --json).\n',
  addfile: 'dopt addfile JOB URL PATH [--sha256 HEX] [--manifest CID] [--manifest-from SRC] [--json]\n\nAdds a file to a job. PATH must be in a folder you may write: the daemon checks.\n',
  resume: 'dopt resume JOB [--json]\n\nQueues the job; it transfers when its turn comes.\n',
  suspend: 'dopt suspend JOB [--json]\n\nStops the job\'s transfer; what it has is kept.\n',
  cancel: 'dopt cancel JOB [--json]\n\nEnds the job and deletes its temporary files.\n',
  complete: 'dopt complete JOB [--json]\n\nGives you the transferred files under their names and ends the job.\n',
  info: 'dopt info JOB [--json]\n\nThe job: state, progress, bytes from peers and the origin, files, error, times.\n',
  list: 'dopt list [--all-users] [--json]\n\nYour jobs ({"jobs":[...]}); --all-users: every user\'s (administrators only).\n',
  set: `dopt set JOB [--display-name N] [--description D] [--priority P] [--retry-delay S] [--no-progress-timeout S]
         [--notify-flags N] [--notify-cmd WORD]... [--no-notify-cmd] [--json]

Changes a job's properties. --notify-cmd, repeated once per word, is the program run when the job is transferred or
fails (BITS' SetNotifyCmdLine): an absolute path, then its arguments; {jobId} and {event} in them are replaced. It
runs as the job's owner, without a shell. Only the owner may set it.
`,
  validate: 'dopt validate JOB INDEX valid|invalid [--json]\n\nThe verdict on a transferred file (FileTransferred): invalid content from peers is fetched again from the origin.\n',
  monitor: 'dopt monitor [JOB] [--all-users] [--json]\n\nLive events and progress of one job or of all yours, a line per event with --json, until Ctrl-C.\n',
  peers: 'dopt peers [--json]\n\nThe daemon\'s connected peers ({"peers":[{"peerId","addrs","source"}],"banned":[...]}).\n',
  cache: 'dopt cache [--json]\n\nWhat the seeding cache holds ({"items":[...],"bytes":N}).\n',
  reload: 'dopt reload [--json]\n\nAsks the daemon to re-read its --config, as SIGHUP does (administrators only).\n',
  demo: 'dopt demo\n\nDownloads a generated file from a local origin, with progress: a first look at dopt.\n',
  manifest: `dopt manifest FILE [--piece-size SIZE] [-o PATH] [--json]

A publisher's manifest of FILE, made offline: writes FILE.dopt-manifest (the sidecar nodes look for beside the
file on the origin, or -o PATH) and prints its CID, which machines pin with dopt get --manifest CID.
`
}
