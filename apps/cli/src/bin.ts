#!/usr/bin/env node
import { DoptError } from '@dopt/node'
import { parseGet, runGet } from './get.js'
import { runDemo } from './demo.js'
import { runDaemon } from './daemon.js'
import { parseLab, runLabCommand } from './lab.js'
import { runManifest } from './manifest.js'
import { COMMAND_HELP, EXIT_JOB_ERROR, EXIT_OK, EXIT_USAGE, HELP, LAB_HELP, UsageError } from './usage.js'
import { JOB_COMMANDS, runJobCommand } from './jobs.js'
import type { JobCommand } from './jobs.js'
import { VERSION } from './version.js'

/** Like sysexits' EX_SOFTWARE: dopt itself went wrong. */
const EXIT_INTERNAL = 70
/** Codes of errors caused by what the user typed: exit 2, no stack trace. */
const BAD_INPUT = new Set(['INVALID_ARGUMENT', 'INVALID_URL', 'INVALID_PATH', 'JOB_NOT_FOUND', 'LISTEN_FAILED',
  // dopt lab --netns where namespaces cannot be made (not root, no ip/tc): asked of the wrong machine.
  'NETNS_UNAVAILABLE',
  // Job commands with no daemon for the data folder, a second daemon, a job or file the caller may not touch.
  'DAEMON_UNAVAILABLE', 'DAEMON_RUNNING', 'ACCESS_DENIED',
  // dopt daemon --activity on an address that is not loopback, or not an address.
  'NOT_LOOPBACK'])

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const json = rest.includes('--json')
  try {
    if (command !== undefined && command !== 'lab' && command !== 'manifest' && (rest.includes('--help') || rest.includes('-h'))) {
      const help = COMMAND_HELP[command]
      if (help === undefined) throw new UsageError(`unknown command "${command}"`)
      process.stdout.write(help)
      return EXIT_OK
    }
    if ((JOB_COMMANDS as readonly string[]).includes(command ?? '')) return await runJobCommand(command as JobCommand, rest)
    switch (command) {
      case '--version': case '-V': case 'version':
        process.stdout.write(`dopt ${VERSION}\n`)
        return EXIT_OK
      case 'get': return await runGet(await parseGet(rest))
      case 'demo': return await runDemo()
      case 'daemon': return await runDaemon(rest)
      case 'manifest':
        if (rest.includes('--help') || rest.includes('-h')) {
          process.stdout.write(COMMAND_HELP.manifest!)
          return EXIT_OK
        }
        return await runManifest(rest)
      case 'lab':
        if (rest.includes('--help') || rest.includes('-h')) {
          process.stdout.write(LAB_HELP)
          return EXIT_OK
        }
        return await runLabCommand(await parseLab(rest))
      case 'help': {
        const topic = rest.find(a => !a.startsWith('-'))
        if (topic === undefined) process.stdout.write(HELP)
        else if (topic === 'lab') process.stdout.write(LAB_HELP)
        else if (COMMAND_HELP[topic] !== undefined) process.stdout.write(COMMAND_HELP[topic])
        else throw new UsageError(`no command "${topic}"`)
        return EXIT_OK
      }
      case undefined: case '--help': case '-h':
        process.stdout.write(HELP)
        return EXIT_OK
      default: throw new UsageError(`unknown command "${command}"`)
    }
  } catch (err) {
    return report(err, json)
  }
}

function report (err: unknown, json: boolean): number {
  if (err instanceof UsageError) {
    process.stderr.write(`dopt: ${err.message}\nRun "dopt help" for usage.\n`)
    if (json) process.stdout.write(JSON.stringify({ error: { code: 'USAGE', message: err.message } }) + '\n')
    return EXIT_USAGE
  }
  if (err instanceof DoptError) {
    process.stderr.write(`dopt: ${err.message} (${err.code})\n`)
    if (json) process.stdout.write(JSON.stringify({ error: err.toJSON() }) + '\n')
    return BAD_INPUT.has(err.code) ? EXIT_USAGE : EXIT_JOB_ERROR
  }
  process.stderr.write(`dopt: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`)
  return EXIT_JOB_ERROR
}

// A command whose work waits on something that can never happen (a bug) would let the event loop run dry and the
// process exit 0 with nothing done: the worst answer for a script. Say so and fail instead.
let settled = false
process.once('exit', (code) => {
  if (settled || code !== 0) return
  process.stderr.write('dopt: internal error: the command stopped before it finished (nothing was left to wait for)\n')
  process.exitCode = EXIT_INTERNAL
})
process.exitCode = await main(process.argv.slice(2))
settled = true
