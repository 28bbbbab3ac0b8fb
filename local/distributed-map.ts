/**
 * The part of a Distributed Map the local ASL interpreter (aws-local-stepfunctions 3.0.0) lacks,
 * supplied faithfully enough to run a CDK-synthesised definition unchanged in what it means.
 *
 * The interpreter runs a Map with ProcessorConfig.Mode DISTRIBUTED as an inline Map over an
 * array in its input: it ignores ItemReader (so the Map fails, "Input of Map state must be an
 * array"), ItemBatcher, ToleratedFailure* and ResultWriter. This adapter replaces each top-level
 * Distributed Map state with a Task state bound to a local handler that does what the Map does
 * in AWS, keeping the state's name, InputPath, ResultSelector, ResultPath, OutputPath, Retry,
 * Catch and Next/End (which the interpreter applies to the Task exactly as to a Map):
 *   - ItemReader: its Parameters (Bucket, Key, with JSONPath) are rendered against the state's
 *     input by the interpreter itself; the object is read from the local S3 server; InputType
 *     JSON (an array) and JSONL are supported; MaxItems is applied.
 *   - ItemBatcher: items grouped by MaxItemsPerBatch (and MaxInputBytesPerBatch, counting each
 *     item's JSON), each child getting { BatchInput, Items } as in AWS.
 *   - ItemProcessor: each child is its own execution of the processor's states by the same
 *     interpreter, at most MaxConcurrency at once (0 = all at once).
 *   - ToleratedFailurePercentage / ToleratedFailureCount: exceeded -> the state fails with
 *     States.ExceedToleratedFailureThreshold, as in AWS.
 *   - Output: the array of the children's outputs, in item order (AWS's without a ResultWriter).
 * Not supported (refused when the definition is built, never silently ignored): ItemSelector,
 * ItemsPath, Parameters on the Map, ResultWriter, the CSV and MANIFEST readers, S3 object
 * listings as readers, JSONata, and Distributed Maps nested inside other states.
 */
import { type JsonValue, runStateMachine, type TaskHandler } from './state-machine';

interface MapState {
  readonly Type: string;
  readonly ItemProcessor?: {
    readonly ProcessorConfig?: { readonly Mode?: string };
    readonly StartAt: string;
    readonly States: Record<string, unknown>;
  };
  readonly ItemReader?: {
    readonly Resource: string;
    readonly ReaderConfig?: { readonly InputType?: string; readonly MaxItems?: number };
    readonly Parameters?: Record<string, unknown>;
  };
  readonly ItemBatcher?: {
    readonly MaxItemsPerBatch?: number;
    readonly MaxInputBytesPerBatch?: number;
    readonly BatchInput?: Record<string, unknown>;
  };
  readonly MaxConcurrency?: number;
  readonly ToleratedFailurePercentage?: number;
  readonly ToleratedFailureCount?: number;
  readonly [other: string]: unknown;
}

class ExceedToleratedFailureThresholdError extends Error {
  override readonly name = 'States.ExceedToleratedFailureThreshold';
}

export interface DistributedMapOptions {
  /** Reads an object of the local S3 server as text. */
  readonly readObject: (bucket: string, key: string) => Promise<string>;
  /** The children's Task handlers (by Resource), as for any definition. */
  readonly taskHandlers: Readonly<Record<string, TaskHandler>>;
  readonly retryIntervalMs?: number;
  /** Called as each child starts and ends (progress). */
  readonly onChild?: (event: {
    readonly map: string;
    readonly index: number;
    readonly of: number;
    readonly status: 'started' | 'succeeded' | 'failed';
  }) => void;
}

const UNSUPPORTED = [
  'ItemSelector',
  'ItemsPath',
  'Parameters',
  'ResultWriter',
  'ItemSelectorPath',
  'QueryLanguage',
  'Arguments',
];
/** The Map fields the replacing Task keeps, which the interpreter applies to a Task as AWS does to the Map. */
const KEPT = ['InputPath', 'OutputPath', 'ResultPath', 'ResultSelector', 'Retry', 'Catch', 'Next', 'End', 'Comment'];

const localMapResource = (state: string) =>
  `arn:aws:lambda:us-east-1:123456789012:function:LocalDistributedMap-${state.replace(/[^A-Za-z0-9-_]/g, '-')}`;

