/**
 * Work an invocation does after its answer is handed back: shadow scoring. The caller's answer
 * never waits for it; `settled()` says when it is done, which is what the Lambda handler holds
 * the execution environment for (post-response-extension.ts) and what tests and the bench await.
 *
 * A deferred task starts two turns of the event loop later. One turn is enough when the
 * runtime sends the answer as soon as the handler's promise settles (Lambda's Node.js runtime
 * interface client up to 3.x, the local platform's HTTP adapter); the 4.x client waits one
 * setImmediate after the handler before it posts the answer, so the second turn keeps the task
 * behind that post too.
 */
export class AfterResponse {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly onError: (error: unknown) => void = () => {}) {}

  /** Queues `task` to start once the current answer has been handed back. Never throws; a task that throws goes to `onError`. */
  defer(task: () => Promise<void>): void {
    const run = new Promise<void>((resolve) => {
      setImmediate(() =>
        setImmediate(() => {
          task()
            .catch((error: unknown) => this.onError(error))
            .finally(resolve);
        }),
      );
    });
    this.pending.add(run);
    void run.then(() => this.pending.delete(run));
  }

  /** How many deferred tasks have not finished. */
  get size(): number {
    return this.pending.size;
  }

  /** Resolves once every task deferred so far, and every task those defer while running, has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }
}
