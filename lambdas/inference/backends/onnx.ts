import type * as ort from 'onnxruntime-node';
import { batchSize, type FeatureBatch, toModelInputs } from '../../../core/features';
import type { ModelManifest } from '../../../core/manifest';
import { createSession, toOrtFeeds } from '../../../core/onnx-session';
import { BackendError, type ModelArtifact, type ModelBackend, ModelLoadError, type Predictor } from './types';

/**
 * The default backend: onnxruntime-node in the function. Requests become ONNX inputs through
 * core/features' toModelInputs (the same mapping training used); only the manifest's
 * probabilities output is fetched, and labels come from it (argmax over manifest.classes).
 */
export class OnnxBackend implements ModelBackend {
  readonly kind = 'onnxruntime';
  readonly needsModelBytes = true;

  async open(artifact: ModelArtifact): Promise<Predictor> {
    const { manifest, onnx } = artifact;
    if (!onnx) throw new ModelLoadError(`model "${manifest.name}": no model.onnx to open`);
    let session: ort.InferenceSession;
    try {
      session = await createSession(onnx);
    } catch (error) {
      throw new ModelLoadError(`model "${manifest.name}": onnxruntime cannot load model.onnx: ${message(error)}`, {
        cause: error,
      });
    }
    checkSignature(session, manifest);
    const predictor = new OnnxPredictor(session, manifest);
    try {
      // A smoke prediction (every feature missing, so imputed): a graph that loads but cannot
      // run, or answers in another shape, is refused here rather than on a user's request.
      await predictor.predict([{}]);
    } catch (error) {
      throw new ModelLoadError(`model "${manifest.name}": smoke prediction failed: ${message(error)}`, {
        cause: error,
      });
    }
    return predictor;
  }
}

function checkSignature(session: ort.InferenceSession, manifest: ModelManifest): void {
  const missing = manifest.inputs.map((i) => i.name).filter((name) => !session.inputNames.includes(name));
  if (missing.length > 0)
    throw new ModelLoadError(
      `model "${manifest.name}": the graph has no input(s) ${missing.join(', ')} named in the manifest`,
    );
  if (!session.outputNames.includes(manifest.outputs.probabilities)) {
    throw new ModelLoadError(
      `model "${manifest.name}": the graph has no output "${manifest.outputs.probabilities}" (the manifest's probabilities)`,
    );
  }
}

class OnnxPredictor implements Predictor {
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly manifest: ModelManifest,
  ) {}

  /** Throws BackendError when onnxruntime fails on the rows or answers in another shape (a 5xx, not the caller's fault). */
  async predict(batch: FeatureBatch): Promise<number[][]> {
    const data = await this.predictFlat(batch);
    const classes = this.manifest.classes.length;
    const count = batchSize(batch);
    const probabilities: number[][] = new Array<number[]>(count);
    for (let i = 0; i < count; i++) probabilities[i] = Array.from(data.subarray(i * classes, (i + 1) * classes));
    return probabilities;
  }

  async predictFlat(batch: FeatureBatch): Promise<Float32Array | Float64Array> {
    const feeds = toOrtFeeds(toModelInputs(this.manifest.features, batch));
    const count = batchSize(batch);
    const name = this.manifest.outputs.probabilities;
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds, [name]);
    } catch (error) {
      throw new BackendError(`model "${this.manifest.name}": onnxruntime failed to run: ${message(error)}`, {
        cause: error,
      });
    }
    const tensor = out[name];
    const classes = this.manifest.classes.length;
    if (
      !tensor ||
      !(tensor.data instanceof Float32Array || tensor.data instanceof Float64Array) ||
      tensor.data.length !== count * classes
    ) {
      throw new BackendError(
        `model "${this.manifest.name}": output "${name}" is not a [${count}, ${classes}] float tensor`,
      );
    }
    return tensor.data;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
