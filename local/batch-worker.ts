/**
 * The batch transform function's execution environment on this machine: a child process of the
 * local platform that imports the real Lambda handler (lambdas/batch/handler.ts) with the
 * environment the stack gives it. Scoring is CPU-bound; here it cannot stall the inference API.
 */
import { type BatchEvent, handler } from '../lambdas/batch/handler';
import { serveHandler } from './function-worker';

serveHandler<BatchEvent>(handler);
