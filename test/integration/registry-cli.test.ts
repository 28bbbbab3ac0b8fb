import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DATASETS, loadDataset, trainOptionsFor } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { registryCli, registryCliEnv } from '../helpers/registry-cli';
import { tempFiles } from '../helpers/temp-files';

describe('registry CLI against a local S3 server', () => {
  let s3: TestS3;
  const files = tempFiles();
  let modelDir: string;
  let emptyDir: string;
  let ai4iDir: string;
  let env: NodeJS.ProcessEnv;

  const cli = (...argv: string[]) => registryCli(env, argv);

  beforeAll(async () => {
    s3 = await startTestS3(['cli-models']);
    env = registryCliEnv(s3, 'cli-models');
    const table = loadDataset(DATASETS.iris);
    const run = trainCandidates(table, { label: 'class', algorithms: ['lr'] });
    const { onnx, manifest } = exportModel(run, run.best, 'iris', table.sources);
    modelDir = dirname(files.write('model.onnx', Buffer.from(onnx)));
    files.write('manifest.json', JSON.stringify(manifest));
    emptyDir = join(modelDir, 'empty');
    mkdirSync(emptyDir);
    // Another model's files: what registering them as iris must not do silently.
    const ai4iTable = loadDataset(DATASETS.ai4i2020);
    const ai4iRun = trainCandidates(ai4iTable, { ...trainOptionsFor(DATASETS.ai4i2020), algorithms: ['nb'] });
    const ai4i = exportModel(ai4iRun, ai4iRun.best, 'ai4i2020', ai4iTable.sources);
    ai4iDir = join(modelDir, 'ai4i2020');
    mkdirSync(ai4iDir);
    files.write('ai4i2020/model.onnx', Buffer.from(ai4i.onnx));
    files.write('ai4i2020/manifest.json', JSON.stringify(ai4i.manifest));
  });
  afterAll(async () => {
    await s3.close();
    files.cleanup();
  });

  it('registers, promotes and reports a model with the user as actor', async () => {
    expect(await cli('register', 'iris', modelDir, '--reason', 'first')).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^registered iris v1 /),
    });
    expect(await cli('register', 'iris', modelDir)).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^registered iris v2 /),
    });
    expect(await cli('promote', 'iris', '1', '--reason', 'launch')).toMatchObject({
      code: 0,
      out: 'champion of iris: - -> v1',
    });
    expect(await cli('promote', 'iris', '2')).toMatchObject({ code: 0, out: 'champion of iris: v1 -> v2' });
    expect(await cli('promote', 'iris', '2')).toMatchObject({ code: 0, out: 'champion of iris is already v2' });

    const list = await cli('list');
    expect(list.out).toMatch(/^iris\s+2\s+v2\s+v2$/m);
    const versions = JSON.parse((await cli('versions', 'iris', '--json')).out);
    expect(versions.map((v: { version: number; aliases: string[] }) => [v.version, v.aliases])).toEqual([
      [1, []],
      [2, ['champion']],
    ]);

    expect(await cli('rollback', 'iris', '--reason', 'bad canary')).toMatchObject({
      code: 0,
      out: 'champion of iris: v2 -> v1 (rolled back)',
    });
    const history = JSON.parse((await cli('history', 'iris', '--json')).out);
    expect(
      history.map((m: { kind: string; version: number; actor: string }) => `${m.kind} v${m.version} ${m.actor}`),
    ).toEqual(['promote v1 carol', 'promote v2 carol', 'rollback v1 carol']);
    const at = JSON.parse((await cli('history', 'iris', '--at', history[1].movedAt, '--json')).out);
    expect(at).toMatchObject({ alias: 'champion', version: 2 });
    expect((await cli('history', 'iris')).out).toMatch(/rollback\s+v2\s+v1\s+carol\s+bad canary/);
  });

  it('exits 2 with a clear message for an unknown model or version', async () => {
    expect(await cli('versions', 'tulips')).toMatchObject({
      code: 2,
      err: 'no model named "tulips" in the registry s3://cli-models (models: iris)',
    });
    expect(await cli('promote', 'iris', '9')).toMatchObject({
      code: 2,
      err: 'UnknownModelError: model "iris" has no version 9',
    });
    expect(await cli('promote', 'iris', 'latest')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^<version> must be a positive whole number/),
    });
  });

  it("refuses, exit 2 and one line, a version whose schema differs from the champion's unless --allow-schema-change", async () => {
    const refused = await cli('register', 'iris', ai4iDir, '--reason', 'pumps');
    expect(refused).toMatchObject({ code: 2, out: '' });
    expect(refused.err).toMatch(
      /^SchemaMismatchError: the new iris version's features and classes differ from champion v1's: missing sepal_length \(numeric\), .*; extra Type \(categorical\), .*; extra classes 0, 1 \(--allow-schema-change --reason <why> accepts it\)$/,
    );
    expect(refused.err).not.toContain('\n');

    const registered = await cli(
      'register',
      'iris',
      ai4iDir,
      '--allow-schema-change',
      '--reason',
      'pumps replace iris',
    );
    expect(registered).toMatchObject({
      code: 0,
      out: expect.stringMatching(
        /^registered iris v3 \(.*\) \[schema changed from champion v1's: missing sepal_length \(numeric\), /,
      ),
    });

    const promote = await cli('promote', 'iris', '3');
    expect(promote).toMatchObject({
      code: 2,
      err: expect.stringMatching(
        /^SchemaMismatchError: iris v3's features and classes differ from champion v1's: missing sepal_length/,
      ),
    });
    expect(promote.err).not.toContain('\n');
    expect((await cli('list')).out).toMatch(/^iris\s+3\s+v3\s+v1$/m);

    expect(await cli('promote', 'iris', '3', '--allow-schema-change', '--reason', 'clients moved')).toMatchObject({
      code: 0,
      out: expect.stringMatching(
        /^champion of iris: v1 -> v3 \[schema changed from champion v1's: missing sepal_length \(numeric\), .*extra Type \(categorical\), /,
      ),
    });
    const history = JSON.parse((await cli('history', 'iris', '--json')).out);
    expect(history.at(-1)).toMatchObject({
      kind: 'promote',
      version: 3,
      actor: 'carol',
      reason: 'clients moved',
      schemaChange: {
        championVersion: 1,
        reason: 'clients moved',
        differences: expect.stringMatching(/^missing sepal_length/),
      },
    });
    expect((await cli('history', 'iris')).out).toMatch(
      /promote\s+v1\s+v3\s+carol\s+clients moved \[schema changed from champion v1's: missing sepal_length/,
    );
    // Back to v1: iris's own versions are now the ones that differ.
    expect(await cli('promote', 'iris', '1')).toMatchObject({
      code: 2,
      err: expect.stringMatching(
        /^SchemaMismatchError: iris v1's features and classes differ from champion v3's: missing Type \(categorical\)/,
      ),
    });
    expect(await cli('rollback', 'iris', '--reason', 'wrong model')).toMatchObject({
      code: 0,
      out: 'champion of iris: v3 -> v1 (rolled back)',
    });
  });

  it('exits 2 when asked for something it cannot do', async () => {
    expect(await cli('register', 'iris', emptyDir)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/cannot read .*model\.onnx/),
    });
    expect(await cli('frobnicate')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/unknown command "frobnicate"/),
    });
    expect(await cli('list', '--colour')).toMatchObject({ code: 2 });
    env = { ...env, MODEL_BUCKET: undefined };
    expect(await cli('list')).toMatchObject({ code: 2, err: expect.stringMatching(/^MODEL_BUCKET is not set/) });
  });
});
