import type { FeatureType, ManifestFeature } from '../../core/manifest';
import {
  classesDiffer,
  describeSchemaDiff,
  differingParts,
  diffSchemas,
  featuresDiffer,
  type ModelSchema,
  schemasDiffer,
} from '../../core/registry/schema-diff';
import { decodeAliasMove, decodeAliasRecord } from '../../core/registry/records';
import { SchemaMismatchError } from '../../core/registry/types';

const feature = (name: string, type: FeatureType, categories?: string[]): ManifestFeature => ({
  name,
  type,
  input: name,
  missing: { policy: type === 'numeric' ? 'mean' : 'most_frequent', value: type === 'numeric' ? 0 : 'a' },
  ...(categories ? { categories } : {}),
});

const IRIS_CLASSES = ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'];
const iris: ModelSchema = {
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((n) => feature(n, 'numeric')),
  classes: IRIS_CLASSES,
};
const ai4i2020: ModelSchema = {
  features: [
    feature('Type', 'categorical', ['H', 'L', 'M']),
    ...[
      'Air temperature [K]',
      'Process temperature [K]',
      'Rotational speed [rpm]',
      'Torque [Nm]',
      'Tool wear [min]',
    ].map((n) => feature(n, 'numeric')),
  ],
  classes: ['0', '1'],
};

describe('schema diff', () => {
  it('finds nothing between a schema and itself, or the same features and classes in another order', () => {
    const diff = diffSchemas({ features: [...iris.features].reverse(), classes: [...IRIS_CLASSES].reverse() }, iris);
    expect(diff).toEqual({ missing: [], extra: [], retyped: [], missingClasses: [], extraClasses: [] });
    expect(schemasDiffer(diff)).toBe(false);
    expect(describeSchemaDiff(diff)).toBe('');
  });

  it('ignores categorical category lists (a retrained model may see new categories)', () => {
    const champion: ModelSchema = { features: [feature('Type', 'categorical', ['H', 'L'])], classes: ['0', '1'] };
    const version: ModelSchema = { features: [feature('Type', 'categorical', ['H', 'L', 'M'])], classes: ['0', '1'] };
    expect(schemasDiffer(diffSchemas(version, champion))).toBe(false);
  });

  it('names every missing and extra feature with its type, and the class changes, for another model entirely', () => {
    const diff = diffSchemas(ai4i2020, iris);
    expect(diff.missing).toEqual(iris.features.map((f) => ({ name: f.name, type: 'numeric' })));
    expect(diff.extra.map((f) => `${f.name}:${f.type}`)).toEqual([
      'Type:categorical',
      'Air temperature [K]:numeric',
      'Process temperature [K]:numeric',
      'Rotational speed [rpm]:numeric',
      'Torque [Nm]:numeric',
      'Tool wear [min]:numeric',
    ]);
    expect(diff.retyped).toEqual([]);
    expect([featuresDiffer(diff), classesDiffer(diff), differingParts(diff)]).toEqual([
      true,
      true,
      'features and classes',
    ]);
    expect(describeSchemaDiff(diff)).toBe(
      'missing sepal_length (numeric), sepal_width (numeric), petal_length (numeric), petal_width (numeric); ' +
        'extra Type (categorical), Air temperature [K] (numeric), Process temperature [K] (numeric), Rotational speed [rpm] (numeric), Torque [Nm] (numeric), Tool wear [min] (numeric); ' +
        'missing classes Iris-setosa, Iris-versicolor, Iris-virginica; extra classes 0, 1',
    );
  });

  it('names a feature whose type changed, with both types', () => {
    const version: ModelSchema = {
      ...iris,
      features: iris.features.map((f) =>
        f.name === 'petal_width' ? feature('petal_width', 'categorical', ['thin', 'wide']) : f,
      ),
    };
    const diff = diffSchemas(version, iris);
    expect(diff.retyped).toEqual([{ name: 'petal_width', type: 'categorical', championType: 'numeric' }]);
    expect(differingParts(diff)).toBe('features');
    expect(describeSchemaDiff(diff)).toBe('petal_width is categorical, champion has numeric');
  });

  it('tells a class added or dropped apart from a feature change', () => {
    const diff = diffSchemas(
      { ...iris, classes: ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica', 'Iris-arctica'] },
      iris,
    );
    expect([featuresDiffer(diff), classesDiffer(diff), differingParts(diff)]).toEqual([false, true, 'classes']);
    expect(describeSchemaDiff(diff)).toBe('extra classes Iris-arctica');
    expect(describeSchemaDiff(diffSchemas(iris, { ...iris, classes: [...IRIS_CLASSES, 'Iris-arctica'] }))).toBe(
      'missing classes Iris-arctica',
    );
  });

  it('cuts long lists after the limit, saying how many more', () => {
    const wide: ModelSchema = {
      features: Array.from({ length: 25 }, (_, i) => feature(`f${i}`, 'numeric')),
      classes: IRIS_CLASSES,
    };
    expect(describeSchemaDiff(diffSchemas(wide, iris), 3)).toBe(
      'missing sepal_length (numeric), sepal_width (numeric), petal_length (numeric) and 1 more; extra f0 (numeric), f1 (numeric), f2 (numeric) and 22 more',
    );
  });

  it('makes an error that names the model, both versions and the differences in one line', () => {
    const error = new SchemaMismatchError('iris', 4, 2, diffSchemas(ai4i2020, iris));
    expect(error.name).toBe('SchemaMismatchError');
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(
      /^iris v4's features and classes differ from champion v2's: missing sepal_length \(numeric\), .*; extra Type \(categorical\), /,
    );
    expect(error.message).not.toContain('\n');
    expect(new SchemaMismatchError('iris', undefined, 2, diffSchemas({ ...iris, classes: ['a'] }, iris)).message).toBe(
      "the new iris version's classes differ from champion v2's: missing classes Iris-setosa, Iris-versicolor, Iris-virginica; extra classes a",
    );
  });
});

describe('schema changes in alias records', () => {
  const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
  const before = {
    model: 'iris',
    alias: 'champion',
    version: 2,
    previousVersion: 1,
    movedAt: '2025-01-01T00:00:00.000Z',
    actor: 'alice',
    reason: 'better',
  };

  it('reads records written before the schema guard (no schemaChange)', () => {
    expect(decodeAliasRecord(bytes(before), 'old alias')).toEqual(before);
    expect(decodeAliasMove(bytes({ ...before, kind: 'promote' }), 'old move')).not.toHaveProperty('schemaChange');
  });

  it('keeps the schema change a move recorded, and refuses a malformed one', () => {
    const schemaChange = { championVersion: 1, differences: 'extra Type (categorical)', reason: 'ticket 12' };
    expect(decodeAliasMove(bytes({ ...before, kind: 'promote', schemaChange }), 'move')).toMatchObject({
      schemaChange,
    });
    expect(() => decodeAliasRecord(bytes({ ...before, schemaChange: { reason: 'no version' } }), 'bad alias')).toThrow(
      /bad alias is not valid: schemaChange\.championVersion/,
    );
  });
});
