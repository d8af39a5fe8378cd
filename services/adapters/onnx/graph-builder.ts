import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A small builder for ONNX graphs, so detector models are written as code and
 * serialised to real `.onnx` files that onnxruntime (or Netron, or Python) can open.
 */
export type Attr = number | number[] | string | Float32Array;

export interface TensorSpec {
  name: string;
  /** Dimensions; strings are symbolic (e.g. 'H', 'W'). */
  shape: (number | string)[];
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(spec: TensorSpec): string {
    this.inputs.push(valueInfo(spec));
    return spec.name;
  }

  output(from: string, spec: TensorSpec): void {
    this.node('Identity', [from], spec.name);
    this.outputs.push(valueInfo(spec));
  }

  /** A float32 constant tensor stored as an initializer. */
  constant(values: ArrayLike<number>, dims: number[], name?: string): string {
    const n = name ?? `c${this.counter++}`;
    this.initializers.push({
      name: n,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      floatData: Array.from(values),
    });
    return n;
  }

  /** An int64 constant (for Slice/Reshape arguments). */
  constantInt64(values: number[], name?: string): string {
    const n = name ?? `i${this.counter++}`;
    this.initializers.push({
      name: n,
      dims: [values.length],
      dataType: onnx.TensorProto.DataType.INT64,
      int64Data: values,
    });
    return n;
  }

  node(op: string, inputs: string[], outputName?: string, attrs: Record<string, Attr> = {}): string {
    const out = outputName ?? `${op.toLowerCase()}${this.counter++}`;
    this.nodes.push({
      opType: op,
      input: inputs,
      output: [out],
      name: `${op}_${this.nodes.length}`,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  toBytes(docString = ''): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'skypatrol',
      producerVersion: '0.1',
      docString,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(spec: TensorSpec): OnnxTypes.IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: spec.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: Attr): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  }
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  return { name, type: T.INTS, ints: v };
}
