import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import {
  buildFeatureGraph,
  featureGraphArchitecture,
  featureNames,
} from '../../services/adapters/onnx/feature-graph.ts';
import { loadModel } from '../../services/adapters/onnx/session.ts';
import { FALLBACK_BANDS, FULL_BANDS } from '../../services/usecases/train-scenario.ts';

const { onnx } = onnxProto;

const nodes = (bytes: Uint8Array) =>
  onnx.ModelProto.decode(bytes).graph!.node!.map((n) =>
    JSON.stringify(onnx.NodeProto.toObject(n as InstanceType<typeof onnx.NodeProto>)),
  );

describe('buildFeatureGraph context option', () => {
  it('adds 3 × indices context features after an unchanged base part (fusion shares it)', () => {
    for (const bands of [FULL_BANDS, FALLBACK_BANDS]) {
      const k = featureNames(bands).length;
      const kc = featureNames(bands, true).length;
      expect(featureNames(bands, true).slice(0, k)).toEqual(featureNames(bands));
      const base = nodes(buildFeatureGraph(bands, null));
      const ctx = nodes(buildFeatureGraph(bands, null, undefined, { context: true }));
      // Every base node before the features Concat comes first, in the same order, identical.
      const concat = base.findIndex((n) => n.includes('"opType":"Concat"'));
      expect(concat).toBeGreaterThan(10);
      expect(ctx.slice(0, concat)).toEqual(base.slice(0, concat));
      expect(kc - k).toBe(3 * (bands.length === FULL_BANDS.length ? 6 : 3));
    }
    expect(featureGraphArchitecture(FULL_BANDS, 16, true)).toMatch(/context.*MLP 66→16→1/);
    expect(featureGraphArchitecture(FULL_BANDS, 12)).toMatch(/MLP 48→12→1/);
  });

  it('context features: 15×15 mean and 45×45 box mean match a direct computation', async () => {
    const H = 20;
    const W = 23;
    const C = FALLBACK_BANDS.length;
    const data = new Float32Array(C * H * W);
    for (let i = 0; i < data.length; i++) data[i] = 0.05 + ((i * 7919) % 97) / 300;
    const r = await loadModel(buildFeatureGraph(FALLBACK_BANDS, null, undefined, { context: true }), 1);
    const out = (await r.run({ before: { data, dims: [1, C, H, W] }, after: { data, dims: [1, C, H, W] } }))
      .features!;
    await r.release();
    const names = featureNames(FALLBACK_BANDS, true);
    const plane = (name: string) => {
      const c = names.indexOf(name);
      return out.data.slice(c * H * W, (c + 1) * H * W) as Float32Array;
    };
    const src = plane('ndvi_before');
    const mean = (k: number, y: number, x: number) => {
      const r2 = (k - 1) / 2;
      let s = 0;
      let n = 0;
      for (let yy = Math.max(0, y - r2); yy <= Math.min(H - 1, y + r2); yy++)
        for (let xx = Math.max(0, x - r2); xx <= Math.min(W - 1, x + r2); xx++) {
          s += src[yy * W + xx]!;
          n++;
        }
      return s / n;
    };
    const m15 = plane('mean15_ndvi_before');
    const m45 = plane('mean45_ndvi_before');
    for (const [y, x] of [
      [0, 0],
      [5, 11],
      [19, 22],
      [10, 3],
    ] as const) {
      expect(m15[y * W + x]).toBeCloseTo(mean(15, y, x), 4);
      expect(m45[y * W + x]).toBeCloseTo(mean(45, y, x), 4);
    }
  });
});
