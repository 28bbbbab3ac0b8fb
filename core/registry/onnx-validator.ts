import type * as ort from 'onnxruntime-node';
import { type FeatureValue, toModelInputs } from '../features';
import type { ManifestFeature, ModelManifest } from '../manifest';
import { createSession, toOrtFeeds } from '../onnx-session';
import { type ModelValidator, RegistrationError } from './types';

/**
 * Checks, before a model is registered, that model.onnx and its manifest belong together and
 * run: the file loads in onnxruntime, its inputs and outputs are the ones the manifest names,
 * and one prediction made the way the inference handler makes it gives sensible probabilities.
 * What gets through here is what the inference Lambda can serve.
 */

/** How far the probabilities of one row may sum away from 1 (float32 arithmetic). */
const PROBABILITY_SUM_TOLERANCE = 1e-3;

/** A value for the feature that the model must accept: its imputation value or a typical one. */
export function smokeValue(feature: ManifestFeature): FeatureValue {
  if (feature.type === 'text') return 'smoke test';
  if (feature.type === 'categorical') return feature.categories?.[0] ?? String(feature.missing.value);
  if (typeof feature.missing.value === 'number' && Number.isFinite(feature.missing.value)) return feature.missing.value;
  return feature.range ? (feature.range.min + feature.range.max) / 2 : 0;
}

const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** Problems between what the manifest declares and what the graph has (empty: they agree). */
export function signatureProblems(
  manifest: ModelManifest,
  session: Pick<ort.InferenceSession, 'inputNames' | 'outputNames' | 'inputMetadata'>,
): string[] {
  const problems: string[] = [];
  const declared = manifest.inputs.map((i) => i.name);
  const missing = declared.filter((n) => !session.inputNames.includes(n));
  const extra = session.inputNames.filter((n) => !declared.includes(n));
  if (missing.length > 0) problems.push(`the manifest's inputs ${list(missing)} are not inputs of model.onnx`);
  if (extra.length > 0) problems.push(`model.onnx's inputs ${list(extra)} are not in the manifest`);
  for (const input of manifest.inputs) {
    const meta = session.inputMetadata.find((m) => m.name === input.name);
    if (meta?.isTensor && meta.type !== input.dtype)
      problems.push(`input "${input.name}" is ${meta.type} in model.onnx but ${input.dtype} in the manifest`);
  }
  const fed = manifest.features.map((f) => f.input);
  const unfed = declared.filter((n) => !fed.includes(n));
  const unknown = fed.filter((n) => !declared.includes(n));
  if (unfed.length > 0) problems.push(`no feature feeds the inputs ${list(unfed)}`);
  if (unknown.length > 0) problems.push(`features feed inputs ${list(unknown)} that the manifest does not declare`);
  for (const output of [manifest.outputs.label, manifest.outputs.probabilities]) {
    if (!session.outputNames.includes(output))
      problems.push(`model.onnx has no output "${output}" (it has ${list(session.outputNames)})`);
  }
  return problems;
}

const isTensor = (value: unknown): value is ort.Tensor =>
  typeof value === 'object' && value !== null && 'dims' in value && 'data' in value;

/** Problems with one row's prediction (empty: it is sensible). */
export function predictionProblems(manifest: ModelManifest, probabilities: unknown, label: unknown): string[] {
  const classes = manifest.classes;
  // e.g. skl2onnx's default ZipMap output is a sequence of maps, which the handler cannot read.
  if (!isTensor(probabilities))
    return [`output "${manifest.outputs.probabilities}" is not a tensor (export it without ZipMap)`];
  if (!isTensor(label)) return [`output "${manifest.outputs.label}" is not a tensor`];
  const problems: string[] = [];
  const dims = probabilities.dims.join(',');
  if (dims !== `1,${classes.length}`)
    problems.push(`probabilities have shape [${dims}], expected [1,${classes.length}] (one per class)`);
  const values = Array.from(probabilities.data as ArrayLike<number>, Number);
  const sum = values.reduce((a, b) => a + b, 0);
  if (!values.every(Number.isFinite) || Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE)
    problems.push(`probabilities [${values.join(', ')}] do not sum to 1`);
  // Numeric class labels come back as int64 (bigint); the manifest lists every class as text.
  const predicted = label.data.length === 1 ? String((label.data as ArrayLike<unknown>)[0]) : undefined;
  if (predicted === undefined || !classes.includes(predicted))
    problems.push(`label ${JSON.stringify(predicted ?? null)} is not one of the classes ${list(classes)}`);
  return problems;
}

export class OnnxModelValidator implements ModelValidator {
  async validate(onnx: Uint8Array, manifest: ModelManifest): Promise<void> {
    let session: ort.InferenceSession;
    try {
      session = await createSession(onnx);
    } catch (error) {
      throw new RegistrationError(`model.onnx does not load: ${(error as Error).message}`, { cause: error });
    }
    try {
      const mismatches = signatureProblems(manifest, session);
      if (mismatches.length > 0)
        throw new RegistrationError(`model.onnx does not match its manifest: ${mismatches.join('; ')}`);
      const row = Object.fromEntries(manifest.features.map((f) => [f.name, smokeValue(f)]));
      let outputs: ort.InferenceSession.OnnxValueMapType;
      try {
        outputs = await session.run(toOrtFeeds(toModelInputs(manifest.features, [row])));
      } catch (error) {
        throw new RegistrationError(`the smoke prediction failed: ${(error as Error).message}`, { cause: error });
      }
      const problems = predictionProblems(
        manifest,
        outputs[manifest.outputs.probabilities],
        outputs[manifest.outputs.label],
      );
      if (problems.length > 0)
        throw new RegistrationError(`the smoke prediction is not sensible: ${problems.join('; ')}`);
    } finally {
      await session.release();
    }
  }
}
