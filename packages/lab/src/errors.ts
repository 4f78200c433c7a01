import { DoptError } from '@dopt/interface'

/** Thrown when a baseline system (aria2) cannot run here: its binary is missing or does not start. */
export class BaselineUnavailableError extends DoptError {
  static override readonly code = 'BASELINE_UNAVAILABLE'
}

/** Thrown when a baseline run breaks down: a client or the tracker fails to start or stops answering. */
export class BaselineFailedError extends DoptError {
  static override readonly code = 'BASELINE_FAILED'
}