/** The definition with each Distributed Map replaced by a Task, and the handlers that run them. */
export function withLocalDistributedMaps(
  definition: object,
  options: DistributedMapOptions,
): { definition: object; taskHandlers: Record<string, TaskHandler> } {
  const states = (definition as { States: Record<string, MapState> }).States;
  const rewritten: Record<string, unknown> = {};
  const handlers: Record<string, TaskHandler> = { ...options.taskHandlers };
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== 'Map' || state.ItemProcessor?.ProcessorConfig?.Mode !== 'DISTRIBUTED') {
      rewritten[name] = state;
      continue;
    }
    const unsupported = UNSUPPORTED.filter((field) => field in state);
    if (unsupported.length > 0)
      throw new Error(
        `Distributed Map "${name}" uses ${unsupported.join(', ')}, which the local adapter does not run (local/distributed-map.ts)`,
      );
    const reader = state.ItemReader;
    if (!reader || reader.Resource !== 'arn:aws:states:::s3:getObject')
      throw new Error(`Distributed Map "${name}": only an ItemReader over one S3 object (s3:getObject) runs locally`);
    const inputType = reader.ReaderConfig?.InputType ?? 'JSON';
    if (inputType !== 'JSON' && inputType !== 'JSONL')
      throw new Error(
        `Distributed Map "${name}": ItemReader InputType ${inputType} does not run locally (JSON and JSONL do)`,
      );
    const resource = localMapResource(name);
    const kept = Object.fromEntries(KEPT.filter((k) => k in state).map((k) => [k, state[k]]));
    rewritten[name] = {
      Type: 'Task',
      Resource: resource,
      // The interpreter renders these against the state's input, as AWS renders the reader's and batcher's.
      Parameters: {
        Reader: reader.Parameters ?? {},
        ...(state.ItemBatcher?.BatchInput ? { BatchInput: state.ItemBatcher.BatchInput } : {}),
      },
      ...kept,
    };
    handlers[resource] = (params) => runMap(name, state, params as unknown as MapParams, handlers, options);
  }
  return { definition: { ...definition, States: rewritten }, taskHandlers: handlers };
}

interface MapParams {
  readonly Reader: { readonly Bucket?: string; readonly Key?: string };
  readonly BatchInput?: JsonValue;
}

function parseItems(name: string, text: string, inputType: string): JsonValue[] {
  if (inputType === 'JSONL')
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as JsonValue);
  const items = JSON.parse(text) as unknown;
  if (!Array.isArray(items)) throw new Error(`Distributed Map "${name}": the ItemReader's object is not a JSON array`);
  return items as JsonValue[];
}

function batches(items: JsonValue[], batcher: MapState['ItemBatcher'], batchInput: JsonValue | undefined): JsonValue[] {
  if (!batcher) return items;
  const maxItems = batcher.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const maxBytes = batcher.MaxInputBytesPerBatch ?? 256 * 1024;
  const out: JsonValue[] = [];
  let current: JsonValue[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      out.push(batchInput === undefined ? { Items: current } : { BatchInput: batchInput, Items: current });
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0)
    out.push(batchInput === undefined ? { Items: current } : { BatchInput: batchInput, Items: current });
  return out;
}

async function runMap(
  name: string,
  state: MapState,
  params: MapParams,
  handlers: Readonly<Record<string, TaskHandler>>,
  options: DistributedMapOptions,
): Promise<JsonValue[]> {
  const { Bucket, Key } = params.Reader;
  if (typeof Bucket !== 'string' || typeof Key !== 'string')
    throw new Error(`Distributed Map "${name}": the ItemReader's Bucket and Key must render to strings`);
  const reader = state.ItemReader as NonNullable<MapState['ItemReader']>;
  let items = parseItems(name, await options.readObject(Bucket, Key), reader.ReaderConfig?.InputType ?? 'JSON');
  if (reader.ReaderConfig?.MaxItems) items = items.slice(0, reader.ReaderConfig.MaxItems);
  const inputs = batches(items, state.ItemBatcher, params.BatchInput);
  const processor = state.ItemProcessor as NonNullable<MapState['ItemProcessor']>;
  const child = { StartAt: processor.StartAt, States: processor.States };
  const concurrency = state.MaxConcurrency && state.MaxConcurrency > 0 ? state.MaxConcurrency : inputs.length;
  const results: JsonValue[] = new Array<JsonValue>(inputs.length).fill(null);
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const index = next++;
      options.onChild?.({ map: name, index, of: inputs.length, status: 'started' });
      const result = await runStateMachine(child, inputs[index], {
        taskHandlers: handlers,
        retryIntervalMs: options.retryIntervalMs,
        executionName: `${name}-${index}`,
      });
      if (result.status === 'SUCCEEDED') results[index] = result.output as JsonValue;
      else {
        failed++;
        results[index] = { Error: result.error, Cause: result.cause ?? '' };
      }
      options.onChild?.({
        map: name,
        index,
        of: inputs.length,
        status: result.status === 'SUCCEEDED' ? 'succeeded' : 'failed',
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, inputs.length) }, worker));
  // As in AWS: each threshold given is a limit and exceeding either fails the Map; with none, any failure does.
  const percent = state.ToleratedFailurePercentage;
  const count = state.ToleratedFailureCount;
  const exceeded =
    failed > 0 &&
    ((percent === undefined && count === undefined) ||
      (percent !== undefined && (failed / inputs.length) * 100 > percent) ||
      (count !== undefined && failed > count));
  if (exceeded) {
    const first = results.find((r) => r !== null && typeof r === 'object' && 'Error' in r) as {
      Error: string;
      Cause: string;
    };
    throw new ExceedToleratedFailureThresholdError(
      `${failed} of ${inputs.length} child executions failed (tolerated: ${[percent === undefined ? '' : `${percent}%`, count === undefined ? '' : `${count}`].filter(Boolean).join(' and ') || 'none'}); first: ${first.Error}: ${first.Cause}`,
    );
  }
  return results;
}
