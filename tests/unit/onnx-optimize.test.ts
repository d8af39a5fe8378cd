import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { mlpLogit } from '../../services/adapters/onnx/feature-graph.ts';
import { fuseModels } from '../../services/adapters/onnx/fuse.ts';
import { GraphBuilder } from '../../services/adapters/onnx/graph-builder.ts';
import { eliminateCommonSubexpressions, optimizeForCpu } from '../../services/adapters/onnx/optimize.ts';
import { loadModel } from '../../services/adapters/onnx/session.ts';

const { onnx } = onnxProto;

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

/**
 * A scenario-like model: features = Concat(x, |x − y|, 3×3 mean of x) (3·C channels), then a
 * per-pixel MLP (hidden units from `seed`) → sigmoid. With C = 3 there are 9 features: padded
 * to 16 by the rewrite.
 */
function headModel(seed: number, hidden: number, C = 3): Uint8Array {
  const g = new GraphBuilder('head');
  const x = g.input({ name: 'x', shape: [1, C, 'H', 'W'] });
  const y = g.input({ name: 'y', shape: [1, C, 'H', 'W'] });
  const ad = g.node('Abs', [g.node('Sub', [x, y])]);
  const mean = g.node('AveragePool', [x], undefined, {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    count_include_pad: 0,
  });
  const F = 3 * C;
  const features = g.node('Concat', [x, ad, mean], 'features_concat', { axis: 1 });
  const r = lcg(seed);
  const head = {
    w1: Array.from({ length: hidden * F }, () => r() * 2 - 1),
    b1: Array.from({ length: hidden }, () => r() - 0.5),
    w2: Array.from({ length: hidden }, () => r() * 2 - 1),
    b2: r() - 0.5,
    hidden,
  };
  g.output(g.node('Sigmoid', [mlpLogit(g, features, F, head)]), {
    name: 'probability',
    shape: [1, 1, 'H', 'W'],
  });
  return g.toBytes();
}

function ops(bytes: Uint8Array): string[] {
  return (onnx.ModelProto.decode(bytes).graph!.node ?? []).map((n) => n.opType ?? '');
}

function feeds(C = 3, H = 7, W = 9) {
  const r = lcg(99);
  const mk = () => ({ data: Float32Array.from({ length: C * H * W }, () => r()), dims: [1, C, H, W] });
  return { x: mk(), y: mk() };
}

