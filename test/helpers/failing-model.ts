import { onnx } from 'onnx-proto';
import type { ModelManifest } from '../../core/manifest';
import { type ExportedModel } from '../../training/export';
import { sha256Hex } from '../../core/hash';

/**
 * A model that registers and loads but fails at inference on some rows: a real exported model
 * whose probabilities pass through one extra branch,
 *
 *   index = Cast<int64>(ReduceMax(<feature input>) > threshold) * 10
 *   probabilities = probabilities' + 0 * Gather([0.0], index)
 *
 * For rows up to the threshold the Gather reads element 0 and the answer is the original model's;
 * a batch with any value above it asks for element 10 of a one-element tensor, and onnxruntime
 * throws during run() ("indices element out of data bounds"). The registry's validator and the
 * inference function's load check predict one synthetic row of imputation values (the training
 * mean, below the threshold), so both accept it: the failure shows only on real traffic, as a
 * canary built to fail must.
 */
export function failsAbove(model: ExportedModel, feature: string, threshold: number): ExportedModel {
  const decoded = onnx.ModelProto.decode(model.onnx);
  const graph = decoded.graph;
  if (!graph) throw new Error('the model has no graph');
  const input = model.manifest.features.find((f) => f.name === feature)?.input;
  if (!input) throw new Error(`the model has no feature "${feature}"`);
  const probabilities = model.manifest.outputs.probabilities;
  const inner = `${probabilities}__before_failure`;
  // Everything that made or read the probabilities now uses the inner name; the output is rebuilt below.
  for (const node of graph.node ?? []) {
    node.output = (node.output ?? []).map((name) => (name === probabilities ? inner : name));
    node.input = (node.input ?? []).map((name) => (name === probabilities ? inner : name));
  }
  graph.initializer = [
    ...(graph.initializer ?? []),
    onnx.TensorProto.create({
      name: 'failure_threshold',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [],
      floatData: [threshold],
    }),
    onnx.TensorProto.create({
      name: 'failure_stride',
      dataType: onnx.TensorProto.DataType.INT64,
      dims: [],
      int64Data: [10],
    }),
    onnx.TensorProto.create({
      name: 'failure_table',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [1],
      floatData: [0],
    }),
    onnx.TensorProto.create({
      name: 'failure_zero',
      dataType: onnx.TensorProto.DataType.FLOAT,
      dims: [],
      floatData: [0],
    }),
  ];
  const node = (opType: string, inputs: string[], output: string, attribute: onnx.IAttributeProto[] = []) =>
    onnx.NodeProto.create({ opType, name: `failure_${output}`, input: inputs, output: [output], attribute });
  graph.node = [
    ...(graph.node ?? []),
    node('ReduceMax', [input], 'failure_max', [
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ]),
    node('Greater', ['failure_max', 'failure_threshold'], 'failure_above'),
    node('Cast', ['failure_above'], 'failure_flag', [
      { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.INT64 },
    ]),
    node('Mul', ['failure_flag', 'failure_stride'], 'failure_index'),
    node('Gather', ['failure_table', 'failure_index'], 'failure_value', [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ]),
    node('Mul', ['failure_value', 'failure_zero'], 'failure_nothing'),
    node('Add', [inner, 'failure_nothing'], probabilities),
  ];
  const bytes = onnx.ModelProto.encode(decoded).finish();
  const manifest: ModelManifest = {
    ...model.manifest,
    algorithm: `${model.manifest.algorithm} (fails above ${feature} ${threshold})`,
    sha256: sha256Hex(bytes),
  };
  return { onnx: bytes, manifest };
}
