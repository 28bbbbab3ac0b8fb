import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { z } from 'zod';
import { type FeatureBatch, rowsOf } from '../../../core/features';
import type { ModelManifest } from '../../../core/manifest';
import { BackendError, type ModelArtifact, type ModelBackend, ModelLoadError, type Predictor } from './types';

/**
 * Serves models too big for the function from a SageMaker real-time endpoint (configured per
 * model in SAGEMAKER_ENDPOINTS). The registry still holds the model's manifest (schema, classes,
 * version), so requests are validated here exactly as for onnxruntime models.
 *
 * The endpoint contract (JSON both ways):
 *   request   {"instances": [{"<feature>": <number | string | null>, ...}, ...]}
 *             one object per row, keyed by the manifest's feature names; null = missing (the
 *             container imputes it, e.g. with the manifest's `missing.value`)
 *   response  {"probabilities": [[p_class0, p_class1, ...], ...]}
 *             one row per instance, columns in the order of the manifest's `classes`
 * The label is the argmax of each row, as for onnxruntime models.
 */

const responseSchema = z.object({ probabilities: z.array(z.array(z.number())) });

export class SageMakerBackend implements ModelBackend {
  readonly kind = 'sagemaker';
  readonly needsModelBytes = false;

  constructor(
    private readonly client: SageMakerRuntimeClient,
    private readonly endpointName: string,
  ) {}

  async open(artifact: ModelArtifact): Promise<Predictor> {
    if (artifact.manifest.classes.length === 0)
      throw new ModelLoadError(`model "${artifact.manifest.name}": the manifest lists no classes`);
    return new SageMakerPredictor(this.client, this.endpointName, artifact.manifest);
  }
}

class SageMakerPredictor implements Predictor {
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly client: SageMakerRuntimeClient,
    private readonly endpointName: string,
    private readonly manifest: ModelManifest,
  ) {}

  async predict(batch: FeatureBatch): Promise<number[][]> {
    const rows = rowsOf(batch);
    const instances = rows.map((row) =>
      Object.fromEntries(this.manifest.features.map((f) => [f.name, row[f.name] ?? null])),
    );
    let body: Uint8Array | undefined;
    try {
      const out = await this.client.send(
        new InvokeEndpointCommand({
          EndpointName: this.endpointName,
          ContentType: 'application/json',
          Accept: 'application/json',
          Body: this.encoder.encode(JSON.stringify({ instances })),
        }),
      );
      body = out.Body;
    } catch (error) {
      throw new BackendError(
        `SageMaker endpoint "${this.endpointName}" failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return this.parse(body, rows.length);
  }

  private parse(body: Uint8Array | undefined, rows: number): number[][] {
    const where = `SageMaker endpoint "${this.endpointName}"`;
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body ?? new Uint8Array()));
    } catch {
      throw new BackendError(`${where} answered with a body that is not JSON`);
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) throw new BackendError(`${where} answered without {"probabilities": [[...]]}`);
    const { probabilities } = parsed.data;
    const classes = this.manifest.classes.length;
    if (probabilities.length !== rows || probabilities.some((row) => row.length !== classes)) {
      throw new BackendError(
        `${where} answered ${probabilities.length} rows for ${rows} instances, or rows without ${classes} probabilities`,
      );
    }
    return probabilities;
  }
}
