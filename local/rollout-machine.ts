import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { parseRolloutRequestKey } from '../core/rollout/contract';
import type { ModelSpec } from '../core/pipeline/model-spec';
import type { RolloutRunner } from '../lambdas/rollout/runner';
import { PipelineStack } from '../lib/stacks/pipeline-stack';
import { StorageStack } from '../lib/stacks/storage-stack';
import { SNS_PUBLISH } from './local-pipeline';
import { executionNameFor, type UploadedObject } from './pipeline-executions';
import { placeholderArn, renderedDefinition, type RunResult, runStateMachine } from './state-machine';

/**
 * The rollout state machine on this machine: the definition the real PipelineStack synthesises
 * for its ModelRollout, run by the ASL interpreter (Wait states are real timers: a plan's
 * bakeSeconds, a few seconds in tests), its Lambda Task bound to the rollout steps in this
 * process, its SNS Task to a local notice. Rollout requests created on the local S3 server start
 * executions as the stack's EventBridge rule does (one per object version), and the local canary
 * alarms deliver their state changes here as EventBridge does to the function.
 *
 * In-process rather than a child process like the pipeline function: a rollout step is a few S3
 * calls and some arithmetic (milliseconds, nothing to keep off the API's event loop), and the
 * metrics it judges are in this process's memory, where the inference app records them. A child
 * would need a local-only HTTP endpoint to read them, an API surface AWS does not have.
 */

export type RolloutEvent =
  | { readonly type: 'started'; readonly execution: string; readonly key: string }
  | { readonly type: 'state'; readonly execution: string; readonly state: string }
  | { readonly type: 'step'; readonly execution: string; readonly step: string; readonly result: unknown }
  | { readonly type: 'notification'; readonly subject: string; readonly message: string }
  | { readonly type: 'alarm'; readonly result: unknown }
  | { readonly type: 'finished'; readonly execution: string; readonly result: RunResult };

export interface RolloutExecution {
  readonly name: string;
  readonly key: string;
  readonly startedAt: Date;
  readonly result: Promise<RunResult>;
}

export interface LocalRolloutOptions {
  readonly specs: readonly ModelSpec[];
  readonly modelBucket: string;
  /** The rollout function's steps (createRolloutRunner over the local stores and metrics). */
  readonly runner: RolloutRunner;
  readonly onEvent?: (event: RolloutEvent) => void;
  /** Milliseconds between task retries. @default 1000 (the definition's backoff is for AWS) */
  readonly retryIntervalMs?: number;
}

