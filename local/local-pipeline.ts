import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { PipelineStep, StepRequest } from '../core/pipeline/contract';
import type { ModelSpec } from '../core/pipeline/model-spec';
import { INCOMING_PREFIX } from '../lambdas/pipeline/keys';
import { PipelineStack } from '../lib/stacks/pipeline-stack';
import { StorageStack } from '../lib/stacks/storage-stack';
import { FunctionProcess } from './function-process';
import { ECS_RUN_TASK_SYNC, managedTaskHandler } from './managed-task';
import { executionNameFor, LocalExecutions, type UploadedObject } from './pipeline-executions';
import { placeholderArn, renderedDefinition, type RunResult } from './state-machine';

/**
 * The retraining pipeline on this machine: the definition the real PipelineStack synthesises,
 * run by a real ASL interpreter, its Lambda task bound to the real pipeline handler in its own
 * process, its SNS task to a local notice. Uploads start executions as the EventBridge rule does
 * (same input, one execution per object version).
 */

/** The Resource of the definition's SNS publish tasks (bound to a local notice). */
export const SNS_PUBLISH = 'arn:aws:states:::sns:publish';

export type PipelineEvent =
  | { readonly type: 'started'; readonly execution: string; readonly input: Readonly<Record<string, unknown>> }
  | { readonly type: 'state'; readonly execution: string; readonly state: string }
  | { readonly type: 'step'; readonly model: string; readonly step: PipelineStep; readonly result: unknown }
  | { readonly type: 'notification'; readonly execution: string; readonly subject: string; readonly message: string }
  | { readonly type: 'finished'; readonly execution: string; readonly result: RunResult };

export interface LocalExecution {
  readonly name: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  readonly result: Promise<RunResult>;
}

