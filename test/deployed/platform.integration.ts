/**
 * The whole loop on a running platform (LocalStack, AWS, or `npm start`), through its public doors
 * only: S3 uploads with the AWS SDK, the inference API over HTTP, the registry and run records read
 * back from the model bucket. Started by `npm run test:integration` (run.ts), which resolves the
 * endpoints; see docs/localstack.md.
 *
 * The tests run in order (one file, --runInBand): the prediction tests use the champion that the
 * retraining test leaves behind (or the one that was already there).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { ObjectStore } from '../../core/object-store';
import type { RunSummary } from '../../core/pipeline/contract';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { listRuns, type RunRecord } from '../../core/pipeline/runs';
import { S3ObjectStore } from '../../core/s3-object-store';
import { claimKey, findProcessedKey, runIdFor } from '../../lambdas/pipeline/keys';
import { endpointsFromEnv } from './targets';

const ROOT = join(__dirname, '..', '..');
/** The smoke model (config/models/smoke.json): iris's layout under its own prefix, so a deploy's check never touches production models or their data. */
const MODEL = 'smoke';
/** A retraining run: validate, five algorithms in parallel, evaluate, register. Minutes in an emulator. */
const RUN_TIMEOUT_MS = 10 * 60_000;
/** The inference function re-checks the champion after its model TTL (60 s by default). */
const MODEL_PICKUP_TIMEOUT_MS = 3 * 60_000;
const QUARANTINE_TIMEOUT_MS = 5 * 60_000;
const POLL_MS = 5000;
/** Generous: the first request may wait for a Lambda cold start (an emulator pulls the runtime image). */
const REQUEST_TIMEOUT_MS = 120_000;

const endpoints = endpointsFromEnv();
const s3 = new S3Client({
  region: endpoints.region,
  // Emulators: path-style addressing, and no default request checksums (s3rver predates them).
  ...(endpoints.s3Endpoint === undefined
    ? {}
    : { endpoint: endpoints.s3Endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' as const }),
});
const dataStore = new S3ObjectStore(s3, endpoints.dataBucket);
const modelStore = new S3ObjectStore(s3, endpoints.modelBucket);

const spec = loadModelSpecs(join(ROOT, 'config', 'models')).find((s) => s.name === MODEL);
if (!spec?.data.columns || !spec.contract.labelValues)
  throw new Error(`config/models/${MODEL}.json must name its columns and label values`);
const CLASSES = spec.contract.labelValues;
const FEATURES = spec.data.columns.filter((c) => c !== spec.data.label);
/** The data file the iris spec describes (no header, columns as in the spec). */
const IRIS_CSV = readFileSync(join(ROOT, 'training', 'datasets', 'iris.csv'));

/** One textbook flower per class, far from any decision boundary: a model above the gate's floor gets them right. */
const EXAMPLES = [
  { label: 'Iris-setosa', values: [5.1, 3.5, 1.4, 0.2] },
  { label: 'Iris-versicolor', values: [7.0, 3.2, 4.7, 1.4] },
  { label: 'Iris-virginica', values: [6.3, 3.3, 6.0, 2.5] },
].map(({ label, values }) => ({ label, features: Object.fromEntries(FEATURES.map((name, i) => [name, values[i]])) }));

/** The right number of columns, but no usable row: unknown labels and words where numbers belong. */
const MALFORMED_CSV =
  Array.from({ length: 40 }, (_, i) => `${i % 2 === 0 ? 'five' : '5.1'},3.5,1.4,0.2,Iris-unknown`).join('\n') + '\n';

const STAMP = new Date().toISOString().replace(/[-:.]/g, '');

/**
 * iris rows the platform has never seen: each measurement moved by a few hundredths, differently
 * on every run (the target deduplicates rows, so re-sending iris itself would train nothing).
 */
function freshIrisRows(): string {
  let state = Number.parseInt(STAMP.replace(/\D/g, '').slice(-9), 10) || 1;
  const jitter = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return ((state % 7) + 1) / 100;
  };
  return IRIS_CSV.toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const values = line.split(',');
      return [...values.slice(0, 4).map((v) => (Number(v) + jitter()).toFixed(2)), values[4]].join(',');
    })
    .join('\n');
}

// --- the inference API -------------------------------------------------------------------------

const modelInfoSchema = z.object({
  name: z.string(),
  aliases: z.record(z.string(), z.number()),
  champion: z.object({ version: z.number() }).nullable(),
  versions: z.array(z.object({ version: z.number() })),
});
type ModelInfo = z.infer<typeof modelInfoSchema>;

const predictionSchema = z.object({
  model: z.string(),
  version: z.number(),
  inferenceId: z.string(),
  predictions: z
    .array(z.object({ inferenceId: z.string(), label: z.string(), probabilities: z.record(z.string(), z.number()) }))
    .min(1),
});
type PredictResponse = z.infer<typeof predictionSchema>;

