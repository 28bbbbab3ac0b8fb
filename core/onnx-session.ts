import * as ort from 'onnxruntime-node';
import type { InputTensor } from './features';

/** Wraps pure input arrays as onnxruntime tensors. */
export function toOrtFeeds(inputs: Record<string, InputTensor>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  return feeds;
}

export async function createSession(onnx: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(onnx);
}
