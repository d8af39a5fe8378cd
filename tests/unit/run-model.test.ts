import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../services/adapters/onnx/graph-builder.ts';
import { loadModel } from '../../services/adapters/onnx/session.ts';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import type { CanonicalBand } from '../../services/domain/imagery/bands.ts';
import { runTiledFeeds, type TiledFeed, windowCentres } from '../../services/usecases/run-model.ts';

/** p = 3×3 mean of (after − before) summed over two bands: a receptive field of one pixel. */
function model(): Uint8Array {
  const g = new GraphBuilder('diff-mean');
  const a = g.input({ name: 'before', shape: [1, 2, 'H', 'W'] });
  const b = g.input({ name: 'after', shape: [1, 2, 'H', 'W'] });
  const sum = g.node('ReduceSum', [g.node('Sub', [b, a]), g.constantInt64([1])], undefined, { keepdims: 1 });
  const p = g.node('AveragePool', [sum], undefined, {
    kernel_shape: [3, 3],
    pads: [1, 1, 1, 1],
    count_include_pad: 0,
  });
  g.output(p, { name: 'probability', shape: [1, 1, 'H', 'W'] });
  return g.toBytes();
}

describe('runTiledFeeds', () => {
  it('windows with enough overlap give exactly the whole-raster result, edge windows and NaN fill included', async () => {
    const W = 301;
    const H = 257;
    const rand = mulberry32(5);
    const plane = () => {
      const a = new Float32Array(W * H);
      for (let i = 0; i < a.length; i++) a[i] = rand() < 0.01 ? Number.NaN : rand();
      return a;
    };
    const order: CanonicalBand[] = ['red', 'nir'];
    const before = new Map<CanonicalBand, Float32Array>([
      ['red', plane()],
      ['nir', plane()],
    ]);
    const after = new Map<CanonicalBand, Float32Array>([
      ['red', plane()],
      ['nir', plane()],
    ]);
    const feeds: TiledFeed[] = [
      { name: 'before', bands: before, order, fallback: { red: 0.1 } },
      { name: 'after', bands: after, order, fallback: {} },
    ];
    const runner = await loadModel(model(), 1);
    try {
      const whole = await runTiledFeeds(runner, { size: 512, overlap: 0 }, W, H, feeds, ['probability']);
      // 64-px windows with 4 px of overlap: 3×3 windows of uneven sizes share each feed's buffer.
      const tiled = await runTiledFeeds(runner, { size: 64, overlap: 4 }, W, H, feeds, ['probability']);
      // Balanced windows up to 1/8 larger: the same numbers.
      const stretched = await runTiledFeeds(runner, { size: 64, overlap: 4 }, W, H, feeds, ['probability'], {
        stretch: 1.125,
      });
      const a = whole.get('probability')!;
      for (const b of [tiled.get('probability')!, stretched.get('probability')!]) {
        expect(b.length).toBe(W * H);
        let maxDiff = 0;
        for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
        expect(maxDiff).toBeLessThan(1e-6);
      }
      expect(a.some((v) => v !== 0)).toBe(true);
    } finally {
      await runner.release();
    }
  });
});

describe('windowCentres', () => {
  it('keeps declared windows when exact, and balances slightly larger ones to save a row of windows', () => {
    // A 1,024 px analysis tile, 512 px windows with 24 px of context.
    expect(windowCentres(1024, 512, 24)).toEqual([
      [0, 464],
      [464, 464],
      [928, 96],
    ]);
    expect(windowCentres(1024, 512, 24, 1.125)).toEqual([
      [0, 512],
      [512, 512],
    ]);
    // Where stretching cannot save a window, the centres are only balanced.
    expect(windowCentres(1500, 512, 24, 1.125)).toEqual([
      [0, 500],
      [500, 500],
      [1000, 500],
    ]);
    expect(windowCentres(100, 512, 24, 1.125)).toEqual([[0, 100]]);
    for (const [n, stretch] of [
      [1024, 1],
      [1024, 1.125],
      [777, 1.125],
    ] as const) {
      const c = windowCentres(n, 64, 4, stretch);
      expect(c.reduce((s, [, len]) => s + len, 0)).toBe(n);
      for (const [, len] of c) expect(len + 8).toBeLessThanOrEqual(Math.floor(64 * stretch));
    }
  });
});
