import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseDuration } from '../../core/registry/routing-cli';
import { rolloutsPrefix } from '../../core/registry/routing';
import { DATASETS, loadDataset } from '../../training/datasets/catalog';
import { exportModel } from '../../training/export';
import { trainCandidates } from '../../training/train';
import { startTestS3, type TestS3 } from '../helpers/local-s3';
import { registryCli, registryCliEnv } from '../helpers/registry-cli';
import { tempFiles } from '../helpers/temp-files';

/** The registry CLI's canary and shadow commands against a local S3 server, with real iris models. */
describe('registry CLI: canary and shadow', () => {
  let s3: TestS3;
  const files = tempFiles();
  let env: NodeJS.ProcessEnv;

  const cli = (...argv: string[]) => registryCli(env, argv);

  beforeAll(async () => {
    s3 = await startTestS3(['cli-routing']);
    env = registryCliEnv(s3, 'cli-routing');
    const root = dirname(files.write('README', 'models the tests register'));
    const dir = (name: string) => join(root, name);
    const table = loadDataset(DATASETS.iris);
    for (const algorithm of ['lr', 'nb'] as const) {
      const run = trainCandidates(table, { label: 'class', algorithms: [algorithm] });
      const { onnx, manifest } = exportModel(run, run.best, 'iris', table.sources);
      mkdirSync(dir(algorithm));
      files.write(`${algorithm}/model.onnx`, Buffer.from(onnx));
      files.write(`${algorithm}/manifest.json`, JSON.stringify(manifest));
      // The same model with a feature renamed: what the champion's clients could not call.
      if (algorithm === 'lr') {
        mkdirSync(dir('renamed'));
        files.write('renamed/model.onnx', Buffer.from(onnx));
        // Without its baseline, which names the old feature (the registry would refuse that instead).
        files.write(
          'renamed/manifest.json',
          JSON.stringify({
            ...manifest,
            baseline: undefined,
            features: manifest.features.map((f) => (f.name === 'petal_width' ? { ...f, name: 'petal_w' } : f)),
          }),
        );
      }
    }
    // v1-v4: iris as lr, nb, lr, nb; v5: the renamed feature; v1 the champion.
    const steps = [
      ...['lr', 'nb', 'lr', 'nb'].map((name) => ['register', 'iris', dir(name)]),
      ['register', 'iris', dir('renamed'), '--allow-schema-change', '--reason', 'test'],
      ['promote', 'iris', '1', '--reason', 'launch'],
    ];
    for (const argv of steps) {
      const { code, err } = await cli(...argv);
      if (code !== 0) throw new Error(`setup failed: ${argv.join(' ')}: ${err}`);
    }
  });
  afterAll(async () => {
    await s3.close();
    files.cleanup();
  });

  it('starts a manual canary, shows it in status, refuses a second one (exit 1) and aborts it', async () => {
    const started = await cli('canary', 'start', 'iris', '2', '--weight', '10', '--reason', 'try nb');
    expect(started).toMatchObject({
      code: 0,
      out: expect.stringMatching(
        /^canary of iris: v2 at 10% of callers \(rollout iris-\d{8}T\d{6}Z-[0-9a-f]{6}\), champion v1$/,
      ),
    });

    const status = await cli('canary', 'status', 'iris');
    expect(status.out).toMatch(
      /^iris: champion v1\ncanary: v2 at 10% of callers \(rollout iris-[^,]+, manual\), over champion v1, since /,
    );
    expect(status.out).toMatch(/last change: .* by carol: try nb/);
    expect(status.out).toMatch(/canary-start\s+v1\s+v2 canary 10%\s+carol\s+try nb \(rollout iris-/);
    expect(JSON.parse((await cli('canary', 'status', 'iris', '--json')).out)).toMatchObject({
      model: 'iris',
      champion: 1,
      routing: { canary: { version: 2, weight: 10 } },
      history: [{ action: 'canary-start', version: 2 }],
    });

    const second = await cli('canary', 'start', 'iris', '3', '--weight', '20');
    expect(second).toMatchObject({
      code: 1,
      out: '',
      err: expect.stringMatching(
        /^RoutingConflictError: iris already has a canary: v2 at 10% \(rollout iris-.*\); abort it first$/,
      ),
    });

    expect(await cli('canary', 'abort', 'iris', '--reason', 'error rate up')).toMatchObject({
      code: 0,
      out: 'canary v2 of iris aborted: champion v1 answers every caller; challenger -> v2',
    });
    expect(await cli('canary', 'abort', 'iris')).toMatchObject({
      code: 0,
      out: 'iris has no canary running: nothing to abort',
    });
    expect((await cli('canary', 'status', 'iris')).out).toMatch(
      /^iris: champion v1\nno canary, no shadow: the champion answers every request\n/,
    );
  });

  it('starts a planned rollout (request written) and promotes it', async () => {
    const started = await cli(
      'canary',
      'start',
      'iris',
      '3',
      '--plan',
      '5,25,100',
      '--bake',
      '10m',
      '--min-requests',
      '50',
    );
    expect(started).toMatchObject({
      code: 0,
      out: expect.stringMatching(
        /^canary of iris: v3 at 5% of callers .*; the rollout moves it through 5,25,100%, 10m per step$/,
      ),
    });
    expect(await s3.store('cli-routing').list(rolloutsPrefix('iris'))).toHaveLength(1);
    expect((await cli('canary', 'status', 'iris')).out).toMatch(
      /step 1 of 5,25,100% \(bake 10m, at least 50 requests per variant\)/,
    );

    expect(await cli('canary', 'promote', 'iris', '--reason', 'looks good')).toMatchObject({
      code: 0,
      out: 'champion of iris: v1 -> v3 (canary promoted)',
    });
    expect(await cli('canary', 'promote', 'iris')).toMatchObject({
      code: 1,
      err: 'RoutingConflictError: iris has no canary to promote',
    });
  });

  it('refuses (exit 1) a promotion when the champion moved since the canary started', async () => {
    expect((await cli('canary', 'start', 'iris', '4', '--weight', '50')).code).toBe(0);
    expect((await cli('promote', 'iris', '2', '--reason', 'hotfix')).code).toBe(0);
    expect((await cli('canary', 'status', 'iris')).out).toMatch(
      /the champion has moved since the canary started: promoting it will be refused; abort it/,
    );
    expect(await cli('canary', 'promote', 'iris')).toMatchObject({
      code: 1,
      err: 'AliasMovedError: alias "champion" points at v2, not v3 as the caller expected',
    });
    expect((await cli('canary', 'abort', 'iris')).code).toBe(0);
  });

  it('starts and stops a shadow', async () => {
    expect(await cli('shadow', 'start', 'iris', '1', '--sample', '25', '--reason', 'compare')).toMatchObject({
      code: 0,
      out: 'shadow of iris: v1 also scores 25% of requests (answers still come from champion v2)',
    });
    expect((await cli('canary', 'status', 'iris')).out).toMatch(/^shadow: v1 scoring 25% of requests, since /m);
    expect(await cli('shadow', 'start', 'iris', '3')).toMatchObject({
      code: 1,
      err: 'RoutingConflictError: iris already has a shadow: v1 scoring 25% of requests; stop it first',
    });
    expect(await cli('shadow', 'stop', 'iris')).toMatchObject({ code: 0, out: 'shadow v1 of iris stopped' });
    expect(await cli('shadow', 'stop', 'iris')).toMatchObject({
      code: 1,
      err: 'RoutingConflictError: iris has no shadow to stop',
    });
  });

  it('refuses (exit 1) versions that cannot take traffic, naming why', async () => {
    expect(await cli('canary', 'start', 'iris', '5', '--weight', '10')).toMatchObject({
      code: 1,
      err: "RoutingRefusedError: iris v5's features differ from champion v2's: missing petal_width (numeric); extra petal_w (numeric); the champion's clients would fail on it as a canary",
    });
    expect(await cli('shadow', 'start', 'iris', '2')).toMatchObject({
      code: 1,
      err: 'RoutingRefusedError: iris v2 is the champion: it cannot also be a shadow',
    });
    expect(await cli('canary', 'start', 'iris', '9', '--weight', '10')).toMatchObject({
      code: 1,
      err: 'RoutingRefusedError: model "iris" has no version 9: it cannot be a canary',
    });
  });

  it('shows routing changes in the history, merged by time and marked "(routing)"', async () => {
    const text = (await cli('history', 'iris')).out;
    const rows = text
      .split('\n')
      .slice(2)
      .map((line) =>
        line
          .split(/\s{2,}/)
          .slice(1, 3)
          .join(' '),
      );
    expect(rows).toEqual([
      'champion promote',
      '(routing) canary-start',
      '(routing) canary-abort',
      'challenger promote',
      '(routing) canary-start',
      'champion promote',
      '(routing) canary-promote',
      '(routing) canary-start',
      'champion promote',
      '(routing) canary-abort',
      'challenger promote',
      '(routing) shadow-start',
      '(routing) shadow-stop',
    ]);
    expect(text).toMatch(/\(routing\)\s+canary-promote\s+v1\s+v3 champion\s+carol\s+looks good \(rollout iris-/);
    const json = JSON.parse((await cli('history', 'iris', '--json')).out);
    expect(json[1]).toMatchObject({
      kind: 'routing',
      action: 'canary-start',
      version: 2,
      weight: 10,
      actor: 'carol',
      reason: 'try nb',
    });
    const champion = JSON.parse((await cli('history', 'iris', '--alias', 'champion', '--json')).out);
    expect(champion.map((m: { kind: string; version: number }) => `${m.kind} v${m.version}`)).toEqual([
      'promote v1',
      'promote v3',
      'promote v2',
    ]);
  });

  it('exits 2 with a clear message for a mistyped or misplaced option and other usage mistakes', async () => {
    const mistyped = await cli('canary', 'start', 'iris', '3', '--wieght', '10');
    expect(mistyped).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^unknown option --wieght: did you mean --weight\?\n\nusage: /),
    });
    expect(await cli('shadow', 'start', 'iris', '3', '--smaple', '5')).toMatchObject({
      code: 2,
      err: expect.stringMatching(/^unknown option --smaple: did you mean --sample\?/),
    });
    const usage = async (argv: string[], message: string) =>
      expect(await cli(...argv)).toMatchObject({
        code: 2,
        out: '',
        err: expect.stringContaining(`${message}\n\nusage: `),
      });
    await usage(
      ['canary', 'start', 'iris', '3'],
      'canary start needs either --weight <pct> (a manual canary) or --plan <w1,w2,...> (a rollout), not both',
    );
    await usage(
      ['canary', 'start', 'iris', '3', '--weight', '10', '--plan', '10,50'],
      'canary start needs either --weight <pct> (a manual canary) or --plan <w1,w2,...> (a rollout), not both',
    );
    await usage(
      ['canary', 'start', 'iris', '3', '--weight', '150'],
      '--weight must be a percentage above 0 and at most 100, got 150',
    );
    await usage(['canary', 'start', 'iris', '3', '--weight', 'ten'], '--weight must be a number, got "ten"');
    await usage(['canary', 'start', 'iris', '3', '--plan', '50,10'], "the rollout plan's steps must go up, got 50, 10");
    await usage(
      ['canary', 'start', 'iris', '3', '--plan', '10,50', '--bake', 'soon'],
      '--bake must be seconds or a duration like 10m or 1h, got "soon"',
    );
    await usage(
      ['canary', 'start', 'iris', '3', '--weight', '10', '--bake', '1h'],
      '--bake and --min-requests go with --plan: a --weight canary stays where it is put',
    );
    await usage(['canary', 'start', 'iris'], 'canary start needs <version>');
    await usage(
      ['shadow', 'start', 'iris', '3', '--weight', '5'],
      '--weight is an option of canary start, not of shadow start',
    );
    await usage(['promote', 'iris', '3', '--sample', '5'], '--sample is an option of shadow start, not of promote');
    await usage(['canary', 'abort', 'iris', '--alias', 'champion'], '--alias is not an option of canary abort');
    await usage(['canary', 'pause', 'iris'], 'unknown command "canary pause"');
    await usage(['shadow'], 'shadow needs a subcommand');
    // Nothing of the above reached the bucket.
    expect(JSON.parse((await cli('canary', 'status', 'iris', '--json')).out).routing).not.toHaveProperty('canary');
  });

  it('parses bake times in seconds, minutes and hours', () => {
    expect(['600', '90s', '10m', '1h', '0', '1.5h', 'm'].map(parseDuration)).toEqual([
      600,
      90,
      600,
      3600,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