const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
});

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${endpoints.apiUrl}${path}`, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  try {
    return { status: response.status, json: JSON.parse(text) as unknown };
  } catch {
    throw new Error(
      `${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 300)}`,
    );
  }
}

/** GET /models/iris; undefined while the registry has no version of the model (404). */
async function modelInfo(): Promise<ModelInfo | undefined> {
  const { status, json } = await call('GET', `/models/${MODEL}`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET /models/${MODEL} answered ${status}: ${JSON.stringify(json)}`);
  return modelInfoSchema.parse(json);
}

const championOf = (info: ModelInfo | undefined): number | undefined => info?.champion?.version;

async function predict(body: unknown): Promise<PredictResponse> {
  const { status, json } = await call('POST', `/models/${MODEL}/predict`, body);
  if (status !== 200) throw new Error(`POST /models/${MODEL}/predict answered ${status}: ${JSON.stringify(json)}`);
  return predictionSchema.parse(json);
}

// --- waiting on the platform ----------------------------------------------------------------------

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls until `attempt` returns a value; a throw inside it ends the wait at once (a definite failure). */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T | undefined>,
  lastSeen: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await attempt();
    if (result !== undefined) return result;
    if (Date.now() >= deadline)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last seen: ${lastSeen()}`,
      );
    await sleep(POLL_MS);
  }
}

async function readJson(store: ObjectStore, key: string): Promise<unknown> {
  const object = await store.get(key);
  return object && (JSON.parse(Buffer.from(object.body).toString('utf8')) as unknown);
}

interface Upload {
  readonly key: string;
  readonly file: string;
  readonly etag: string;
  /** Run records written before this (less some clock skew) cannot be this upload's. */
  readonly notBefore: string;
}

async function upload(file: string, body: Uint8Array | string): Promise<Upload> {
  const key = `incoming/${MODEL}/${file}`;
  const notBefore = new Date(Date.now() - 60_000).toISOString();
  const { etag } = await dataStore.put(key, body, { contentType: 'text/csv' });
  return { key, file, etag, notBefore };
}

const claimSchema = z.object({ execution: z.string().min(1) });

/** The execution that handles this object version: validate claims it first thing (claims/ in the data bucket). */
async function claimedBy(upload: Upload): Promise<string | undefined> {
  const claim = claimSchema.safeParse(await readJson(dataStore, claimKey(MODEL, upload.file, upload.etag)));
  return claim.success ? claim.data.execution : undefined;
}

/**
 * This upload's run. With the claiming execution known, the run is the one named after it (its
 * summary or its failure record). Without it, the first finished run that trained on this upload's
 * processed copy (its key carries the object's ETag and file name) and ended after the upload.
 */
function runOfUpload(runs: readonly RunRecord[], upload: Upload, execution: string | undefined): RunRecord | undefined {
  if (execution !== undefined) {
    const runId = runIdFor(execution);
    return runs.find((r) => r.runId === runId || (r.status === 'finished' && r.summary.execution === execution));
  }
  return runs.find(
    (r) =>
      r.status === 'finished' &&
      r.summary.finishedAt >= upload.notBefore &&
      findProcessedKey(
        r.summary.data.files.map((f) => f.key),
        MODEL,
        upload.file,
        upload.etag,
      ) !== undefined,
  );
}

const quarantineKeys = (upload: Upload) => ({
  copy: `quarantine/${MODEL}/${upload.file}`,
  report: `quarantine/${MODEL}/${upload.file}.report.json`,
});

async function waitForRun(upload: Upload): Promise<RunSummary> {
  let execution: string | undefined;
  let seen = 'nothing yet';
  return waitFor(
    `the retraining run of ${upload.key} (a summary under runs/${MODEL}/ in ${endpoints.modelBucket})`,
    RUN_TIMEOUT_MS,
    async () => {
      execution ??= await claimedBy(upload);
      const quarantined = await readJson(dataStore, quarantineKeys(upload).report);
      if (quarantined !== undefined)
        throw new Error(`${upload.key} was quarantined instead of training: ${JSON.stringify(quarantined)}`);
      const runs = await listRuns(modelStore, MODEL);
      const run = runOfUpload(runs, upload, execution);
      seen = `claimed by ${execution ?? '(no execution yet: is the EventBridge rule delivering?)'}, ${runs.length} run record(s) of ${MODEL}, this upload's run: ${run?.status ?? 'none yet'}`;
      if (run?.status === 'failed') throw new Error(`the run of ${upload.key} failed: ${JSON.stringify(run.failure)}`);
      return run?.status === 'finished' ? run.summary : undefined;
    },
    () => seen,
  );
}

const reportSchema = z.object({
  status: z.literal('quarantine'),
  problems: z.array(z.object({ kind: z.string(), message: z.string() })).min(1),
  source: z.object({ key: z.string() }),
});

afterAll(() => s3.destroy());

