import { createHash } from 'node:crypto';
import { type RunOptions, type RunResult, runStateMachine } from './state-machine';

/** What identifies one uploaded object version: S3 delivers its event at least once, in any order. */
export interface UploadedObject {
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
}

/**
 * The execution name for an upload: the same object version always gets the same name, and
 * Step Functions (Standard) refuses a second execution with a name it has seen, so a duplicate
 * event starts nothing. Names allow 1-80 characters of [A-Za-z0-9-_].
 */
export function executionNameFor(object: UploadedObject): string {
  const digest = createHash('sha256')
    .update(`${object.bucket}/${object.key}#${object.etag}`)
    .digest('hex')
    .slice(0, 24);
  const file = (object.key.split('/').pop() ?? 'upload').replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40);
  return `${file}-${digest}`;
}

export type StartResult =
  | { readonly started: true; readonly name: string; readonly result: Promise<RunResult> }
  | { readonly started: false; readonly name: string };

/**
 * Starts executions of one state machine definition locally, with Step Functions' name
 * semantics: a name already used is refused (ExecutionAlreadyExists), never run twice.
 */
export class LocalExecutions {
  private readonly names = new Set<string>();

  constructor(
    private readonly definition: object,
    private readonly options: Omit<RunOptions, 'executionName' | 'onStateEntered'> & {
      /** Called as each state of any execution is entered. */
      readonly onStateEntered?: (execution: string, state: string) => void;
    },
  ) {}

  start(input: object, name: string): StartResult {
    if (this.names.has(name)) return { started: false, name };
    this.names.add(name);
    const { onStateEntered, ...options } = this.options;
    const entered = onStateEntered ? (state: string) => onStateEntered(name, state) : undefined;
    return {
      started: true,
      name,
      result: runStateMachine(this.definition, input, { ...options, executionName: name, onStateEntered: entered }),
    };
  }
}
