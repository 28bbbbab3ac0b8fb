/**
 * The monitoring job's errors that reach a caller, each with a literal `name` (a minifier renames
 * classes, so `constructor.name` would not survive bundling) that logs, the Lambda's async error
 * record and the CLIs can tell apart from a bug's plain Error.
 */

/**
 * Starting the drift retrain's execution failed (Step Functions refused or could not be reached).
 * The claim was released and the report says so, so the next scheduled tick tries again.
 */
export class RetrainStartError extends Error {
  override readonly name = 'RetrainStartError';
}

/** The platform's HTTP endpoint did not answer at all (refused, DNS, reset): nothing was sent. */
export class EndpointUnreachableError extends Error {
  override readonly name = 'EndpointUnreachableError';
}
