import { onnx } from 'onnx-proto';
import { FLOAT, GraphBuilder, ML_DOMAIN } from '../../training/onnx/graph-builder';

/**
 * Node attributes are encoded by hand (training/onnx/proto-bytes.ts) and spliced after what
 * protobufjs writes; protobufjs's own decoder must read the file back exactly as built.
 */
describe('ONNX file encoding', () => {
  const ints = [0, 1, 127, 128, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 5, -1, -300];
  const floats = new Float32Array([0, -0.5, 1.25, 3.4e38, -1e-30, Number.POSITIVE_INFINITY]);

  function decode(bytes: Uint8Array): onnx.ModelProto {
    return onnx.ModelProto.decode(bytes);
  }

  /** The decoded graph's nodes with their attributes (decode fills every repeated field). */
  function nodesOf(
    decoded: onnx.ModelProto,
  ): { opType: string; domain: string; output: string[]; attribute: onnx.AttributeProto[] }[] {
    return (decoded.graph as onnx.GraphProto).node as never;
  }

  function model(): onnx.ModelProto {
    const graph = new GraphBuilder();
    const x = graph.input('x', FLOAT, ['N', 2]);
    const first = graph.op('Identity', [x]);
    const second = graph.op(
      'Example',
      [first],
      {
        count: 3,
        scale: 0.5,
        mode: 'SUM',
        sizes: { ints },
        typed: { ints: new Int32Array([5, 6, 7]) },
        weights: { floats },
        modes: ['LEAF', 'BRANCH_LEQ', 'LEAF', 'é'],
      },
      ML_DOMAIN,
    );
    graph.node('Identity', [second], {}, { outputs: ['y'] });
    graph.output('y', FLOAT, ['N', 2]);
    graph.floats('w', [1, 2], [2]);
    return decode(graph.toBytes('example', 'doc'));
  }

  it('keeps the model, the graph and the nodes in order', () => {
    const decoded = model();
    expect(decoded.producerName).toBe('serverless-mlops');
    expect(decoded.docString).toBe('doc');
    expect(decoded.opsetImport.map((o) => o.domain)).toEqual(['', ML_DOMAIN]);
    const graph = decoded.graph as onnx.GraphProto;
    const nodes = nodesOf(decoded);
    expect(graph.name).toBe('example');
    expect(nodes.map((n) => n.opType)).toEqual(['Identity', 'Example', 'Identity']);
    expect(nodes[1].domain).toBe(ML_DOMAIN);
    expect(nodes[2].output).toEqual(['y']);
    expect(graph.input.map((i) => i.name)).toEqual(['x']);
    expect(graph.output.map((o) => o.name)).toEqual(['y']);
    expect(graph.initializer.map((i) => [i.name, i.floatData])).toEqual([['w', [1, 2]]]);
  });

  it('writes every kind of attribute so that it reads back the same', () => {
    const attributes = new Map(nodesOf(model())[1].attribute.map((a) => [a.name, a]));
    const AT = onnx.AttributeProto.AttributeType;
    expect(attributes.get('count')).toMatchObject({ type: AT.INT });
    expect(Number(attributes.get('count')!.i)).toBe(3);
    expect(attributes.get('scale')).toMatchObject({ type: AT.FLOAT, f: 0.5 });
    expect(Buffer.from(attributes.get('mode')!.s ?? []).toString()).toBe('SUM');
    expect(attributes.get('sizes')!.type).toBe(AT.INTS);
    expect(attributes.get('sizes')!.ints.map(Number)).toEqual(ints);
    expect(attributes.get('typed')!.ints.map(Number)).toEqual([5, 6, 7]);
    expect(attributes.get('weights')!.type).toBe(AT.FLOATS);
    expect(attributes.get('weights')!.floats).toEqual(Array.from(floats));
    expect(attributes.get('modes')!.type).toBe(AT.STRINGS);
    expect(attributes.get('modes')!.strings.map((s) => Buffer.from(s).toString())).toEqual([
      'LEAF',
      'BRANCH_LEQ',
      'LEAF',
      'é',
    ]);
  });

  it('refuses a list that is not whole numbers where integers belong', () => {
    const graph = new GraphBuilder();
    expect(() => graph.op('Example', [], { sizes: { ints: [1, 2.5] } })).toThrow(/not an integer: 2.5 at index 1/);
  });

  it('writes a list of a million numbers without a JavaScript value per element', () => {
    const graph = new GraphBuilder();
    const n = 1_000_000;
    const ids = new Int32Array(n).map((_, i) => i);
    graph.op('Example', [], { ids: { ints: ids }, values: { floats: new Float32Array(n).fill(0.25) } });
    const bytes = graph.toBytes('big');
    // Packed: 1-4 bytes per id (varints), 4 per float.
    expect(bytes.length).toBeLessThan(n * 8 + 1000);
    const [ids2, values] = nodesOf(decode(bytes))[0].attribute;
    expect(ids2.ints).toHaveLength(n);
    expect(Number(ids2.ints[n - 1])).toBe(n - 1);
    expect(values.floats[n - 1]).toBe(0.25);
  });
});
