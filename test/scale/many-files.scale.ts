import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCsv } from '../../bench/generated-data';
import type { StepRequest } from '../../core/pipeline/contract';
import { type ModelSpec, parseModelSpec } from '../../core/pipeline/model-spec';
import { ModelRegistry } from '../../core/registry/registry';
import { OnnxModelValidator } from '../../core/registry/onnx-validator';
import { createStepRunner } from '../../lambdas/pipeline/runner';
import { memoryRecorder } from '../../lambdas/shared/metrics';
import { SNS_PUBLISH, synthesisedPipeline } from '../../local/local-pipeline';
import { NO_MANAGED_TRAINING } from '../helpers/lambda-only';
import { executionNameFor, LocalExecutions } from '../../local/pipeline-executions';
import { startTestS3, type TestS3 } from '../helpers/local-s3';

/**
 * A model that has received 50 uploads of 10,000 rows: the retraining run that follows the 50th
 * prepares a snapshot of all 50 processed files (500,000 rows) and trains, evaluates and registers
 * on it, through the synthesised state machine, real S3 server, real training and registry.
 * The first 49 uploads go through the Validate step alone (what each upload's run does before it
 * trains), so the suite pays for one training, not fifty.
 */

const MODEL = 'machines';
const SPEC: ModelSpec = parseModelSpec(
  JSON.stringify({
    name: MODEL,
    data: {
      delimiter: ',',
      label: 'failure',
      types: { type: 'categorical', f1: 'numeric', f2: 'numeric', f3: 'numeric', f4: 'numeric', f5: 'numeric' },
    },
    contract: {
      requiredColumns: ['type', 'f1', 'f2', 'f3', 'f4', 'f5', 'failure'],
      labelValues: ['0', '1'],
      minRows: 1000,
      maxMissingFraction: 0.1,
      onBadRow: 'drop',
      maxDroppedFraction: 0.02,
    },
    training: { algorithms: ['lr'], seed: 42, selectionMetric: 'macroF1' },
    gate: { metric: 'macroF1', margin: 0.005, floor: 0.5 },
  }),
  'machines.json',
);

let store: TestS3;
let scratch: string;

beforeAll(async () => {
  store = await startTestS3(['data', 'models']);
  scratch = mkdtempSync(join(tmpdir(), 'many-files-'));
});

afterAll(async () => {
  await store.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('the run after 50 uploads of 10,000 rows trains on all 500,000 and promotes a version', async () => {
  const modelStore = store.store('models');
  const registry = new ModelRegistry(modelStore, new OnnxModelValidator());
  const steps = createStepRunner({
    dataStore: store.store('data'),
    modelStore,
    registry,
    specs: new Map([[MODEL, SPEC]]),
    clock: () => new Date(),
    tmpDir: scratch,
    dataBucket: 'data',
    recorder: memoryRecorder(),
  });
  const upload = async (i: number) => {
    const key = `incoming/${MODEL}/part-${String(i).padStart(2, '0')}.csv`;
    const { etag } = await store.store('data').put(key, generateCsv(10_000, 1000 + i));
    return { key, etag };
  };

  for (let i = 0; i < 49; i++) {
    const { key, etag } = await upload(i);
    const input = {
      model: MODEL,
      trigger: 'upload',
      bucket: 'data',
      key,
      etag,
      execution: `validate-only-${i}`,
      startedAt: new Date().toISOString(),
    };
    const validation = (await steps({ step: 'validate', input } as unknown as StepRequest)) as {
      status: string;
      rows: number;
    };
    expect(validation).toMatchObject({ status: 'clean', rows: 10_000 });
  }

  const { definition, functionArn } = synthesisedPipeline([SPEC]);
  const executions = new LocalExecutions(definition, {
    taskHandlers: {
      [functionArn]: (payload) => steps(payload as unknown as StepRequest),
      ...NO_MANAGED_TRAINING,
      [SNS_PUBLISH]: async () => ({ MessageId: '1' }),
    },
  });
  const { key, etag } = await upload(49);
  const started = executions.start(
    { trigger: 'upload', bucket: 'data', key, etag },
    executionNameFor({ bucket: 'data', key, etag }),
  );
  if (!started.started) throw new Error(`execution ${started.name} was not started`);
  const result = (await started.result) as {
    status: string;
    output?: { prepare: { files: number; rows: number }; registration: { version: number; alias: string } };
    error?: unknown;
  };
  expect(result.error).toBeUndefined();
  expect(result.status).toBe('SUCCEEDED');
  expect(result.output?.prepare).toMatchObject({ files: 50, rows: 500_000 });
  expect(result.output?.registration).toMatchObject({ version: 1, alias: 'champion' });
});