describe('optimizeForCpu', () => {
  it('merges the MLP heads of fused detectors into one padded matrix product, same probabilities', async () => {
    const fused = fuseModels([
      { prefix: 'a', bytes: headModel(1, 4), inputs: { x: 'x', y: 'y' } },
      { prefix: 'b', bytes: headModel(2, 6), inputs: { x: 'x', y: 'y' } },
      { prefix: 'c', bytes: headModel(3, 5), inputs: { x: 'x', y: 'y' } },
    ]);
    const rewritten = optimizeForCpu(fused.bytes);
    const count = (b: Uint8Array, op: string) => ops(b).filter((o) => o === op).length;
    // Stored: three Concats, six Convs, three Relus. Rewritten: the shared features once, one
    // padded Concat, one Conv per layer, one Relu, one Split back into the three heads.
    expect(count(fused.bytes, 'Conv')).toBe(6);
    expect(count(rewritten, 'Conv')).toBe(2);
    expect(count(rewritten, 'Relu')).toBe(1);
    expect(count(rewritten, 'Split')).toBe(1);
    expect(count(rewritten, 'AveragePool')).toBe(1);
    const g = onnx.ModelProto.decode(rewritten).graph!;
    const w1 = g.initializer!.find((t) => t.name?.endsWith('/w1'))!;
    expect(w1.dims!.map(Number)).toEqual([15, 16, 1, 1]);
    // No initializer is left unread (onnxruntime would warn about each).
    const read = new Set(g.node!.flatMap((n) => n.input ?? []));
    expect(g.initializer!.filter((t) => !read.has(t.name ?? ''))).toEqual([]);
    // Topologically ordered, as ONNX requires: every input exists before the node reading it.
    const known = new Set([...g.input!.map((i) => i.name), ...g.initializer!.map((t) => t.name), '']);
    for (const n of g.node!) {
      for (const i of n.input ?? []) expect(known.has(i), `${n.name} reads ${i} before it exists`).toBe(true);
      for (const o of n.output ?? []) known.add(o);
    }

    const optimized = await loadModel(fused.bytes, 1);
    process.env.SKYPATROL_ONNX_REWRITE = '0';
    const plain = await loadModel(fused.bytes, 1);
    delete process.env.SKYPATROL_ONNX_REWRITE;
    const input = feeds();
    const stored = await plain.run(input);
    const got = await optimized.run(input);
    for (const name of Object.values(fused.outputs).map((o) => o.probability!)) {
      const a = stored[name]!.data;
      const b = got[name]!.data;
      expect(b.length).toBe(63);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    }
    await Promise.all([optimized.release(), plain.release()]);
  });

  it('pads a single head whose features are not a multiple of 8, and leaves a graph it cannot use alone', async () => {
    const one = headModel(4, 8);
    const rewritten = optimizeForCpu(one);
    const w1 = onnx.ModelProto.decode(rewritten).graph!.initializer!.find((t) => t.name?.endsWith('/w1'))!;
    expect(w1.dims!.map(Number)).toEqual([8, 16, 1, 1]);
    const runner = await loadModel(one, 1);
    process.env.SKYPATROL_ONNX_REWRITE = '0';
    const plain = await loadModel(one, 1);
    delete process.env.SKYPATROL_ONNX_REWRITE;
    const input = feeds();
    const a = (await plain.run(input)).probability!.data;
    const b = (await runner.run(input)).probability!.data;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-6);
    await Promise.all([runner.release(), plain.release()]);

    // 24 features (C = 8) and one head: nothing to do.
    const aligned = headModel(5, 4, 8);
    expect(optimizeForCpu(aligned)).toBe(aligned);
    // A head whose hidden layer is also a graph output is not a plain head: left alone.
    const m = onnx.ModelProto.decode(headModel(6, 4));
    const relu = m.graph!.node!.find((n) => n.opType === 'Relu')!;
    m.graph!.output!.push({ name: relu.output![0]! });
    const exposed = onnx.ModelProto.encode(m).finish();
    expect(ops(optimizeForCpu(exposed)).filter((o) => o === 'Conv')).toHaveLength(2);
    expect(
      onnx.ModelProto.decode(optimizeForCpu(exposed)).graph!.initializer!.some((t) =>
        t.name?.endsWith('/w1'),
      ),
    ).toBe(false);
  });

  it('splits by attribute below operator set 13', () => {
    const fused = fuseModels([
      { prefix: 'a', bytes: headModel(7, 4), inputs: { x: 'x', y: 'y' } },
      { prefix: 'b', bytes: headModel(8, 4), inputs: { x: 'x', y: 'y' } },
    ]);
    const m = onnx.ModelProto.decode(fused.bytes);
    m.opsetImport = [{ domain: '', version: 12 }];
    const g = onnx.ModelProto.decode(optimizeForCpu(onnx.ModelProto.encode(m).finish())).graph!;
    const split = g.node!.find((n) => n.opType === 'Split')!;
    expect(split.input).toHaveLength(1);
    expect(split.attribute!.find((a) => a.name === 'split')!.ints!.map(Number)).toEqual([1, 1]);
  });

  it('merges repeated computations but never a graph output or a random draw', () => {
    const graph = {
      node: [
        { opType: 'Abs', input: ['x'], output: ['a1'] },
        { opType: 'Abs', input: ['x'], output: ['a2'] },
        { opType: 'Add', input: ['a1', 'a2'], output: ['s'] },
        { opType: 'Abs', input: ['x'], output: ['out'] },
        { opType: 'RandomUniformLike', input: ['x'], output: ['r1'] },
        { opType: 'RandomUniformLike', input: ['x'], output: ['r2'] },
        { opType: 'Add', input: ['r1', 'r2'], output: ['rr'] },
      ],
      output: [{ name: 's' }, { name: 'out' }, { name: 'rr' }],
    };
    expect(eliminateCommonSubexpressions(graph)).toBe(1);
    expect(graph.node.map((n) => n.output[0])).toEqual(['a1', 's', 'out', 'r1', 'r2', 'rr']);
    expect(graph.node[1]!.input).toEqual(['a1', 'a1']);
  });
});