export interface LocalPipelineOptions {
  readonly specs: readonly ModelSpec[];
  readonly dataBucket: string;
  readonly modelBucket: string;
  /** The pipeline function's environment (buckets, S3 endpoint, credentials, TMPDIR, ...). */
  readonly functionEnv: Readonly<Record<string, string>>;
  readonly onEvent?: (event: PipelineEvent) => void;
  /** Every line the function writes (its logs and EMF metric lines). */
  readonly onFunctionOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Milliseconds between task retries. @default 1000 (the definition's backoff is for AWS) */
  readonly retryIntervalMs?: number;
}

/** The state machine as `cdk deploy` ships it: the app's storage and pipeline stacks synthesised (assets not bundled). */
export function synthesisedPipeline(specs: readonly ModelSpec[]): { definition: object; functionArn: string } {
  // Only the definition is read here; `npm run synth` and the infrastructure tests validate the
  // templates (the built-in CloudFormation validation costs ~3.5 s per synth).
  const app = new App({
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const storage = new StorageStack(app, 'MlopsStorage');
  const stack = new PipelineStack(app, 'MlopsPipeline', {
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs,
  });
  return {
    definition: renderedDefinition(stack, stack.pipeline.stateMachine),
    functionArn: placeholderArn(stack, stack.pipeline.fn),
  };
}

/** cdk.json's context (feature flags included), as the CDK CLI hands it to bin/app.ts. */
function cdkJsonContext(): Record<string, unknown> {
  return (
    (JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> })
      .context ?? {}
  );
}

export class LocalPipeline {
  private readonly fn: FunctionProcess;
  private readonly executions: LocalExecutions;
  private readonly running = new Map<string, LocalExecution>();
  private readonly started = new Map<string, LocalExecution>();
  private readonly emit: (event: PipelineEvent) => void;

  constructor(private readonly options: LocalPipelineOptions) {
    this.emit = options.onEvent ?? (() => undefined);
    this.fn = new FunctionProcess({
      module: join(__dirname, 'pipeline-worker.ts'),
      env: options.functionEnv,
      onLine: options.onFunctionOutput,
    });
    const { definition, functionArn } = synthesisedPipeline(options.specs);
    this.executions = new LocalExecutions(definition, {
      retryIntervalMs: options.retryIntervalMs ?? 1000,
      onStateEntered: (execution, state) => this.emit({ type: 'state', execution, state }),
      taskHandlers: {
        [functionArn]: async (payload) => {
          const request = (payload as { Payload?: StepRequest }).Payload ?? (payload as unknown as StepRequest);
          const result = await this.fn.invoke(request);
          this.emit({ type: 'step', model: modelOf(request), step: request.step, result });
          return result;
        },
        // The managed training task: its container's entry point as a child process, one per candidate.
        [ECS_RUN_TASK_SYNC]: managedTaskHandler({
          env: options.functionEnv,
          onLine: options.onFunctionOutput,
          onFinished: ({ exitCode, seconds }) =>
            options.onFunctionOutput?.(
              `managed training task exited with code ${exitCode} after ${seconds.toFixed(1)} s`,
              'stdout',
            ),
        }),
        [SNS_PUBLISH]: async (params) => {
          const { Subject, Message } = params as { Subject?: string; Message?: unknown };
          const message = typeof Message === 'string' ? Message : JSON.stringify(Message);
          this.emit({ type: 'notification', execution: executionOfMessage(message), subject: Subject ?? '', message });
          return { MessageId: `local-${Date.now()}` };
        },
      },
    });
  }

  /** What the EventBridge rule does for an object created under incoming/: one execution per object version. */
  onObjectCreated(object: UploadedObject): LocalExecution | undefined {
    if (object.bucket !== this.options.dataBucket || !object.key.startsWith(INCOMING_PREFIX)) return undefined;
    // A folder marker ("Create folder" in a console, or incoming/<model>/ itself) is not data: no run.
    if (object.key.endsWith('/')) return undefined;
    return this.start(
      { trigger: 'upload', bucket: object.bucket, key: object.key, etag: object.etag },
      executionNameFor(object),
    );
  }

  /**
   * A schedule, on-demand or drift run ({ model, trigger, reportKey? }), as `aws stepfunctions
   * start-execution` would; `name` (default `<trigger>-<model>-<ms>`) makes a retried start a no-op.
   */
  startRun(
    model: string,
    trigger: 'manual' | 'schedule' | 'drift' = 'manual',
    options: { readonly reportKey?: string; readonly name?: string } = {},
  ): LocalExecution | undefined {
    return this.start(
      { model, trigger, ...(options.reportKey ? { reportKey: options.reportKey } : {}) },
      options.name ?? `${trigger}-${model}-${Date.now()}`,
    );
  }

  /** An execution this process started, by name. */
  find(name: string): LocalExecution | undefined {
    return this.started.get(name);
  }

  /** Executions not yet finished. */
  inProgress(): LocalExecution[] {
    return [...this.running.values()];
  }

  /** Resolves when every execution started so far has ended. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()].map((e) => e.result));
  }

  /** Stops the function process; executions still running fail (their uploads stay in incoming/). */
  close(): Promise<void> {
    return this.fn.close();
  }

  private start(input: Record<string, unknown>, name: string): LocalExecution | undefined {
    const started = this.executions.start(input, name);
    if (!started.started) return undefined;
    const execution: LocalExecution = { name, input, startedAt: new Date(), result: started.result };
    this.running.set(name, execution);
    this.started.set(name, execution);
    this.emit({ type: 'started', execution: name, input });
    started.result.then(
      (result) => {
        this.running.delete(name);
        this.emit({ type: 'finished', execution: name, result });
      },
      (error: unknown) => {
        this.running.delete(name);
        this.emit({
          type: 'finished',
          execution: name,
          result: {
            status: 'FAILED',
            error: 'LocalInterpreterError',
            cause: error instanceof Error ? error.message : String(error),
          },
        });
      },
    );
    return execution;
  }
}

function modelOf(request: StepRequest): string {
  const input = request.input as { model?: unknown; state?: { model?: unknown } } | undefined;
  const name = input?.model ?? input?.state?.model;
  return typeof name === 'string' ? name : '';
}

function executionOfMessage(message: string): string {
  try {
    const parsed = JSON.parse(message) as { execution?: unknown };
    return typeof parsed.execution === 'string' ? parsed.execution : '';
  } catch {
    return '';
  }
}
