/**
 * The batch transform function's execution environment on this machine: a child process of the
 * local platform that imports the real Lambda handler (lambdas/batch/handler.ts) with the
 * environment the stack gives it. Scoring is CPU-bound; here it cannot stall the inference API.
 */
import { type BatchEvent, handler } from '../lambdas/batch/handler';
import type { WorkerReply, WorkerRequest } from './function-process';

process.on('message', (message: WorkerRequest<BatchEvent>) => {
  const reply = (answer: WorkerReply) => process.send?.(answer);
  handler(message.event).then(
    (result) => reply({ id: message.id, ok: true, result: result ?? null }),
    (error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      reply({ id: message.id, ok: false, error: { name: failure.name, message: failure.message } });
    },
  );
});

process.on('disconnect', () => process.exit(0));
