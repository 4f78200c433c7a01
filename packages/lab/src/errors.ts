import { DoptError, InvalidArgumentError } from '@dopt/interface'
import type { DoptErrorOptions } from '@dopt/interface'

/** Thrown when a scenario (a JSON file or options) is malformed or out of range; `field` names what is wrong. */
export class ScenarioError extends InvalidArgumentError {
  readonly field: string

  constructor (field: string, message: string, options: DoptErrorOptions = {}) {
    super(`scenario ${field}: ${message}`, options)
    this.field = field
  }
}

/**
 * Thrown when a lab run cannot go on: a node process that does not start, a payload that cannot be written. What a
 * system does badly (a node that never finishes, a bad output) is not an error: the report says so.
 */
export class LabRunError extends DoptError {
  static override readonly code = 'LAB_RUN_FAILED'
}

/** Thrown when a baseline system (aria2) cannot run here: its binary is missing or does not start. */
export class BaselineUnavailableError extends DoptError {
  static override readonly code = 'BASELINE_UNAVAILABLE'
}

/** Thrown when a baseline run breaks down: a client or the tracker fails to start or stops answering. */
export class BaselineFailedError extends DoptError {
  static override readonly code = 'BASELINE_FAILED'
}

/**
 * Thrown when the lab cannot build its network namespaces here (`network: netns`): not root, `ip` or `tc` missing,
 * namespaces not allowed, or a qdisc the scenario needs (netem, for latency or loss) missing from the kernel.
 */
export class NetnsUnavailableError extends DoptError {
  static override readonly code = 'NETNS_UNAVAILABLE'
}
