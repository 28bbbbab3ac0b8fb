import { conditionFailure } from '../../local/s3rver-compat';
import {
  aliasKey,
  historyKey,
  isValidName,
  nameProblem,
  parseAliasKey,
  parseVersionKey,
  versionKey,
  versionsWith,
} from '../../core/registry/keys';

describe('registry keys', () => {
  it('lays out versions, aliases and history under registry/<model>/', () => {
    expect(versionKey('iris', 3, 'model.onnx')).toBe('registry/iris/versions/3/model.onnx');
    expect(versionKey('iris', 3, 'manifest.json')).toBe('registry/iris/versions/3/manifest.json');
    expect(aliasKey('iris', 'champion')).toBe('registry/iris/aliases/champion.json');
    expect(historyKey('iris', '2025-01-02T03:04:05.006Z', 'champion', 'ab12')).toBe(
      'registry/iris/history/2025-01-02T03:04:05.006Z-champion-ab12.json',
    );
  });

  it('parses back only the keys it builds', () => {
    expect(parseVersionKey('iris', versionKey('iris', 12, 'manifest.json'))).toEqual({
      version: 12,
      file: 'manifest.json',
    });
    expect(parseVersionKey('iris', 'registry/iris/versions/0/model.onnx')).toBeUndefined();
    expect(parseVersionKey('iris', 'registry/iris/versions/2/notes.txt')).toBeUndefined();
    expect(parseVersionKey('iris', 'registry/iris-2/versions/2/model.onnx')).toBeUndefined();
    expect(parseAliasKey('iris', aliasKey('iris', 'shadow-1'))).toBe('shadow-1');
    expect(parseAliasKey('iris', 'registry/iris/aliases/Bad Name.json')).toBeUndefined();
  });

  it('counts a version only when the asked-for file is there, numerically ordered', () => {
    const keys = [
      versionKey('m', 10, 'model.onnx'),
      versionKey('m', 10, 'manifest.json'),
      versionKey('m', 2, 'model.onnx'),
      versionKey('m', 9, 'model.onnx'),
      versionKey('m', 9, 'manifest.json'),
    ];
    expect(versionsWith('m', keys, 'model.onnx')).toEqual([2, 9, 10]);
    expect(versionsWith('m', keys, 'manifest.json')).toEqual([9, 10]);
  });

  it('accepts lower-case names with digits, "-" and "_" and explains refusals', () => {
    for (const good of ['iris', 'churn-v2', 'a_b', '0day']) expect(isValidName(good)).toBe(true);
    for (const bad of ['', 'Iris', 'has space', '../x', '-lead', 'a/b', 'x'.repeat(65)])
      expect(isValidName(bad)).toBe(false);
    expect(nameProblem('model', 'Iris')).toMatch(/model name "Iris" is not valid/);
    expect(nameProblem('alias', 'champion')).toBeUndefined();
  });
});

describe('local S3 conditional writes', () => {
  it('refuses If-None-Match:* when the object exists and a stale If-Match', () => {
    expect(conditionFailure('abc', '*', '')).toMatchObject({
      status: 412,
      code: 'PreconditionFailed',
      condition: 'If-None-Match',
    });
    expect(conditionFailure(undefined, '*', '')).toBeUndefined();
    expect(conditionFailure('abc', '', '"old"')).toMatchObject({ status: 412, condition: 'If-Match' });
    expect(conditionFailure('abc', '', '"abc"')).toBeUndefined();
    expect(conditionFailure('abc', '', 'abc')).toBeUndefined();
  });

  it('answers 404 to If-Match on a missing object, as S3 does', () => {
    expect(conditionFailure(undefined, '', '"abc"')).toMatchObject({ status: 404, code: 'NoSuchKey' });
  });
});
