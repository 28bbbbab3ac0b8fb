import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FunctionError } from './function-process';
import type { JsonValue, TaskHandler } from './state-machine';

/**
 * The managed training task on this machine: the Resource of the state machine's TrainManaged
 * state (ECS RunTask, .sync) bound to the container's entry point (lambdas/pipeline/task-main.ts)
 * run as a child process with the function's environment plus the container overrides the state
 * machine rendered (TRAIN_ITEM). It resolves when the process exits 0, as `.sync` does when the
 * task stops with its essential container's exit code 0; otherwise it fails with
 * States.TaskFailed, the error Step Functions reports for a task that stopped unsuccessfully.
 */

/** The Resource of an ECS RunTask state with the `.sync` (RUN_JOB) integration pattern. */
export const ECS_RUN_TASK_SYNC = 'arn:aws:states:::ecs:runTask.sync';

const REPO_ROOT = join(__dirname, '..');
const ENTRY = join(REPO_ROOT, 'lambdas', 'pipeline', 'task-main.ts');

interface RunTaskParameters {
  readonly Overrides?: {
    readonly ContainerOverrides?: readonly {
      readonly Name?: string;
      readonly Environment?: readonly { readonly Name: string; readonly Value: string }[];
    }[];
  };
}

export interface ManagedTaskOptions {
  /** The task's environment besides the overrides (buckets, S3 endpoint, credentials, specs, TMPDIR). */
  readonly env: Readonly<Record<string, string>>;
  /** Every line the task writes (CloudWatch Logs in AWS). */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called when a task ends, with its wall time: what `npm start` and the tests report. */
  readonly onFinished?: (task: { readonly exitCode: number | null; readonly seconds: number }) => void;
}

export function managedTaskHandler(options: ManagedTaskOptions): TaskHandler {
  return async (input: JsonValue) => {
    const params = input as unknown as RunTaskParameters;
    const overrides = Object.fromEntries(
      (params.Overrides?.ContainerOverrides ?? []).flatMap((c) => (c.Environment ?? []).map((e) => [e.Name, e.Value])),
    );
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env, ...overrides },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastError = '';
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: child[stream] }).on('line', (line) => {
        if (stream === 'stderr' && line.trim() !== '') lastError = line;
        options.onLine?.(line, stream);
      });
    }
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
    options.onFinished?.({ exitCode, seconds: (Date.now() - started) / 1000 });
    if (exitCode !== 0) {
      throw new FunctionError(
        'States.TaskFailed',
        `the managed training task stopped: essential container exited with code ${exitCode}${lastError ? `: ${lastError}` : ''}`,
      );
    }
    return {
      LastStatus: 'STOPPED',
      StopCode: 'EssentialContainerExited',
      Containers: [{ Name: params.Overrides?.ContainerOverrides?.[0]?.Name ?? 'trainer', ExitCode: 0 }],
    };
  };
}