/** The rollout state machine as `cdk deploy` ships it (the pipeline stack synthesised, assets not bundled). */
function synthesisedRollout(specs: readonly ModelSpec[]): { definition: object; functionArn: string } {
  const context =
    (JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> })
      .context ?? {};
  const app = new App({
    context: { ...context, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const storage = new StorageStack(app, 'MlopsStorage');
  const stack = new PipelineStack(app, 'MlopsPipeline', {
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs,
  });
  return {
    definition: renderedDefinition(stack, stack.rollout.stateMachine),
    functionArn: placeholderArn(stack, stack.rollout.fn),
  };
}

export class LocalRollout {
  private readonly definition: object;
  private readonly handlers: Record<string, (input: unknown) => Promise<unknown>>;
  private readonly emit: (event: RolloutEvent) => void;
  private readonly names = new Set<string>();
  private readonly started = new Map<string, RolloutExecution>();
  private readonly running = new Map<string, RolloutExecution>();
  private readonly stop = new AbortController();

  constructor(private readonly options: LocalRolloutOptions) {
    this.emit = options.onEvent ?? (() => undefined);
    const { definition, functionArn } = synthesisedRollout(options.specs);
    this.definition = definition;
    this.handlers = {
      [functionArn]: async (payload) => {
        const request = (payload as { Payload?: unknown }).Payload ?? payload;
        const result = await options.runner(request);
        const { step, execution } = request as { step?: string; execution?: string };
        this.emit({ type: 'step', execution: execution ?? '', step: step ?? '', result });
        return result;
      },
      [SNS_PUBLISH]: async (params) => {
        const { Subject, Message } = params as { Subject?: string; Message?: unknown };
        this.emit({
          type: 'notification',
          subject: Subject ?? '',
          message: typeof Message === 'string' ? Message : JSON.stringify(Message),
        });
        return { MessageId: `local-${Date.now()}` };
      },
    };
  }

  /** What the start rule does for an object created under registry/<model>/rollouts/: one execution per object version. */
  onObjectCreated(object: UploadedObject): RolloutExecution | undefined {
    if (object.bucket !== this.options.modelBucket || !parseRolloutRequestKey(object.key)) return undefined;
    const name = executionNameFor(object);
    // Step Functions refuses a name it has seen; a closed platform starts nothing.
    if (this.names.has(name) || this.stop.signal.aborted) return undefined;
    this.names.add(name);
    const result = runStateMachine(
      this.definition,
      { bucket: object.bucket, key: object.key },
      {
        taskHandlers: this.handlers,
        executionName: name,
        retryIntervalMs: this.options.retryIntervalMs ?? 1000,
        signal: this.stop.signal,
        onStateEntered: (state) => this.emit({ type: 'state', execution: name, state }),
      },
    ).catch((error: unknown): RunResult => ({
      status: 'FAILED',
      error: 'LocalInterpreterError',
      cause: error instanceof Error ? error.message : String(error),
    }));
    const execution: RolloutExecution = { name, key: object.key, startedAt: new Date(), result };
    this.started.set(name, execution);
    this.running.set(name, execution);
    this.emit({ type: 'started', execution: name, key: object.key });
    void result.then((finished) => {
      this.running.delete(name);
      this.emit({ type: 'finished', execution: name, result: finished });
    });
    return execution;
  }

  /** What the alarm rule does: the alarm's state change to the rollout function. */
  async alarm(event: unknown): Promise<unknown> {
    const result = await this.options.runner(event);
    this.emit({ type: 'alarm', result });
    return result;
  }

  /** An execution this process started, by name. */
  find(name: string): RolloutExecution | undefined {
    return this.started.get(name);
  }

  /** Executions not yet finished. */
  inProgress(): RolloutExecution[] {
    return [...this.running.values()];
  }

  /** Stops every execution (StopExecution: their canaries keep their weight until the next start resumes them). */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.running.values()].map((e) => e.result));
  }
}

/** One line per thing worth seeing in the terminal: a start, each verdict, a notice, the end. */
export function rolloutProgress(log: (line: string) => void): (event: RolloutEvent) => void {
  return (event) => {
    if (event.type === 'started') log(`rollout    ${event.key}: started (${event.execution})`);
    if (event.type === 'notification') log(`rollout    notice "${event.subject}": ${event.message}`);
    if (event.type === 'alarm') log(`rollout    alarm: ${JSON.stringify(event.result)}`);
    if (event.type === 'finished')
      log(
        `rollout    ${event.execution}: ${event.result.status === 'SUCCEEDED' ? 'finished' : `failed: ${event.result.error} ${event.result.cause ?? ''}`}`,
      );
    if (event.type === 'step' && event.step === 'judge') {
      const verdict = event.result as { status?: string; reason?: string };
      log(`rollout    judge: ${verdict.status}: ${(verdict.reason ?? '').slice(0, 400)}`);
    }
    if (event.type === 'step' && ['advance', 'promote', 'abort', 'begin'].includes(event.step)) {
      const result = event.result as { status?: string; reason?: string; rollout?: { weight?: number } };
      log(
        `rollout    ${event.step}: ${result.status}${result.rollout?.weight !== undefined && event.step === 'advance' ? ` (weight ${result.rollout.weight}%)` : ''}${result.reason ? `: ${result.reason.slice(0, 300)}` : ''}`,
      );
    }
  };
}
