import type { ModelManifest } from '../../core/manifest';
import type { StepDeps } from './deps';
import { MissingArtifactError } from '../../core/pipeline/errors';

/** A trained candidate as Train wrote it under runs/<model>/<runId>/candidates/<algorithm>/. */
export async function readCandidate(
  deps: StepDeps,
  prefix: string,
): Promise<{ onnx: Uint8Array; manifest: ModelManifest }> {
  const [onnx, manifest] = await Promise.all([
    deps.modelStore.get(`${prefix}model.onnx`),
    deps.modelStore.get(`${prefix}manifest.json`),
  ]);
  if (!onnx || !manifest)
    throw new MissingArtifactError(`candidate ${prefix} is incomplete: model.onnx or manifest.json is missing`);
  return { onnx: onnx.body, manifest: JSON.parse(Buffer.from(manifest.body).toString('utf8')) as ModelManifest };
}
