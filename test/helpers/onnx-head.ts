import * as ort from 'onnxruntime-node';
import type { FittedModel } from '../../training/algorithms/types';
import { type CsrMatrix, toFloat32 } from '../../training/matrix';
import { FLOAT, GraphBuilder } from '../../training/onnx/graph-builder';

/**
 * Runs only a model's head (encoded features -> probabilities) in real onnxruntime, so an
 * algorithm's export can be checked without the preprocessing in front of it.
 */
export async function runHeadInOnnxRuntime(model: FittedModel, x: CsrMatrix): Promise<Float32Array> {
  const graph = new GraphBuilder();
  const features = graph.input('features', FLOAT, ['N', x.cols]);
  const probabilities = model.toOnnx(graph, features);
  const out = graph.op('Identity', [probabilities]);
  graph.output(out, FLOAT, ['N', model.nClasses]);
  const session = await ort.InferenceSession.create(graph.toBytes('head'));
  const result = await session.run({ features: new ort.Tensor('float32', toFloat32(x), [x.rows, x.cols]) });
  return result[out].data as Float32Array;
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
