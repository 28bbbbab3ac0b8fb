import type { ModelSpec } from '../../core/pipeline/model-spec';
import type { ObjectStore } from '../../core/object-store';
import type { ModelRegistry } from '../../core/registry/registry';
import type { PipelineRecorder } from './metrics';

/** What every pipeline step needs: the two buckets, the registry, the model specs, time and scratch space. */
export interface StepDeps {
  readonly dataStore: ObjectStore;
  readonly modelStore: ObjectStore;
  readonly registry: ModelRegistry;
  readonly specs: ReadonlyMap<string, ModelSpec>;
  readonly clock: () => Date;
  /** A writable folder (Lambda: /tmp) for the data files training reads from disk. */
  readonly tmpDir: string;
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
    throw new Error(`no model spec for model "${model}" (known models: ${known}); add config/models/${model}.json`);
  }
  return spec;
}
