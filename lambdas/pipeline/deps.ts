import type { ModelSpec } from '../../core/pipeline/model-spec';
import type { ObjectStore } from '../../core/object-store';
import type { ModelRegistry } from '../../core/registry/registry';
import type { PipelineRecorder } from './metrics';
import type { RoutingStore } from '../../core/registry/routing-store';
import type { StepResources } from '../../core/pipeline/training-capacity';
import { UnknownModelSpecError } from '../../core/pipeline/errors';

/** What every pipeline step needs: the two buckets, the registry, the model specs, time and scratch space. */
export interface StepDeps {
  readonly dataStore: ObjectStore;
  readonly modelStore: ObjectStore;
  readonly registry: ModelRegistry;
  readonly specs: ReadonlyMap<string, ModelSpec>;
  readonly clock: () => Date;
  /** A writable folder (Lambda: /tmp) for the data files training reads from disk. */
  readonly tmpDir: string;
  /**
   * The function's memory size and timeout, for the training capacity check (core/pipeline/training-capacity.ts).
   * @default - REFERENCE_RESOURCES: 3008 MB and 15 minutes, the pipeline function's defaults
   */
  readonly resources?: StepResources;
  /**
   * The managed training task's memory and timeout (ECS Fargate, platform.pipeline.managedTraining):
   * data too large for `resources` trains there (core/pipeline/training-engine.ts).
   * @default - no managed task: such data is refused
   */
  readonly managedResources?: StepResources;
  /** Starts canaries when a spec's promotion is a rollout plan. @default - built from modelStore and registry when needed */
  readonly routing?: RoutingStore;
  /** The data bucket's name, only to write s3:// URIs into manifests. @default - keys without a bucket */
  readonly dataBucket?: string;
  /** Where run metrics go (Powertools EMF in the function). @default - not reported */
  readonly recorder?: PipelineRecorder;
}

/** The model's spec, or a clear error naming the known models. */
export function specFor(deps: StepDeps, model: string): ModelSpec {
  const spec = deps.specs.get(model);
  if (!spec) {
    const known = [...deps.specs.keys()].sort().join(', ') || 'none';
    throw new UnknownModelSpecError(
      `no model spec for model "${model}" (known models: ${known}); add config/models/${model}.json`,
    );
  }
  return spec;
}
