import {
  algorithmLimit,
  DatasetTooLargeError,
  REFERENCE_RESOURCES,
  type StepResources,
} from '../../core/pipeline/training-capacity';
import { chooseTrainingEngine, type EngineRequest } from '../../core/pipeline/training-engine';
import { parseModelSpec } from '../../core/pipeline/model-spec';
import { managedResourcesFrom, parseTrainItem } from '../../lambdas/pipeline/managed-train';

/** 16 GiB for 4 hours, no 15-minute cap: the managed task's defaults. */
const MANAGED: StepResources = { memoryMb: 16384, timeoutSeconds: 14400, maxSeconds: 14400 };
/** An algorithm's measured limit in cells (training-capacity.json) on the given resources. */
const limit = (algorithm: string, resources: StepResources = REFERENCE_RESOURCES): number =>
  algorithmLimit(algorithm, resources)!.maxCells;
/** A dataset of 6 feature columns with about this many cells. */
const ofCells = (cells: number) => ({ rows: Math.ceil(cells / 6), featureColumns: 6 });
const small = { rows: 10_000, featureColumns: 6 };
const beyondLambda = ofCells(1.5 * limit('lr'));
const beyondManaged = ofCells(2 * limit('lr', MANAGED));

const request = (overrides: Partial<EngineRequest>): EngineRequest => ({
  model: 'big',
  size: small,
  algorithms: ['lr'],
  lambda: REFERENCE_RESOURCES,
  managed: MANAGED,
  ...overrides,
});

describe('chooseTrainingEngine', () => {
  test('auto keeps data that fits one function on Lambda', () => {
    expect(chooseTrainingEngine(request({})).engine).toBe('lambda');
  });

  test('the sizes below are what their names say', () => {
    expect(limit('lr')).toBeGreaterThan(small.rows * 6);
    expect(limit('lr', MANAGED)).toBeGreaterThan(beyondLambda.rows * 6);
  });

  test('auto sends data beyond one function to the managed task', () => {
    const choice = chooseTrainingEngine(request({ size: beyondLambda }));
    expect(choice.engine).toBe('managed');
    expect(choice.reason).toMatch(/larger than one training function/);
  });

  test('auto decides on the smallest limit of the spec: rf moves a dataset lr alone keeps on Lambda', () => {
    expect(limit('rf')).toBeLessThan(limit('lr'));
    const size = ofCells((limit('rf') + limit('lr')) / 2); // lr fits, rf does not
    expect(chooseTrainingEngine(request({ size, algorithms: ['lr'] })).engine).toBe('lambda');
    expect(chooseTrainingEngine(request({ size, algorithms: ['lr', 'rf'] })).engine).toBe('managed');
  });

  test('"managed" trains on the task even when the data is small', () => {
    expect(chooseTrainingEngine(request({ requested: 'managed' }))).toEqual({
      engine: 'managed',
      reason: 'training.engine is "managed"',
    });
  });

  test('"lambda" refuses data beyond one function instead of moving it', () => {
    expect(() => chooseTrainingEngine(request({ requested: 'lambda', size: beyondLambda }))).toThrow(
      DatasetTooLargeError,
    );
    expect(() => chooseTrainingEngine(request({ requested: 'lambda', size: beyondLambda }))).toThrow(
      /training.engine is "lambda": the training data is too large for one training step/,
    );
  });

  test('fails with DatasetTooLargeError for data beyond the managed task too, naming its size', () => {
    expect(() => chooseTrainingEngine(request({ size: beyondManaged }))).toThrow(
      /on the managed training task \(16384 MB, 14400 s\): the training data is too large/,
    );
  });

  test('without a managed task, data beyond one function is refused as before, and "managed" says none is deployed', () => {
    expect(() => chooseTrainingEngine(request({ size: beyondLambda, managed: undefined }))).toThrow(
      /the training data is too large for one training step/,
    );
    expect(() => chooseTrainingEngine(request({ requested: 'managed', managed: undefined }))).toThrow(
      /no managed training task \(platform.pipeline.managedTraining\)/,
    );
  });

  test('the managed task is not held to 15 minutes: the same time-bound data that a 15-minute task refuses trains on a 4-hour one', () => {
    // nb with memory to spare: time binds, so data half again past its 15-minute limit fits in 4 hours.
    const task = (seconds: number): StepResources => ({
      memoryMb: 122_880,
      timeoutSeconds: seconds,
      maxSeconds: seconds,
    });
    expect(algorithmLimit('nb', task(900))?.bound).toBe('time');
    const size = ofCells(1.5 * limit('nb', task(900)));
    expect(limit('nb', task(14_400))).toBeGreaterThan(size.rows * 6);
    expect(() => chooseTrainingEngine(request({ size, algorithms: ['nb'], managed: task(900) }))).toThrow(
      /nb at most [\d,]+ \(its 720 s share of a 900 s step\)/,
    );
    expect(chooseTrainingEngine(request({ size, algorithms: ['nb'], managed: task(14_400) })).engine).toBe('managed');
  });
});

describe('training.engine in a model spec', () => {
  const spec = (engine: unknown) =>
    JSON.stringify({
      name: 'big',
      data: { label: 'y' },
      contract: { minRows: 1, onBadRow: 'drop' },
      training: { selectionMetric: 'macroF1', engine },
      gate: { metric: 'macroF1', margin: 0, floor: 0.5 },
    });
  const parse = (engine: unknown) => parseModelSpec(spec(engine), 'config/models/big.json');

  test('accepts lambda, managed and auto', () => {
    for (const engine of ['lambda', 'managed', 'auto']) expect(parse(engine).training.engine).toBe(engine);
  });

  test('refuses anything else, naming the field and the choices', () => {
    expect(() => parse('fargate')).toThrow(/training\.engine.*must be one of lambda, managed, auto/s);
  });
});

describe('managedResourcesFrom (the pipeline function environment)', () => {
  test('none without MANAGED_TRAINING_MEMORY_MB; the task timeout is its limit otherwise', () => {
    expect(managedResourcesFrom({})).toBeUndefined();
    expect(
      managedResourcesFrom({ MANAGED_TRAINING_MEMORY_MB: '16384', MANAGED_TRAINING_TIMEOUT_SECONDS: '14400' }),
    ).toEqual(MANAGED);
  });

  test('fails naming both variables when one is not a number', () => {
    expect(() => managedResourcesFrom({ MANAGED_TRAINING_MEMORY_MB: '16384' })).toThrow(
      /MANAGED_TRAINING_MEMORY_MB and MANAGED_TRAINING_TIMEOUT_SECONDS must be positive numbers/,
    );
  });
});

describe('parseTrainItem (the managed task input)', () => {
  const item = { model: 'big', runId: 'r1', dataManifestKey: 'runs/big/r1/data.json', seed: 42, algorithm: 'lr' };

  test('reads the item the state machine renders', () => {
    expect(parseTrainItem(JSON.stringify(item))).toEqual(item);
  });

  test('names what is missing or malformed', () => {
    expect(() => parseTrainItem(undefined)).toThrow(/TRAIN_ITEM must be set/);
    expect(() => parseTrainItem('{')).toThrow(/TRAIN_ITEM is not JSON/);
    expect(() => parseTrainItem(JSON.stringify({ ...item, seed: '42', runId: '' }))).toThrow(/malformed runId, seed/);
  });
});
