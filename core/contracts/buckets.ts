import { BATCH_PREFIX, BATCH_RESULTS_PREFIX } from '../batch/keys';
import {
  CAPTURE_ERRORS_PREFIX,
  CAPTURE_PREFIX,
  FEEDBACK_PREFIX,
  MONITORING_PREFIX,
  MONITORING_STATE_PREFIX,
} from '../monitoring/contract';
import { REGISTRY_PREFIX } from '../registry/keys';

/**
 * The top-level key prefixes of the platform's two buckets: what the handlers read and write, and
 * what the constructs scope grants, lifecycle rules and event rules to. Each prefix is declared
 * once, next to the key builders of its area (core/registry/keys.ts, core/batch/keys.ts,
 * core/monitoring/contract.ts) or here for the pipeline's; this module gathers them so both sides
 * import one list. Every prefix ends in '/'.
 *
 * Data bucket:
 *   incoming/    uploads; each starts a retraining run           (pipeline: read, delete)
 *   processed/   clean copies of uploads, kept                    (pipeline: read, write once)
 *   quarantine/  rejected uploads and their reports               (pipeline: read, write once)
 *   claims/      which execution handles an object version        (pipeline: conditional write)
 *   batch/, batch-results/                                        (batch transform)
 *   capture/, capture-errors/, feedback/, monitoring/, monitoring-state/ (the data loop)
 * Model bucket:
 *   registry/    versions, aliases, history, routing, rollouts
 *   runs/        each run's data snapshot, candidates and summary
 */
export const INCOMING_PREFIX = 'incoming/';
export const PROCESSED_PREFIX = 'processed/';
export const QUARANTINE_PREFIX = 'quarantine/';
export const CLAIMS_PREFIX = 'claims/';
export const RUNS_PREFIX = 'runs/';

export {
  BATCH_PREFIX,
  BATCH_RESULTS_PREFIX,
  CAPTURE_ERRORS_PREFIX,
  CAPTURE_PREFIX,
  FEEDBACK_PREFIX,
  MONITORING_PREFIX,
  MONITORING_STATE_PREFIX,
  REGISTRY_PREFIX,
};

/**
 * registry/<model>/<part>: a pattern for every model's `part` (a folder ending in '/', or a key
 * stem), for grants and event rules. In an ARN or an EventBridge wildcard '*' spans '/', so a
 * grant on such a pattern needs the care ModelRollout takes with its Deny.
 */
export const everyModelRegistryPattern = (part: string) => `${REGISTRY_PREFIX}*/${part}`;
