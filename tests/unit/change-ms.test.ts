import { describe, expect, it } from 'vitest';
import { boxMeanNode } from '../../services/adapters/onnx/feature-graph.ts';
import { GraphBuilder } from '../../services/adapters/onnx/graph-builder.ts';
import { loadModel } from '../../services/adapters/onnx/session.ts';
import type { CanonicalBand } from '../../services/domain/imagery/bands.ts';
import { buildChangeMsGraph, msFeatureNames } from '../../services/usecases/train-change-ms.ts';

const FULL: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
const FB: CanonicalBand[] = ['blue', 'green', 'red', 'nir'];
const H = 21;
const W = 26;

const mean = (src: Float32Array, k: number, y: number, x: number) => {
  const r = (k - 1) / 2;
  let s = 0;
  let n = 0;
  for (let yy = Math.max(0, y - r); yy <= Math.min(H - 1, y + r); yy++)
    for (let xx = Math.max(0, x - r); xx <= Math.min(W - 1, x + r); xx++) {
      s += src[yy * W + xx]!;
      n++;
    }
  return s / n;
};

describe('boxMeanNode', () => {
  it('is the edge-clipped k×k mean', async () => {
    const g = new GraphBuilder('t');
    const x = g.input({ name: 'x', shape: [1, 1, 'H', 'W'] });
    g.output(boxMeanNode(g, x, 9), { name: 'y', shape: [1, 1, 'H', 'W'] });
    const data = Float32Array.from({ length: H * W }, (_, i) => ((i * 7919) % 101) / 100);
    const r = await loadModel(g.toBytes(''), 1);
    const y = (await r.run({ x: { data, dims: [1, 1, H, W] } })).y!.data as Float32Array;
    await r.release();
    for (const [yy, xx] of [
      [0, 0],
      [10, 13],
      [20, 25],
      [3, 24],
    ] as const)
      expect(y[yy * W + xx]).toBeCloseTo(mean(data, 9, yy, xx), 4);
  });
});

describe('change multi-scale feature graph', () => {
  for (const opts of [{}, { adaptive: true, changeOnly: true }, { lean: true, adaptive: true }]) {
    it(`outputs as many feature planes as it names (${JSON.stringify(opts)}), and CVA at 1 and 31 px`, async () => {
      for (const bands of [FULL, FB]) {
        const C = bands.length;
        const before = Float32Array.from({ length: C * H * W }, (_, i) => 0.05 + ((i * 7919) % 97) / 400);
        const after = Float32Array.from({ length: C * H * W }, (_, i) => 0.05 + ((i * 104729) % 89) / 400);
        const r = await loadModel(buildChangeMsGraph(bands, null, opts), 1);
        const out = (
          await r.run({
            before: { data: before, dims: [1, C, H, W] },
            after: { data: after, dims: [1, C, H, W] },
          })
        ).features!;
        await r.release();
        const a = opts as { adaptive?: boolean; changeOnly?: boolean; lean?: boolean };
        const names = msFeatureNames(bands, a.adaptive, a.changeOnly, false, a.lean);
        expect(out.dims[1]).toBe(names.length);
        const plane = (n: string) => {
          const c = names.indexOf(n);
          expect(c).toBeGreaterThanOrEqual(0);
          return out.data.slice(c * H * W, (c + 1) * H * W) as Float32Array;
        };
        const cva = new Float32Array(H * W);
        for (let i = 0; i < H * W; i++) {
          let s = 0;
          for (let c = 0; c < C; c++) s += (after[c * H * W + i]! - before[c * H * W + i]!) ** 2;
          cva[i] = Math.sqrt(s);
        }
        const got = plane('cva');
        const m31 = plane('mean31_cva');
        for (const i of [0, 100, H * W - 1]) expect(got[i]).toBeCloseTo(cva[i]!, 5);
        expect(m31[5 * W + 7]).toBeCloseTo(mean(cva, 31, 5, 7), 4);
      }
    });
  }
});

describe('change multi-scale graph with sceneZ', () => {
  it('standardises the logit per window: the output ignores a shift and a positive scale of the logit', async () => {
    const bands = FB;
    const opts = { lean: true, adaptive: true, noIndex: true, sceneZ: true };
    const F = msFeatureNames(bands, true, false, false, true, true).length;
    const hidden = 3;
    const w1 = Array.from({ length: hidden * F }, (_, i) => Math.sin(i * 1.7) * 2);
    const b1 = [0.1, -0.2, 0.05];
    const head = (scale: number, shift: number) => ({
      hidden,
      w1,
      b1,
      w2: [1.5, -0.7, 0.9].map((w) => w * scale),
      b2: 0.3 * scale + shift,
      loss: 0,
      epochs: 1,
    });
    const C = bands.length;
    const before = Float32Array.from({ length: C * H * W }, (_, i) => 0.05 + ((i * 7919) % 97) / 400);
    const after = Float32Array.from({ length: C * H * W }, (_, i) => 0.05 + ((i * 104729) % 89) / 400);
    const run = async (scale: number, shift: number) => {
      const r = await loadModel(buildChangeMsGraph(bands, head(scale, shift), opts), 1);
      const out = await r.run({
        before: { data: before, dims: [1, C, H, W] },
        after: { data: after, dims: [1, C, H, W] },
      });
      await r.release();
      return out.probability!.data as Float32Array;
    };
    const a = await run(1, 0);
    const b = await run(3, -2);
    let spread = 0;
    for (let i = 0; i < a.length; i++) {
      expect(b[i]).toBeCloseTo(a[i]!, 4);
      spread = Math.max(spread, Math.abs(a[i]! - a[0]!));
    }
    expect(spread).toBeGreaterThan(0.05);
  });
});
