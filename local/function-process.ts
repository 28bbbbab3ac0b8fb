import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A Lambda handler run in its own node process (TypeScript through tsx), called like an
 * invocation: `invoke(event)` resolves with the handler's result or rejects with an error of the
 * handler's error name. Every stdout/stderr line goes to `onLine` (logs, EMF metrics).
 */

export interface WorkerRequest<E = unknown> {
  readonly id: number;
  readonly event: E;
}

export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly name: string; readonly message: string } };

export interface FunctionProcessOptions {
  /** The worker module (a .ts file under the repository). */
  readonly module: string;
  /** The function's environment, on top of this process's. */
  readonly env: Readonly<Record<string, string>>;
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const REPO_ROOT = join(__dirname, '..');

/** An error as the Lambda runtime reports it: its name is the handler's error name (Step Functions' Error). */
export class FunctionError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export class FunctionProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private exited = false;

  constructor(options: FunctionProcessOptions) {
    // cwd is the repository so `--import tsx` resolves from its node_modules.
    this.child = fork(options.module, [], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.child[stream];
      if (source) createInterface({ input: source }).on('line', (line) => options.onLine?.(line, stream));
    }
    this.child.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(new FunctionError(reply.error.name, reply.error.message));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      // An invocation whose process died fails as Lambda reports it (Step Functions retries Lambda.Unknown).
      for (const waiting of this.pending.values())
        waiting.reject(
          new FunctionError(
            'Lambda.Unknown',
            `the function process exited (${signal ?? `code ${code}`}) during the invocation`,
          ),
        );
      this.pending.clear();
    });
  }

  invoke(event: unknown): Promise<unknown> {
    if (this.exited)
      return Promise.reject(new FunctionError('Lambda.ServiceException', 'the function process is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, event } satisfies WorkerRequest);
    });
  }

  /** Stops the process; invocations still running fail. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await exited;
  }
}
