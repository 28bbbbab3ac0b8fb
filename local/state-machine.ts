/**
 * Runs a synthesised state machine definition on this machine with a real ASL interpreter
 * (aws-local-stepfunctions), Task states bound to in-process functions by their Resource.
 */
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { StateMachine as CdkStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/** aws-local-stepfunctions 3.0.0 calls Promise.withResolvers (Node 22); Node 20 lacks it. */
function installWithResolvers(): void {
  const promise = Promise as PromiseConstructor & { withResolvers?: unknown };
  if (typeof promise.withResolvers === 'function') return;
  promise.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const created = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise: created, resolve, reject };
  };
}
installWithResolvers();
// Loaded after the polyfill, and only here, so every user of the runner gets it first.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- must run after the polyfill above
const asl = require('aws-local-stepfunctions') as typeof import('aws-local-stepfunctions');

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A Task's stand-in: it gets the Task's effective input (its rendered Parameters). */
export type TaskHandler = (input: JsonValue) => Promise<unknown>;

export interface RunOptions {
  /** Resource ARN (a function's ARN, 'arn:aws:states:::sns:publish', ...) -> local function. */
  readonly taskHandlers: Readonly<Record<string, TaskHandler>>;
  /** Called as each state is entered (including states inside a Map). */
  readonly onStateEntered?: (name: string, input: unknown) => void;
  /** $$.Execution.Name. @default - a random name */
  readonly executionName?: string;
  /** Milliseconds between retries, instead of the definition's backoff. @default 0 */
  readonly retryIntervalMs?: number;
  /**
   * Stops the execution, as StopExecution does (a Wait state would otherwise hold the process for
   * its whole duration): it ends FAILED with error ExecutionAborted.
   * @default - runs to its end
   */
  readonly signal?: AbortSignal;
}

export type RunResult =
  | { readonly status: 'SUCCEEDED'; readonly output: unknown }
  | { readonly status: 'FAILED'; readonly error: string; readonly cause?: string };

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Retry?: unknown[];
  readonly ItemProcessor?: { readonly States: Record<string, AslState> };
  readonly Iterator?: { readonly States: Record<string, AslState> };
  readonly Branches?: { readonly States: Record<string, AslState> }[];
}

/** Every state of a definition with its name, nested Map and Parallel states included. */
export function allStates(definition: { States: Record<string, AslState> }): [string, AslState][] {
  return Object.entries(definition.States).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].flatMap((inner) =>
      inner ? allStates(inner) : [],
    ),
  ]);
}

/** Task states name a Resource; the interpreter binds handlers by state name, so map one to the other. */
function bindTasks(definition: { States: Record<string, AslState> }, handlers: Readonly<Record<string, TaskHandler>>) {
  const byState: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  const retries: Record<string, number> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue;
    const resource = state.Resource ?? '';
    const handler = handlers[resource];
    if (!handler) {
      throw new Error(
        `Task state "${name}" uses ${resource}, which has no local handler; pass one in taskHandlers (have: ${Object.keys(handlers).join(', ')})`,
      );
    }
    byState[name] = async (input) => ((await handler(input)) ?? null) as JsonValue;
    retries[name] = 0;
  }
  return { byState, retries };
}

/** Runs a definition to its end; a failed execution is a result, not a throw. */
export async function runStateMachine(definition: object, input: unknown, options: RunOptions): Promise<RunResult> {
  const asDefinition = definition as { States: Record<string, AslState> };
  const { byState, retries } = bindTasks(asDefinition, options.taskHandlers);
  const interval = options.retryIntervalMs ?? 0;
  const retryIntervalOverrides = Object.fromEntries(Object.keys(retries).map((name) => [name, interval]));
  const machine = new asl.StateMachine(definition as ConstructorParameters<typeof asl.StateMachine>[0]);
  const execution = machine.run(input as JsonValue, {
    overrides: { taskResourceLocalHandlers: byState, retryIntervalOverrides },
    context: {
      Execution: {
        Name: options.executionName ?? `local-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
        Input: input as JsonValue,
      },
    },
  });
  const stop = () => execution.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();
  const watching = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') options.onStateEntered?.(event.state.name, event.state.input);
    }
  })();
  try {
    const output = await execution.result;
    await watching;
    return { status: 'SUCCEEDED', output };
  } catch (error) {
    await watching.catch(() => undefined);
    if (error instanceof asl.ExecutionAbortedError)
      return { status: 'FAILED', error: 'ExecutionAborted', cause: 'the execution was stopped before it ended' };
    if (error instanceof asl.ExecutionError) {
      const cause = (error as Error & { cause?: unknown }).cause;
      const inner = cause instanceof Error ? cause : undefined;
      return { status: 'FAILED', error: inner?.name ?? error.name, cause: inner?.message ?? error.message };
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}

/** The placeholder ARN a resource's token becomes in `renderedDefinition`. */
export function placeholderArn(stack: Stack, construct: IConstruct): string {
  const resource = construct.node.defaultChild ?? construct;
  const logicalId = stack.resolve((resource as unknown as { logicalId: string }).logicalId) as string;
  const type = (resource as unknown as { cfnResourceType?: string }).cfnResourceType;
  return placeholderFor(logicalId, type);
}

function placeholderFor(logicalId: string, type: string | undefined): string {
  if (type === 'AWS::Lambda::Function') return `arn:aws:lambda:us-east-1:123456789012:function:${logicalId}`;
  if (type === 'AWS::SNS::Topic') return `arn:aws:sns:us-east-1:123456789012:${logicalId}`;
  return `arn:aws:local:us-east-1:123456789012:${logicalId}`;
}

/**
 * The ASL a state machine synthesises to, with CloudFormation tokens (function and topic ARNs,
 * partition, region, account) resolved to placeholders that `placeholderArn` also gives.
 */
export function renderedDefinition(stack: Stack, stateMachine: CdkStateMachine): object {
  const template = Template.fromStack(stack).toJSON() as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const logicalId = stack.resolve(
    (stateMachine.node.defaultChild as unknown as { logicalId: string }).logicalId,
  ) as string;
  const body = template.Resources[logicalId]?.Properties?.DefinitionString;
  const resolveToken = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const token = value as Record<string, unknown>;
    if ('Fn::Join' in token) {
      const [separator, parts] = token['Fn::Join'] as [string, unknown[]];
      return parts.map(resolveToken).join(separator);
    }
    if ('Ref' in token) {
      const ref = token.Ref as string;
      const pseudo: Record<string, string> = {
        'AWS::Partition': 'aws',
        'AWS::Region': 'us-east-1',
        'AWS::AccountId': '123456789012',
        'AWS::URLSuffix': 'amazonaws.com',
      };
      return pseudo[ref] ?? placeholderFor(ref, template.Resources[ref]?.Type);
    }
    if ('Fn::GetAtt' in token) {
      const [id] = token['Fn::GetAtt'] as [string, string];
      return placeholderFor(id, template.Resources[id]?.Type);
    }
    throw new Error(`renderedDefinition cannot resolve ${JSON.stringify(token)} in the definition of ${logicalId}`);
  };
  if (body === undefined) throw new Error(`state machine ${logicalId} has no DefinitionString in its stack's template`);
  return JSON.parse(resolveToken(body)) as object;
}
