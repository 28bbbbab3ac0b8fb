/**
 * The child side of a local function process (see function-process.ts): runs the real Lambda
 * handler once per message and answers with its result, or with the error's name and message as
 * Step Functions sees a Lambda error ({ Error: errorType, Cause }, errorType being the error's name).
 */
import type { WorkerReply, WorkerRequest } from './function-process';

export function serveHandler<E>(handler: (event: E) => Promise<unknown>): void {
  process.on('message', (message: WorkerRequest<E>) => {
    const reply = (answer: WorkerReply) => process.send?.(answer);
    handler(message.event).then(
      (result) => reply({ id: message.id, ok: true, result: result ?? null }),
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        reply({ id: message.id, ok: false, error: { name: failure.name, message: failure.message } });
      },
    );
  });
  // The parent going away (Ctrl-C, a crashed test) ends this process too.
  process.on('disconnect', () => process.exit(0));
}
