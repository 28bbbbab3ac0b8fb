import type { ObjectStore, StoredObject } from '../../core/object-store';
import {
  claimKey,
  failureKey,
  quarantineKey,
  quarantineReportKey,
  runIdFor,
  summaryKey,
} from '../../lambdas/pipeline/keys';
import { describeOutcome, followUpload, type UploadedFile, type UploadOutcome } from '../../local/upload-outcome';

/** Objects by key; only `get` is used by followUpload. */
function store(objects: Record<string, unknown> = {}): ObjectStore & { set(key: string, value: unknown): void } {
  const map = new Map(Object.entries(objects));
  const unused = () => Promise.reject(new Error('not used by followUpload'));
  return {
    set: (key, value) => map.set(key, value),
    get: async (key): Promise<StoredObject | undefined> =>
      map.has(key) ? { body: Buffer.from(JSON.stringify(map.get(key))), etag: 'e' } : undefined,
    getIfChanged: unused,
    put: unused,
    list: unused,
    listPrefixes: unused,
    delete: unused,
  };
}

const UPLOAD: UploadedFile = {
  model: 'iris',
  file: 'new.csv',
  etag: '"abc123"',
  uploadedAt: new Date('2026-03-01T12:00:00Z'),
};
const EXECUTION = 'new-csv-0123';
const CLAIM = { [claimKey('iris', 'new.csv', '"abc123"')]: { execution: EXECUTION } };
const summary = (finishedAt: string, registration: object) => ({
  finishedAt,
  decision: { promote: true, reason: 'candidate 0.97 beats champion 0.95 by more than 0.005' },
  registration,
});

describe('followUpload: an upload to its outcome through the buckets', () => {
  test('a run that failed is exit 1, with its error and where to read more', async () => {
    const models = store({
      [failureKey('iris', runIdFor(EXECUTION))]: {
        failedAt: '2026-03-01T12:01:00Z',
        error: { error: 'States.TaskFailed', cause: 'out of memory' },
      },
    });
    const outcome = await followUpload(UPLOAD, { dataStore: store(CLAIM), modelStore: models, pollMs: 1 });
    expect(describeOutcome(outcome, UPLOAD, 'mlops-data')).toEqual({
      lines: [`run ${EXECUTION} failed: States.TaskFailed: out of memory (npm run registry -- runs iris)`],
      exitCode: 1,
    });
  });

  test('a new version is exit 0 whether promoted or kept as challenger', async () => {
    const promoted = await followUpload(UPLOAD, {
      dataStore: store(CLAIM),
      modelStore: store({
        [summaryKey('iris', runIdFor(EXECUTION))]: summary('2026-03-01T12:02:00Z', {
          version: 4,
          alias: 'champion',
          promoted: true,
        }),
      }),
    });
    expect(describeOutcome(promoted, UPLOAD, 'mlops-data')).toEqual({
      lines: [
        `run ${EXECUTION} finished: v4 registered and promoted: iris's champion, now serving`,
        'gate: candidate 0.97 beats champion 0.95 by more than 0.005',
      ],
      exitCode: 0,
    });
    const kept = describeOutcome(
      {
        status: 'finished',
        execution: EXECUTION,
        summary: summary('2026-03-01T12:02:00Z', { version: 5, alias: 'challenger', promoted: false }),
      } as unknown as UploadOutcome,
      UPLOAD,
      'mlops-data',
    );
    expect(kept).toMatchObject({
      lines: [`run ${EXECUTION} finished: v5 registered as challenger, not promoted`, expect.any(String)],
      exitCode: 0,
    });
  });

  test('a run that ended before the upload began is named as an earlier one (the same bytes under the same name)', async () => {
    const outcome = await followUpload(UPLOAD, {
      dataStore: store(CLAIM),
      modelStore: store({
        [summaryKey('iris', runIdFor(EXECUTION))]: summary('2026-02-01T08:00:00Z', {
          version: 1,
          alias: 'champion',
          promoted: true,
        }),
      }),
    });
    expect(describeOutcome(outcome, UPLOAD, 'mlops-data').lines[0]).toBe(
      `run ${EXECUTION} finished (an earlier run: these bytes were uploaded under this name before): v1 registered and promoted: iris's champion, now serving`,
    );
  });

  test("a quarantine of this ETag is exit 1; one of another upload of that name is not this one's", async () => {
    const key = quarantineKey('iris', 'new.csv');
    const other = store({
      [quarantineReportKey(key)]: { source: { etag: 'ffff' }, problems: [{ message: 'old problem' }] },
    });
    expect(await followUpload(UPLOAD, { dataStore: other, modelStore: store(), timeoutMs: 0 })).toEqual({
      status: 'timed-out',
      after: 0,
    });

    const mine = store({
      [quarantineReportKey(quarantineKey('iris', 'new.csv', 'abc123'))]: {
        source: { etag: 'abc123' },
        problems: [{ message: '3 usable row(s), the contract needs at least 30' }],
      },
    });
    const outcome = await followUpload(UPLOAD, { dataStore: mine, modelStore: store() });
    expect(describeOutcome(outcome, UPLOAD, 'mlops-data')).toEqual({
      lines: [
        "refused: the file breaks iris's data contract and was moved to s3://mlops-data/quarantine/iris/abc123-new.csv (report: quarantine/iris/abc123-new.csv.report.json)",
        '  3 usable row(s), the contract needs at least 30',
      ],
      exitCode: 1,
    });
  });

  test('waits for the claim and then the record, naming the execution once; gives up at the timeout with exit 1', async () => {
    const data = store();
    const models = store();
    const claimed: string[] = [];
    let polls = 0;
    const following = followUpload(UPLOAD, {
      dataStore: data,
      modelStore: models,
      pollMs: 5,
      onClaimed: (e) => claimed.push(e),
    });
    const timer = setInterval(() => {
      polls += 1;
      if (polls === 3) data.set(claimKey('iris', 'new.csv', 'abc123'), { execution: EXECUTION });
      if (polls === 6)
        models.set(
          summaryKey('iris', runIdFor(EXECUTION)),
          summary('2026-03-01T12:02:00Z', { version: 2, alias: 'champion', promoted: true }),
        );
    }, 5);
    const outcome = await following;
    clearInterval(timer);
    expect(outcome).toMatchObject({ status: 'finished', execution: EXECUTION });
    expect(claimed).toEqual([EXECUTION]);

    const stuck = await followUpload(UPLOAD, {
      dataStore: store(CLAIM),
      modelStore: store(),
      timeoutMs: 20,
      pollMs: 5,
    });
    expect(describeOutcome(stuck, UPLOAD, 'mlops-data')).toEqual({
      lines: [`no outcome after 0 s (run ${EXECUTION} is still going); see the npm start terminal`],
      exitCode: 1,
    });
  });
});
