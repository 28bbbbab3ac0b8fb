import { onnx } from 'onnx-proto';
import { delimited, packedFloats, packedVarints, repeatedStrings } from './proto-bytes';

/** Element types we use (onnx TensorProto.DataType numbering). */
export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const STRING = onnx.TensorProto.DataType.STRING;
export const INT64 = onnx.TensorProto.DataType.INT64;

export const ML_DOMAIN = 'ai.onnx.ml';
const OPSET = 17;
const ML_OPSET = 3;

export type AttributeValue =
  number | string | number[] | string[] | { ints: ArrayLike<number> } | { floats: ArrayLike<number> };
export type Dim = number | string;

const AT = onnx.AttributeProto.AttributeType;

// AttributeProto's field numbers for the lists, and NodeProto's, GraphProto's and ModelProto's for
// the fields written by hand (toBytes).
const ATTRIBUTE_FLOATS = 7;
const ATTRIBUTE_INTS = 8;
const ATTRIBUTE_STRINGS = 9;
const NODE_ATTRIBUTE = 5;
const GRAPH_NODE = 1;
const MODEL_GRAPH = 7;

/**
 * One attribute's encoded bytes, as chunks. Lists are written by proto-bytes (packed, one pass
 * over the values), scalars by protobufjs.
 */
function attribute(name: string, value: AttributeValue): Uint8Array[] {
  const encode = (proto: onnx.IAttributeProto) => onnx.AttributeProto.encode(proto).finish();
  if (typeof value === 'string') return [encode({ name, type: AT.STRING, s: Buffer.from(value, 'utf8') })];
  if (typeof value === 'number') {
    return [encode(Number.isInteger(value) ? { name, type: AT.INT, i: value } : { name, type: AT.FLOAT, f: value })];
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return [encode({ name, type: AT.STRINGS }), ...repeatedStrings(ATTRIBUTE_STRINGS, value as string[])];
    }
    // A plain number[] is ambiguous; callers must say { ints } or { floats } for lists.
    throw new Error(`attribute ${name}: wrap numeric lists as { ints: [...] } or { floats: [...] }`);
  }
  if ('ints' in value) return [encode({ name, type: AT.INTS }), ...packedVarints(ATTRIBUTE_INTS, value.ints)];
  return [encode({ name, type: AT.FLOATS }), ...packedFloats(ATTRIBUTE_FLOATS, value.floats)];
}

function valueInfo(name: string, elemType: number, dims: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Builds one ONNX graph node by node. Every model head and the preprocessing use it, so the
 * exported file has unique names, the opsets we test against, and nothing else.
 */
export class GraphBuilder {
  /** Each node without its attributes, and the attributes' encoded bytes. */
  private readonly nodes: { proto: onnx.INodeProto; attributes: Uint8Array[][] }[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A name not used yet in this graph, starting with `prefix`. */
  name(prefix: string): string {
    let candidate = prefix;
    while (this.used.has(candidate)) candidate = `${prefix}_${++this.counter}`;
    this.used.add(candidate);
    return candidate;
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    if (this.used.has(name)) throw new Error(`duplicate graph input name "${name}"`);
    this.used.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** Adds a node; returns its output names (fresh names derived from the op when not given). */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttributeValue> = {},
    options: { outputs?: string[]; domain?: string; outputCount?: number } = {},
  ): string[] {
    const outputs =
      options.outputs ?? Array.from({ length: options.outputCount ?? 1 }, () => this.name(opType.toLowerCase()));
    for (const o of options.outputs ?? []) this.used.add(o);
    this.nodes.push({
      proto: {
        opType,
        domain: options.domain ?? '',
        name: this.name(`${opType}_node`),
        input: inputs,
        output: outputs,
      },
      attributes: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** One-output node shorthand. */
  op(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, domain?: string): string {
    return this.node(opType, inputs, attrs, { domain })[0];
  }

  floats(prefix: string, values: ArrayLike<number>, dims: number[]): string {
    const name = this.name(prefix);
    this.initializers.push({ name, dataType: FLOAT, dims, floatData: Array.from(values) });
    return name;
  }

  int64s(prefix: string, values: ArrayLike<number>, dims: number[]): string {
    const name = this.name(prefix);
    this.initializers.push({ name, dataType: INT64, dims, int64Data: Array.from(values) });
    return name;
  }

  strings(prefix: string, values: string[], dims: number[]): string {
    const name = this.name(prefix);
    this.initializers.push({ name, dataType: STRING, dims, stringData: values.map((s) => Buffer.from(s, 'utf8')) });
    return name;
  }

  /**
   * Serialises the graph as a complete model file. protobufjs writes each message without its
   * nodes (or a node without its attributes); the nodes and attributes follow as further
   * occurrences of their repeated fields, which parsers append in order, and everything is
   * concatenated once.
   */
  toBytes(graphName: string, docString = ''): Uint8Array {
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      producerName: 'serverless-mlops',
      producerVersion: '1',
      docString,
      opsetImport: [
        { domain: '', version: OPSET },
        { domain: ML_DOMAIN, version: ML_OPSET },
      ],
    }).finish();
    const graph = onnx.GraphProto.encode({
      name: graphName,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    }).finish();
    const nodes = this.nodes.flatMap(({ proto, attributes }) =>
      delimited(GRAPH_NODE, [
        onnx.NodeProto.encode(proto).finish(),
        ...attributes.flatMap((chunks) => delimited(NODE_ATTRIBUTE, chunks)),
      ]),
    );
    return Buffer.concat([model, ...delimited(MODEL_GRAPH, [...nodes, graph])]);
  }
}
