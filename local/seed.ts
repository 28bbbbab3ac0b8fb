import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { ModelSpec } from '../core/pipeline/model-spec';
import type { ObjectStore } from '../core/object-store';
import type { ModelRegistry } from '../core/registry/registry';
import { processedPrefix } from '../lambdas/pipeline/keys';
import { DATASETS, datasetPaths } from '../training/datasets/catalog';

/**
 * First start: every configured model without a champion gets one, trained by the real pipeline
 * from its bundled dataset (uploaded to incoming/<model>/ as a user would). Smallest data first,
 * one at a time, so the first model serves within seconds while the others train.
 */

export interface SeedUpload {
  readonly model: string;
  readonly key: string;
  readonly body: Buffer;
}

export type SeedPlan = {
  readonly uploads: readonly SeedUpload[];
  readonly skipped: readonly { readonly model: string; readonly reason: string }[];
};

/** The bundled data of a model, as one file (several files of one layout are concatenated). */
function bundledData(spec: ModelSpec): { readonly file: string; readonly body: Buffer } | undefined {
  const dataset = DATASETS[spec.bundledDataset ?? spec.name];
  if (!dataset) return undefined;
  const parts = datasetPaths(dataset).map((path) => {
    const text = readFileSync(path);
    return text.length > 0 && text[text.length - 1] !== 0x0a ? Buffer.concat([text, Buffer.from('\n')]) : text;
  });
  const extension = extname(dataset.files[0]) || '.csv';
  return { file: `seed-${dataset.name}${extension}`, body: Buffer.concat(parts) };
}

/** What to upload: models with no champion and no processed data yet, smallest data first. */
export async function seedPlan(
  specs: readonly ModelSpec[],
  registry: ModelRegistry,
  dataStore: ObjectStore,
): Promise<SeedPlan> {
  const uploads: SeedUpload[] = [];
  const skipped: { model: string; reason: string }[] = [];
  for (const spec of specs) {
    const champion = await registry.resolveAlias(spec.name, 'champion');
    if (champion !== undefined) continue;
    if ((await dataStore.list(processedPrefix(spec.name))).length > 0) continue;
    const data = bundledData(spec);
    if (!data) {
      const missing =
        spec.bundledDataset === undefined
          ? 'no bundled dataset'
          : `its bundledDataset "${spec.bundledDataset}" is not one of ${Object.keys(DATASETS).join(', ')}`;
      skipped.push({ model: spec.name, reason: `${missing}; upload data to incoming/${spec.name}/ to train it` });
      continue;
    }
    uploads.push({ model: spec.name, key: `incoming/${spec.name}/${data.file}`, body: data.body });
  }
  uploads.sort((a, b) => a.body.length - b.body.length);
  return { uploads, skipped };
}