describe(`the deployed platform (${endpoints.apiUrl})`, () => {
  it('answers GET /health with 200', async () => {
    const { status, json } = await call('GET', '/health');

    expect(status).toBe(200);
    expect(json).toMatchObject({ status: 'ok' });
  });

  it(`retrains on an upload under incoming/${MODEL}/ and records the gate's decision in the registry`, async () => {
    const championBefore = championOf(await modelInfo());

    const uploaded = await upload(`integration-${STAMP}.csv`, freshIrisRows());
    const summary = await waitForRun(uploaded);

    expect(summary).toMatchObject({ model: MODEL, trigger: 'upload' });
    // The run trained on this upload (its processed copy), and compared against the champion that served.
    expect(
      findProcessedKey(
        summary.data.files.map((f) => f.key),
        MODEL,
        uploaded.file,
        uploaded.etag,
      ),
    ).toBeDefined();
    expect(summary.champion?.version).toBe(championBefore);
    // iris is easy: the candidate may only tie the champion and stay a challenger. Either way the
    // registry must say what the summary says.
    expect(summary.registration.promoted).toBe(summary.decision.promote);
    const info = await modelInfo();
    expect(info?.versions.map((v) => v.version)).toContain(summary.registration.version);
    expect(info?.aliases[summary.registration.promoted ? 'champion' : 'challenger']).toBe(summary.registration.version);
    expect(championOf(info)).toBe(summary.registration.promoted ? summary.registration.version : championBefore);
  });

  it(`predicts ${MODEL} classes with the champion, picking up a new champion without a redeploy`, async () => {
    const champion = championOf(await modelInfo());
    expect(champion).toBeDefined();

    let served: number | undefined;
    const batch = await waitFor(
      `POST /models/${MODEL}/predict to serve champion v${champion}`,
      MODEL_PICKUP_TIMEOUT_MS,
      async () => {
        const answer = await predict({ instances: EXAMPLES.map((e) => e.features) });
        served = answer.version;
        return answer.version === champion ? answer : undefined;
      },
      () => `v${served ?? '?'} served`,
    );
    const single = await predict({ features: EXAMPLES[0].features });

    expect(batch.model).toBe(MODEL);
    expect(batch.predictions.map((p) => p.label)).toEqual(EXAMPLES.map((e) => e.label));
    expect(batch.predictions.map((p) => Object.keys(p.probabilities).sort())).toEqual(
      EXAMPLES.map(() => [...CLASSES].sort()),
    );
    expect(single.predictions).toHaveLength(1);
    expect(CLASSES).toContain(single.predictions[0].label);
  });

  it('takes a true label for an answer by its inference id, and refuses one for an id it never issued', async () => {
    const answer = await predict({ features: EXAMPLES[0].features });
    const accepted = await call('POST', `/models/${MODEL}/feedback`, {
      inferenceId: answer.predictions[0].inferenceId,
      label: EXAMPLES[0].label,
    });
    expect(accepted).toEqual({ status: 200, json: { model: MODEL, accepted: 1 } });
    const unknown = await call('POST', `/models/${MODEL}/feedback`, {
      inferenceId: '0190f5c2-7a1b-7c3d-8e4f-0123456789ab',
      label: EXAMPLES[0].label,
    });
    expect(unknown.status).toBe(404);
    expect(errorSchema.parse(unknown.json).error).toMatchObject({ code: 'unknown_inference_id', field: 'inferenceId' });
  });

  it('returns 400 naming the field when a feature is missing', async () => {
    const [missing] = FEATURES.slice(-1);
    const partial = Object.fromEntries(Object.entries(EXAMPLES[0].features).filter(([name]) => name !== missing));

    const { status, json } = await call('POST', `/models/${MODEL}/predict`, { features: partial });

    expect(status).toBe(400);
    expect(errorSchema.parse(json).error).toMatchObject({ code: 'missing_feature', field: `features.${missing}` });
  });

  it('quarantines a malformed upload with a report, keeps its bytes, and leaves the champion alone', async () => {
    const before = await modelInfo();

    const uploaded = await upload(`bad-${STAMP}.csv`, MALFORMED_CSV);
    const keys = quarantineKeys(uploaded);
    let seen = 'nothing yet';
    const quarantined = await waitFor(
      `${keys.copy} and ${keys.report} in ${endpoints.dataBucket}`,
      QUARANTINE_TIMEOUT_MS,
      async () => {
        const [copy, report, original] = await Promise.all([
          dataStore.get(keys.copy),
          readJson(dataStore, keys.report),
          dataStore.get(uploaded.key),
        ]);
        seen = `copy ${copy ? 'present' : 'absent'}, report ${report === undefined ? 'absent' : 'present'}, original ${original ? 'still in incoming/' : 'gone'}`;
        // The original goes only after its copy and report are written.
        return copy && report !== undefined && !original ? { copy, report } : undefined;
      },
      () => seen,
    );
    const after = await modelInfo();

    expect(Buffer.from(quarantined.copy.body).toString('utf8')).toBe(MALFORMED_CSV);
    expect(reportSchema.parse(quarantined.report).source.key).toBe(uploaded.key);
    expect(championOf(after)).toBe(championOf(before));
    expect(after?.versions.map((v) => v.version)).toEqual(before?.versions.map((v) => v.version));
  });
});
