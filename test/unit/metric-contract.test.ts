import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import * as contract from '../../core/contracts/metrics';
import * as inference from '../../lambdas/inference/metrics';
import { recordReadMetrics, recordReportMetrics } from '../../lambdas/monitoring/metrics';
import * as pipeline from '../../lambdas/pipeline/metrics';
import { memoryRecorder } from '../../lambdas/shared/metrics';
import type { MonitoringReport } from '../../core/monitoring/contract';

/** The metric contract (core/contracts/metrics.ts): one home both the handlers and the constructs read. */

const ROOT = join(__dirname, '..', '..');

/** Every package a module pulls in, following its relative imports (type-only imports included: they cost nothing at run time but say what the module leans on). */
function packagesImportedBy(entry: string): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.')) visit(`${resolve(dirname(file), fileName)}.ts`);
      else packages.set(fileName, file.slice(ROOT.length + 1));
    }
  };
  visit(entry);
  return packages;
}

test.each(['metrics', 'buckets'])(
  'core/contracts/%s.ts loads no runtime library (Powertools, the SDK), only Node built-ins',
  (name) => {
    const imported = packagesImportedBy(join(ROOT, 'core', 'contracts', `${name}.ts`));
    const notBuiltIn = [...imported].filter(([pkg]) => !pkg.startsWith('node:') && !builtinModules.includes(pkg));
    expect(notBuiltIn).toEqual([]);
  },
);

test('fails when a contract module reaches a runtime library: the check sees through relative imports', () => {
  // lambdas/inference/metrics.ts is the handler side: Powertools, through lambdas/shared/metrics.ts.
  const imported = packagesImportedBy(join(ROOT, 'lambdas', 'inference', 'metrics.ts'));
  expect([...imported.keys()]).toEqual(expect.arrayContaining(['@aws-lambda-powertools/metrics']));
});

test("the handlers' metric names and services are the contract's, not copies", () => {
  expect(inference.INFERENCE_METRICS).toBe(contract.INFERENCE_METRICS);
  expect(pipeline.PIPELINE_METRICS).toBe(contract.PIPELINE_METRICS);
  expect(inference.METRICS_NAMESPACE).toBe(contract.METRICS_NAMESPACE);
  expect(inference.METRICS_SERVICE).toBe(contract.METRICS_SERVICES.inference);
  expect(pipeline.PIPELINE_METRICS_SERVICE).toBe(contract.METRICS_SERVICES.pipeline);
});

test('metric names are unique within a service, so a dashboard line means one thing', () => {
  for (const names of Object.values(contract.METRICS_BY_SERVICE)) expect(new Set(names).size).toBe(names.length);
});

test('every metric the monitoring function emits for a report is in the contract under its service', () => {
  const report = {
    model: 'iris',
    records: 300,
    judged: true,
    features: [{ feature: 'a', score: 0.4 }],
    predictions: { verdict: 'stable', score: 0.05 },
    feedback: { matched: 10 },
    liveAccuracy: [{ version: 3, accuracy: 0.9 }],
    retrain: { started: true },
  } as unknown as MonitoringReport;
  const recorder = memoryRecorder<contract.MonitoringMetricName>();
  recordReportMetrics(recorder, report, 3);
  recordReadMetrics(recorder, 'iris', { errorOutputRecords: 0 } as Parameters<typeof recordReadMetrics>[2]);
  const emitted = new Set(recorder.records.map((r) => r.name));
  // Every monitoring metric is emitted by a run like this one (all judged, a champion with live accuracy).
  expect([...emitted].sort()).toEqual([...contract.METRICS_BY_SERVICE.monitoring].sort());
  for (const r of recorder.records) {
    for (const dimension of Object.keys(r.dimensions))
      expect(Object.values(contract.METRIC_DIMENSIONS)).toContain(dimension);
  }
});
