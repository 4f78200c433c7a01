import { DoptError, InvalidArgumentError } from '@dopt/interface'
import type { DoptErrorOptions } from '@dopt/interface'

/**
 * Thrown when the activity server is asked to listen on an address that is not loopback without
 * `allowNonLoopback`: the page and `/metrics` have no authentication, and show job URLs, file names and peer ids.
 */
export class NotLoopbackError extends DoptError {
  static override readonly code = 'NOT_LOOPBACK'
  /** The address that was refused. */
  readonly host: string

  constructor (host: string, options: DoptErrorOptions = {}) {
    super(`refusing to serve the activity page and metrics on ${host}: it is not a loopback address, and they have ` +
      'no authentication (anyone who can connect would see job URLs, file names and peer ids). Use 127.0.0.1 or ' +
      '::1, or pass allowNonLoopback: true when a firewall or an authenticating proxy stands in front', options)
    this.host = host
  }
}

/** Thrown when an activity address (`HOST:PORT`) or an option of the activity server is malformed. */
export class ActivityOptionError extends InvalidArgumentError {
  /** The option, or `address`. */
  readonly option: string

  constructor (option: string, message: string, options: DoptErrorOptions = {}) {
    super(`activity ${option}: ${message}`, options)
    this.option = option
  }
}
