import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { loadModelSpecs } from '../../core/pipeline/model-specs';
import { monitoringSettings } from '../../core/pipeline/model-spec';
import { InferenceStack } from '../../lib/stacks/inference-stack';
import { MonitoringStack, type MonitoringStackProps } from '../../lib/stacks/monitoring-stack';
import { PipelineStack } from '../../lib/stacks/pipeline-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { testApp } from '../helpers/cdk-app';

/** The platform as bin/app.ts wires it, for the tests that read what the monitoring stack draws. */

export const SPECS = loadModelSpecs(join(__dirname, '../../config/models'));
export const MODELS = SPECS.map((s) => ({
  name: s.name,
  gateMetric: s.gate.metric,
  schedule: s.schedule,
  monitoring: { driftThreshold: monitoringSettings(s).driftThreshold },
}));

/** The platform as bin/app.ts wires it (bundling skipped), plus the monitoring stack reading the others. */
export function platform(props: Partial<MonitoringStackProps> = {}) {
  const app = testApp();
  const storage = new StorageStack(app, 'Storage');
  const pipeline = new PipelineStack(app, 'Pipeline', {
    dataBucket: storage.dataBucket,
    modelBucket: storage.modelBucket,
    specs: SPECS,
  });
  const inference = new InferenceStack(app, 'Inference', {
    modelBucket: storage.modelBucket,
    dataBucket: storage.dataBucket,
  });
  const monitoring = new MonitoringStack(app, 'Monitoring', {
    api: inference.inference,
    inferenceFunction: inference.inference.fn,
    pipelineFunction: pipeline.pipeline.fn,
    stateMachine: pipeline.pipeline.stateMachine,
    pipelineStarts: pipeline.pipeline,
    rollout: pipeline.rollout,
    monitoringJob: pipeline.monitoringJob,
    capture: inference.inference.capture,
    models: MODELS,
    ...props,
  });
  return { storage, pipeline, inference, monitoring, template: Template.fromStack(monitoring) };
}
