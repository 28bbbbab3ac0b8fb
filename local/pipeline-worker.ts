/**
 * The pipeline function's execution environment on this machine: a child process of the local
 * platform that imports the real Lambda handler (lambdas/pipeline/handler.ts) with the same
 * environment variables the stack gives it, and runs one step per message. Training is CPU-bound;
 * running it here keeps the inference API answering while a model trains, as separate functions
 * do in AWS. Its stdout carries the handler's logs and Powertools' EMF metric lines.
 */
import type { StepRequest } from '../core/pipeline/contract';
import { handler } from '../lambdas/pipeline/handler';
import { serveHandler } from './function-worker';

serveHandler<StepRequest>(handler);
