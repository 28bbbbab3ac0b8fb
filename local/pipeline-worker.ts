/**
 * The pipeline function's execution environment on this machine: a child process of the local
 * platform that imports the real Lambda handler (lambdas/pipeline/handler.ts) with the same
 * environment variables the stack gives it, and runs one step per message. Training is CPU-bound;
 * running it here keeps the inference API answering while a model trains, as separate functions
 * do in AWS. Its stdout carries the handler's logs and Powertools' EMF metric lines.
 */
import type { StepRequest } from '../core/pipeline/contract';
import { handler } from '../lambdas/pipeline/handler';
import type { WorkerReply, WorkerRequest } from './function-process';

process.on('message', (message: WorkerRequest<StepRequest>) => {
  const reply = (answer: WorkerReply) => process.send?.(answer);
  handler(message.event).then(
    (result) => reply({ id: message.id, ok: true, result: result ?? null }),
    (error: unknown) => {
      // Step Functions sees a Lambda error as { Error: errorType, Cause }, errorType being the error's name.
      const failure = error instanceof Error ? error : new Error(String(error));
      reply({ id: message.id, ok: false, error: { name: failure.name, message: failure.message } });
    },
  );
});

// The parent going away (Ctrl-C, a crashed test) ends this process too.
process.on('disconnect', () => process.exit(0));
