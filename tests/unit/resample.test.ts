import { describe, expect, it } from 'vitest';
import type { Grid } from '../../services/domain/geo/grid.ts';
import { type Raster, resampleSameCrs } from '../../services/domain/imagery/resample.ts';

/** 2×2 pixels of 20 m at (500000, 5300000), values 1 2 / 3 4. */
function coarse(values: number[] = [1, 2, 3, 4]): Raster {
  return {
    grid: { epsg: 32650, width: 2, height: 2, originX: 500_000, originY: 5_300_000, resX: 20, resY: 20 },
    data: Float32Array.from(values),
  };
}

/** 4×4 pixels of 10 m covering the same ground as `coarse()`. */
function fine(overrides: Partial<Grid> = {}): Grid {
  return {
    epsg: 32650,
    width: 4,
    height: 4,
    originX: 500_000,
    originY: 5_300_000,
    resX: 10,
    resY: 10,
    ...overrides,
  };
}

describe('resampleSameCrs', () => {
  it('writes every value of a reused output array: the same result as a new one, on every path', () => {
    // Aligned (shift copy), bilinear and nearest, each partly outside the source.
    const cases: [Grid, 'bilinear' | 'nearest'][] = [
      [fine({ resX: 20, resY: 20, width: 3, height: 3, originX: 500_020 }), 'bilinear'],
      [fine({ width: 6, height: 5, originX: 499_985, originY: 5_300_007 }), 'bilinear'],
      [fine({ width: 6, height: 5, originX: 499_985, originY: 5_300_007 }), 'nearest'],
    ];
    for (const [target, method] of cases) {
      const fresh = resampleSameCrs(coarse(), target, method);
      const into = new Float32Array(target.width * target.height).fill(-999);
      const reused = resampleSameCrs(coarse(), target, method, into);
      expect(reused).toBe(into);
      expect(Array.from(reused)).toEqual(Array.from(fresh));
    }
    expect(() => resampleSameCrs(coarse(), fine(), 'nearest', new Float32Array(3))).toThrow(RangeError);
  });

  it('nearest replicates each coarse pixel into a 2×2 block', () => {
    const out = resampleSameCrs(coarse(), fine(), 'nearest');
    expect(Array.from(out)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it('bilinear values lie between the source minimum and maximum', () => {
    const out = resampleSameCrs(coarse(), fine(), 'bilinear');
    for (const v of out) {
      expect(v).toBeGreaterThanOrEqual(1);
      expect(v).toBeLessThanOrEqual(4);
    }
  });

  it('bilinear interpolates between pixel centres', () => {
    const out = resampleSameCrs(coarse(), fine(), 'bilinear');
    // Target centre (1,1) sits a quarter of the way from source centre (0,0) to (1,1).
    expect(out[1 * 4 + 1]).toBeCloseTo(1 + 0.25 * 1 + 0.25 * 2, 6);
    // Corners clamp to the nearest source pixel.
    expect(out[0]).toBe(1);
    expect(out[15]).toBe(4);
  });

  it('bilinear preserves a constant field exactly', () => {
    const out = resampleSameCrs(coarse([0.3, 0.3, 0.3, 0.3]), fine(), 'bilinear');
    for (const v of out) expect(v).toBe(Math.fround(0.3));
  });

  it('is the identity on the same grid', () => {
    const src = coarse([5, 6, 7, 8]);
    expect(Array.from(resampleSameCrs(src, src.grid, 'bilinear'))).toEqual([5, 6, 7, 8]);
  });

  it('turns target pixels whose centre lies outside the source into NaN', () => {
    // 6×6 grid with a 10 m border all round the source.
    const out = resampleSameCrs(
      coarse(),
      fine({ width: 6, height: 6, originX: 499_990, originY: 5_300_010 }),
      'nearest',
    );
    for (let r = 0; r < 6; r++) {
      for (let c = 0; c < 6; c++) {
        const border = r === 0 || c === 0 || r === 5 || c === 5;
        expect(Number.isNaN(out[r * 6 + c]!)).toBe(border);
      }
    }
  });

  it('bilinear falls back to the nearest value when the neighbourhood touches NaN', () => {
    const out = resampleSameCrs(coarse([1, Number.NaN, 3, 4]), fine(), 'bilinear');
    expect(out[1 * 4 + 1]).toBe(1);
    expect(Number.isNaN(out[2]!)).toBe(true);
  });

  it('throws when the CRS differ', () => {
    expect(() => resampleSameCrs(coarse(), fine({ epsg: 32651 }), 'nearest')).toThrow(/CRS differ/);
  });

  it('on a grid of the same pixels at a whole-pixel offset, copies the source (both methods), NaN outside', () => {
    // 5×4 source of 10 m; a 4×4 target shifted by (+2, −1) pixels hangs over two edges.
    const data = Float32Array.from({ length: 20 }, (_, i) => i + 0.25);
    data[7] = Number.NaN; // a hole in the source stays a hole
    const src: Raster = {
      grid: { epsg: 32650, width: 5, height: 4, originX: 500_000, originY: 5_300_000, resX: 10, resY: 10 },
      data,
    };
    const target = fine({ originX: 500_020, originY: 5_300_010 });
    const expected: number[] = [];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        const sx = c + 2;
        const sy = r - 1;
        expected.push(sx < 5 && sy >= 0 && sy < 4 ? data[sy * 5 + sx]! : Number.NaN);
      }
    for (const method of ['bilinear', 'nearest'] as const)
      expect(Array.from(resampleSameCrs(src, target, method))).toEqual(expected);
    // The general path (a hair off the pixel edges) agrees where the neighbourhood is whole.
    const off = resampleSameCrs(src, fine({ originX: 500_020.001, originY: 5_300_010 }), 'bilinear');
    expect(off[4 * 1 + 0]).toBeCloseTo(expected[4]!, 3);
    expect(off[4 * 3 + 1]).toBeCloseTo(expected[13]!, 3);
  });
});
