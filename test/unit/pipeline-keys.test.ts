import {
  candidatePrefix,
  compactTime,
  etagToken,
  failureKey,
  findProcessedKey,
  isProcessedData,
  parseIncomingKey,
  processedKey,
  processedReportKey,
  quarantineKey,
  quarantineReportKey,
  runIdFor,
  summaryKey,
} from '../../lambdas/pipeline/keys';

const at = new Date('2026-11-23T14:13:42.123Z');

describe('pipeline key naming', () => {
  test('parses incoming/<model>/<file> and refuses anything else', () => {
    expect(parseIncomingKey('incoming/iris/batch 1.csv')).toEqual({ model: 'iris', file: 'batch 1.csv' });
    expect(parseIncomingKey('incoming/iris/2026/a.csv')).toEqual({ model: 'iris', file: '2026/a.csv' });
    for (const key of [
      'incoming/iris/',
      'incoming/iris',
      'processed/iris/a.csv',
      'incoming//a.csv',
      'incoming/iris/dir/',
    ]) {
      expect(parseIncomingKey(key)).toBeUndefined();
    }
  });

  test('processed keys sort by time and carry the etag and the file stem', () => {
    expect(compactTime(at)).toBe('20261123T141342Z');
    expect(etagToken('"d41d8cd98f00b204e9800998ecf8427e-2"')).toBe('d41d8cd98f00b204e9800998ecf8427e2');
    const key = processedKey('iris', 'iris.data', '"ABC123"', at);
    expect(key).toBe('processed/iris/20261123T141342Z-abc123-iris.csv');
    expect(processedReportKey(key)).toBe('processed/iris/20261123T141342Z-abc123-iris.report.json');
    expect(isProcessedData(key)).toBe(true);
    expect(isProcessedData(processedReportKey(key))).toBe(false);
    expect(processedKey('iris', '2026/a b.csv', 'e', at)).toBe('processed/iris/20261123T141342Z-e-2026_a_b.csv');
  });

  test('finds the processed copy of the same upload (etag and file) only', () => {
    const keys = [
      processedKey('iris', 'a.csv', 'e1', at),
      processedKey('iris', 'b.csv', 'e2', new Date(at.getTime() + 1000)),
    ];
    expect(findProcessedKey(keys, 'iris', 'a.csv', '"e1"')).toBe(keys[0]);
    expect(findProcessedKey(keys, 'iris', 'b.csv', 'e2')).toBe(keys[1]);
    expect(findProcessedKey(keys, 'iris', 'a.csv', 'e2')).toBeUndefined();
    expect(findProcessedKey(keys, 'wine', 'a.csv', 'e1')).toBeUndefined();
  });

  test('quarantine and run keys', () => {
    expect(quarantineKey('iris', 'sub/bad.csv')).toBe('quarantine/iris/sub_bad.csv');
    expect(quarantineKey('iris', 'bad.csv', '"AB12"')).toBe('quarantine/iris/ab12-bad.csv');
    expect(quarantineReportKey('quarantine/iris/bad.csv')).toBe('quarantine/iris/bad.csv.report.json');
    expect(candidatePrefix('iris', 'r1', 'lr')).toBe('runs/iris/r1/candidates/lr/');
    expect(summaryKey('iris', 'r1')).toBe('runs/iris/r1/summary.json');
    expect(failureKey('iris', 'r1')).toBe('runs/iris/r1/failure.json');
  });

  test('the run id is the execution name made key-safe, stable across retries', () => {
    expect(runIdFor('iris-upload-3f2a')).toBe('iris-upload-3f2a');
    expect(runIdFor('a/b c')).toBe('a_b_c');
    expect(runIdFor('x')).toBe(runIdFor('x'));
    expect(() => runIdFor('  ')).toThrow(/cannot be used as a run id/);
    expect(() => runIdFor('..')).toThrow(/cannot be used as a run id/);
  });
});
