import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_MAX_DROPPED_FRACTION,
  DEFAULT_MAX_MISSING_FRACTION,
  ModelSpecError,
  parseModelSpec,
  scheduleProblem,
} from '../../core/pipeline/model-spec';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { DATASETS } from '../../training/datasets/catalog';

const CONFIG_DIR = join(__dirname, '..', '..', 'config', 'models');

function validSpec(): Record<string, unknown> {
  return {
    name: 'iris',
    data: { columns: ['a', 'b', 'class'], label: 'class' },
    contract: { minRows: 10, onBadRow: 'drop' },
    training: { selectionMetric: 'macroF1' },
    gate: { metric: 'macroF1', margin: 0.01, floor: 0.8 },
  };
}

function problemsOf(value: unknown, source = 'models/iris.json'): readonly string[] {
  try {
    parseModelSpec(JSON.stringify(value), source);
  } catch (error) {
    expect(error).toBeInstanceOf(ModelSpecError);
    return (error as ModelSpecError).problems;
  }
  throw new Error('expected the spec to be refused');
}

describe('parseModelSpec', () => {
  test('fills the contract defaults: every named feature plus the label, missing and dropped fractions', () => {
    const spec = parseModelSpec(
      JSON.stringify({ ...validSpec(), data: { columns: ['id', 'a', 'b', 'class'], label: 'class', exclude: ['id'] } }),
      'x.json',
    );
    expect(spec.contract.requiredColumns).toEqual(['a', 'b', 'class']);
    expect(spec.contract.maxMissingFraction).toBe(DEFAULT_MAX_MISSING_FRACTION);
    expect(spec.contract.maxDroppedFraction).toBe(DEFAULT_MAX_DROPPED_FRACTION);
  });

  test('without column names the default required columns are the label and the typed columns', () => {
    const spec = parseModelSpec(
      JSON.stringify({ ...validSpec(), data: { label: 'y', types: { x: 'numeric' } } }),
      'x.json',
    );
    expect(spec.contract.requiredColumns).toEqual(['y', 'x']);
  });

  test('names the file, the field, the rule and the value received', () => {
    const gate = { metric: 'macroF1', margin: 2, floor: 0.8 };
    expect(problemsOf({ ...validSpec(), gate })).toEqual([
      'models/iris.json: gate.margin must be a number between 0 and 1, got 2',
    ]);
  });

  test('reports every problem at once, including missing fields and misspelt keys', () => {
    const problems = problemsOf({
      ...validSpec(),
      name: 'Iris!',
      contract: { minRows: 0, onBadRow: 'skip', margn: 1 },
      training: {},
    });
    expect(problems).toEqual([
      expect.stringMatching(/^models\/iris\.json: name must be valid: .*got "Iris!"$/),
      'models/iris.json: contract.minRows must be a whole number >= 1, got 0',
      'models/iris.json: contract.onBadRow must be "drop" or "quarantine", got "skip"',
      'models/iris.json: contract has unknown field(s) "margn" (check the spelling)',
      'models/iris.json: training.selectionMetric is required (it must be one of macroF1, accuracy)',
    ]);
  });

  test('refuses text that is not a JSON object', () => {
    expect(() => parseModelSpec('{ name: ', 'a.json')).toThrow(/^a\.json: is not valid JSON/);
    expect(() => parseModelSpec('[1]', 'a.json')).toThrow('a.json: must be a JSON object, got [1]');
  });

  test('refuses an unknown algorithm and an empty algorithm list', () => {
    expect(problemsOf({ ...validSpec(), training: { selectionMetric: 'accuracy', algorithms: ['xgb'] } })).toEqual([
      'models/iris.json: training.algorithms.0 must be one of lr, gbdt, rf, nb, svm, got "xgb"',
    ]);
    expect(problemsOf({ ...validSpec(), training: { selectionMetric: 'accuracy', algorithms: [] } })).toEqual([
      'models/iris.json: training.algorithms must list at least one algorithm, got []',
    ]);
  });

  test('cross-checks columns: label excluded, unknown names, repeated classes', () => {
    const problems = problemsOf({
      ...validSpec(),
      data: { columns: ['a', 'b', 'class'], label: 'class', exclude: ['class', 'zz'], types: { c: 'numeric' } },
      contract: { minRows: 10, onBadRow: 'drop', requiredColumns: ['a', 'q'], labelValues: ['x', 'x'] },
    });
    expect(problems).toEqual([
      'models/iris.json: data.exclude must not contain the label "class"',
      'models/iris.json: data.exclude names "zz", which is not in data.columns (a, b, class)',
      'models/iris.json: data.types names "c", which is not in data.columns (a, b, class)',
      'models/iris.json: contract.requiredColumns names "q", which is not in data.columns (a, b, class)',
      'models/iris.json: contract.labelValues must not repeat a class, got "x" twice',
    ]);
  });

  test.each(['rate(7 days)', 'rate(1 day)', 'rate(12 hours)', 'cron(0 3 ? * MON *)', 'cron(15 10 1 * ? *)'])(
    'schedule %s is accepted',
    (expression) => {
      expect(scheduleProblem(expression)).toBeUndefined();
    },
  );

  test.each([
    ['rate(1 days)', /singular unit for 1 \("rate\(1 day\)"\)/],
    ['rate(3 hour)', /plural unit for 3 \("rate\(3 hours\)"\)/],
    ['rate(0 days)', /at least 1/],
    ['rate(5 minutes)', /must be "rate\(N hours\|days\)" or "cron/],
    ['cron(0 3 * * *)', /6 cron fields .* got 5/],
    ['cron(0 3 * * MON *)', /"\?" for day-of-month or day-of-week/],
    ['daily', /must be "rate/],
  ])('schedule %s is refused with the fix', (expression, problem) => {
    expect(scheduleProblem(expression)).toMatch(problem);
  });

  test('promotion is "direct" or a canary plan; steps must ascend, unknown plan fields are refused', () => {
    expect(parseModelSpec(JSON.stringify({ ...validSpec(), promotion: 'direct' }), 'x').promotion).toBe('direct');
    expect(
      parseModelSpec(
        JSON.stringify({ ...validSpec(), promotion: { canary: { steps: [10, 50, 100], bakeSeconds: 300 } } }),
        'x',
      ).promotion,
    ).toEqual({ canary: { steps: [10, 50, 100], bakeSeconds: 300 } });
    expect(problemsOf({ ...validSpec(), promotion: { canary: { steps: [50, 10] } } })).toEqual([
      expect.stringMatching(/promotion\.canary\.steps must be ascending weights/),
    ]);
    expect(problemsOf({ ...validSpec(), promotion: 'canary' })).toEqual([
      expect.stringMatching(/^models\/iris\.json: promotion must be "direct" or \{"canary"/),
    ]);
    expect(problemsOf({ ...validSpec(), promotion: { canary: { bake: 5 } } }).join('\n')).toMatch(/promotion/);
  });

  test('classNames maps listed classes to distinct, non-empty display names', () => {
    const contract = { minRows: 10, onBadRow: 'drop', labelValues: ['0', '1'] };
    const spec = parseModelSpec(
      JSON.stringify({ ...validSpec(), contract, classNames: { '0': ' no failure ', '1': 'failure' } }),
      'x.json',
    );
    expect(spec.classNames).toEqual({ '0': 'no failure', '1': 'failure' });

    expect(problemsOf({ ...validSpec(), contract, classNames: { '0': ' ', '1': 'failure' } })).toEqual([
      'models/iris.json: classNames.0 must be a non-empty display name, got ""',
    ]);
    expect(problemsOf({ ...validSpec(), contract, classNames: { '0': 'same', '1': 'same', '2': 'two' } })).toEqual([
      'models/iris.json: classNames.2 names a class that contract.labelValues (0, 1) does not list',
      'models/iris.json: classNames must give each class its own display name, got "same" twice',
    ]);
    expect(problemsOf({ ...validSpec(), classNames: ['no failure', 'failure'] })).toEqual([
      expect.stringMatching(/^models\/iris\.json: classNames must map class labels to display names/),
    ]);
  });

  test('a bad schedule is reported under its field', () => {
    expect(problemsOf({ ...validSpec(), schedule: 'cron(0 3 * * *)' })).toEqual([
      expect.stringMatching(/^models\/iris\.json: schedule must have 6 cron fields/),
    ]);
  });
});

describe('bundled model specs (config/models)', () => {
  const specs = loadModelSpecs(CONFIG_DIR);

  test('all four load, sorted by name', () => {
    expect(specs.map((s) => s.name)).toEqual(['ai4i2020', 'iris', 'sentiment', 'smoke']);
  });

  test.each(['iris', 'sentiment', 'ai4i2020', 'smoke'])(
    '%s reads its bundled data as the training catalog does',
    (name) => {
      const spec = specs.find((s) => s.name === name);
      const { label, exclude, types = {}, load } = DATASETS[spec?.bundledDataset ?? name];
      // The spec may say more than the catalog (a delimiter, numeric types) but never something else.
      const same = {
        label,
        columns: load.columns,
        exclude,
        types,
        ...(load.delimiter ? { delimiter: load.delimiter } : {}),
        ...(load.quoting === undefined ? {} : { quoting: load.quoting }),
      };
      expect(spec?.data).toMatchObject(Object.fromEntries(Object.entries(same).filter(([, v]) => v !== undefined)));
    },
  );

  test('ai4i2020 names its classes for people; every name is of a class its contract lists', () => {
    const spec = specs.find((s) => s.name === 'ai4i2020');
    expect(spec?.classNames).toEqual({ '0': 'no failure', '1': 'machine failure' });
    for (const s of specs)
      for (const label of Object.keys(s.classNames ?? {})) expect(s.contract.labelValues).toContain(label);
  });

  test("the deploy smoke check's model is apart from production: own name, no schedule, small and fast", () => {
    const smoke = specs.find((s) => s.name === 'smoke');
    expect(smoke).toMatchObject({
      bundledDataset: 'iris',
      training: { algorithms: ['lr', 'nb'], window: { files: 3 } },
    });
    expect(smoke?.schedule).toBeUndefined();
  });

  test('a bundledDataset that is not a string is refused under its field', () => {
    expect(problemsOf({ ...validSpec(), bundledDataset: 7 })).toEqual([
      expect.stringMatching(/^models\/iris\.json: bundledDataset must be the name of a bundled dataset/),
    ]);
  });
});

describe('loadModelSpecs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'model-specs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reads only *.json files', () => {
    writeFileSync(join(dir, 'a.json'), JSON.stringify(validSpec()));
    writeFileSync(join(dir, 'README.md'), '# not a spec');
    expect(loadModelSpecs(dir).map((s) => s.name)).toEqual(['iris']);
  });

  test('refuses two specs with the same name, naming both files', () => {
    writeFileSync(join(dir, 'a.json'), JSON.stringify(validSpec()));
    writeFileSync(join(dir, 'b.json'), JSON.stringify(validSpec()));
    expect(() => loadModelSpecs(dir)).toThrow(
      `${join(dir, 'b.json')}: name "iris" is already used by ${join(dir, 'a.json')}; model names must be unique`,
    );
  });

  test('reports the problems of every broken file, not just the first', () => {
    writeFileSync(join(dir, 'a.json'), '{');
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({ ...validSpec(), gate: { metric: 'macroF1', margin: 0, floor: 3 } }),
    );
    let caught: unknown;
    try {
      loadModelSpecs(dir);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ModelSpecError);
    expect((caught as ModelSpecError).problems).toEqual([
      expect.stringMatching(/a\.json: is not valid JSON/),
      `${join(dir, 'b.json')}: gate.floor must be a number between 0 and 1, got 3`,
    ]);
  });

  test('fails with the folder name when it does not exist', () => {
    expect(() => loadModelSpecs(join(dir, 'nope'))).toThrow(/nope: cannot read the model spec folder/);
  });
});
