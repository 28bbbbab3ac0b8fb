import { onnx } from 'onnx-proto';

/** Element types we use (onnx TensorProto.DataType numbering). */
export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const STRING = onnx.TensorProto.DataType.STRING;
export const INT64 = onnx.TensorProto.DataType.INT64;

export const ML_DOMAIN = 'ai.onnx.ml';
const OPSET = 17;
const ML_OPSET = 3;

export type AttributeValue = number | string | number[] | string[] | { ints: number[] } | { floats: number[] };
export type Dim = number | string;

const AT = onnx.AttributeProto.AttributeType;

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  if (typeof value === 'string') return { name, type: AT.STRING, s: Buffer.from(value, 'utf8') };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: AT.INT, i: value } : { name, type: AT.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: AT.STRINGS, strings: (value as string[]).map((s) => Buffer.from(s, 'utf8')) };
    }
    // A plain number[] is ambiguous; callers must say { ints } or { floats } for lists.
    throw new Error(`attribute ${name}: wrap numeric lists as { ints: [...] } or { floats: [...] }`);
  }
  if ('ints' in value) return { name, type: AT.INTS, ints: value.ints };
  return { name, type: AT.FLOATS, floats: value.floats };
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
  private readonly nodes: onnx.INodeProto[] = [];
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
      opType,
      domain: options.domain ?? '',
      name: this.name(`${opType}_node`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
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

  /** Serialises the graph as a complete model file. */
  toBytes(graphName: string, docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'serverless-mlops',
      producerVersion: '1',
      docString,
      opsetImport: [
        { domain: '', version: OPSET },
        { domain: ML_DOMAIN, version: ML_OPSET },
      ],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
