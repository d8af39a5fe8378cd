import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import {
  fuseModels,
  fusionBlocker,
  fusionGroupKey,
  windowDependence,
} from '../../services/adapters/onnx/fuse.ts';
import { GraphBuilder } from '../../services/adapters/onnx/graph-builder.ts';
import { fusedRunner, loadModel } from '../../services/adapters/onnx/session.ts';

const { onnx } = onnxProto;

/** y = Sigmoid(scale · (a − b) + bias): two models share `scale`, differ in `bias`. */
function model(bias: number, inputs = ['a', 'b']): Uint8Array {
  const g = new GraphBuilder('m');
  const a = g.input({ name: inputs[0]!, shape: [1, 2, 'H', 'W'] });
  const b = g.input({ name: inputs[1]!, shape: [1, 2, 'H', 'W'] });
  const scale = g.constant([2, -3], [1, 2, 1, 1], 'scale');
  const bb = g.constant([bias], [1], 'bias');
  const d = g.node('Sub', [a, b]);
  const y = g.node('Sigmoid', [g.node('Add', [g.node('Mul', [d, scale]), bb])]);
  g.output(y, { name: 'probability', shape: [1, 2, 'H', 'W'] });
  return g.toBytes();
}

function tensor(seed: number, n: number) {
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    data[i] = s / 2 ** 31;
  }
  return data;
}

describe('fuseModels', () => {
  it('runs several models as one graph with shared feeds and deduplicated constants, same numbers', async () => {
    const m1 = model(0.5);
    const m2 = model(-1, ['before', 'after']);
    const fused = fuseModels([
      { prefix: 'one', bytes: m1, inputs: { a: 'x', b: 'y' } },
      { prefix: 'two', bytes: m2, inputs: { before: 'x', after: 'y' } },
    ]);
    const decoded = onnx.ModelProto.decode(fused.bytes);
    expect((decoded.graph!.input ?? []).map((i) => i.name)).toEqual(['x', 'y']);
    // scale is shared, the two biases are not: 3 constants instead of 4.
    expect(decoded.graph!.initializer).toHaveLength(3);
    expect(fused.outputs).toEqual([{ probability: 'one/probability' }, { probability: 'two/probability' }]);

    const dims = [1, 2, 4, 5];
    const x = { data: tensor(1, 40), dims };
    const y = { data: tensor(2, 40), dims };
    const r1 = await loadModel(m1, 1);
    const r2 = await loadModel(m2, 1);
    const rf = await loadModel(fused.bytes, 1);
    const alone1 = await r1.run({ a: x, b: y });
    const alone2 = await r2.run({ before: x, after: y });
    const both = await rf.run({ x, y });
    expect(both['one/probability']!.data).toEqual(alone1.probability!.data);
    expect(both['two/probability']!.data).toEqual(alone2.probability!.data);
    await Promise.all([r1.release(), r2.release(), rf.release()]);
  });

  it('caches one fused session per combination and drops it when a member is released', async () => {
    const r1 = await loadModel(model(0.1), 1);
    const r2 = await loadModel(model(0.2), 1);
    const members = [
      { runner: r1, prefix: 'p', inputs: { a: 'x', b: 'y' } },
      { runner: r2, prefix: 'q', inputs: { a: 'x', b: 'y' } },
    ];
    const f1 = await fusedRunner(members);
    expect(await fusedRunner(members)).toBe(f1);
    await r1.release();
    const r3 = await loadModel(model(0.1), 1);
    const f2 = await fusedRunner([{ ...members[0]!, runner: r3 }, members[1]!]);
    expect(f2).not.toBe(f1);
    await Promise.all([r2.release(), r3.release()]);
  });

  it('refuses what it cannot rename safely, and unmapped inputs', () => {
    expect(() => fuseModels([{ prefix: 'one', bytes: model(0), inputs: { a: 'x' } }])).toThrow(
      /input "b" has no feed/,
    );
    expect(() =>
      fuseModels([
        { prefix: 'p', bytes: model(0), inputs: { a: 'x', b: 'y' } },
        { prefix: 'p', bytes: model(1), inputs: { a: 'x', b: 'y' } },
      ]),
    ).toThrow(/prefixes must differ/);
    expect(fusionBlocker(new Uint8Array([1, 2, 3, 255]))).toBe('not an ONNX model');

    // An If node carries subgraphs whose outer-scope names would need renaming too.
    const withIf = onnx.ModelProto.decode(model(0));
    withIf.graph!.node!.push(
      onnx.NodeProto.create({
        opType: 'If',
        input: ['cond'],
        output: ['z'],
        attribute: [{ name: 'then_branch', type: 5, g: { name: 't' } }],
      }),
    );
    expect(fusionBlocker(onnx.ModelProto.encode(withIf).finish())).toMatch(/control-flow subgraph in If/);

    // Different operator-set versions are different fusion groups.
    const older = onnx.ModelProto.decode(model(0));
    older.opsetImport = [{ domain: '', version: 13 }];
    const olderBytes = onnx.ModelProto.encode(older).finish();
    expect(fusionGroupKey(olderBytes)).not.toBe(fusionGroupKey(model(0)));
    expect(() =>
      fuseModels([
        { prefix: 'p', bytes: model(0), inputs: { a: 'x', b: 'y' } },
        { prefix: 'q', bytes: olderBytes, inputs: { a: 'x', b: 'y' } },
      ]),
    ).toThrow(/different operator sets/);
  });
});

describe('windowDependence', () => {
  const withNode = (build: (g: GraphBuilder, x: string) => string): Uint8Array => {
    const g = new GraphBuilder('w');
    const x = g.input({ name: 'x', shape: [1, 2, 'H', 'W'] });
    g.output(build(g, x), { name: 'y', shape: [1, 1, 'H', 'W'] });
    return g.toBytes();
  };

  it('finds global pooling and reductions over height or width, not channel sums or local pools', () => {
    // Local: a 3×3 mean, a sum over channels (axes as an input constant).
    expect(
      windowDependence(
        withNode((g, x) =>
          g.node('AveragePool', [x], undefined, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        ),
      ),
    ).toBeNull();
    expect(
      windowDependence(
        withNode((g, x) => g.node('ReduceSum', [x, g.constantInt64([1])], undefined, { keepdims: 1 })),
      ),
    ).toBeNull();
    // Window-wide: a mean over the window (axes attribute), a sum with spatial axes as input,
    // a reduction over every axis, global pooling.
    expect(
      windowDependence(
        withNode((g, x) => g.node('ReduceMean', [x], undefined, { axes: [2, 3], keepdims: 1 })),
      ),
    ).toMatch(/spatial/);
    expect(
      windowDependence(
        withNode((g, x) => g.node('ReduceSum', [x, g.constantInt64([-1])], undefined, { keepdims: 1 })),
      ),
    ).toMatch(/spatial/);
    expect(
      windowDependence(withNode((g, x) => g.node('ReduceMax', [x], undefined, { keepdims: 1 }))),
    ).toMatch(/every axis/);
    expect(windowDependence(withNode((g, x) => g.node('GlobalAveragePool', [x])))).toBe('GlobalAveragePool');
  });

  it('knows the installed detectors: only change (window-relative features) reads its whole window', async () => {
    const { readFileSync, readdirSync, existsSync } = await import('node:fs');
    const found: string[] = [];
    for (const id of readdirSync('detectors')) {
      const p = `detectors/${id}/model.onnx`;
      if (existsSync(p) && windowDependence(readFileSync(p))) found.push(id);
    }
    expect(found).toEqual(['change']);
  });
});
