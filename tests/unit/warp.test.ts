import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import { tileById } from '../../services/domain/geo/analysis-grid.ts';
import { transformFn } from '../../services/domain/geo/crs.ts';
import type { Grid } from '../../services/domain/geo/grid.ts';
import { resampleSameCrs } from '../../services/domain/imagery/resample.ts';
import {
  sourcePixelCoords,
  sourceWindowFor,
  warp,
  warpWindow,
  windowGrid,
} from '../../services/domain/imagery/warp.ts';

/** Fills a grid with f(map x, map y) at pixel centres. */
function fill(grid: Grid, f: (x: number, y: number) => number): Float32Array {
  const out = new Float32Array(grid.width * grid.height);
  for (let r = 0; r < grid.height; r++) {
    for (let c = 0; c < grid.width; c++) {
      out[r * grid.width + c] = f(grid.originX + (c + 0.5) * grid.resX, grid.originY - (r + 0.5) * grid.resY);
    }
  }
  return out;
}

/** A small UTM 50N grid near Hulunbuir. */
const UTM: Grid = {
  epsg: 32650,
  width: 120,
  height: 90,
  originX: 600_000,
  originY: 5_400_000,
  resX: 10,
  resY: 10,
};

/** A grid in `epsg` with `res` pixels enclosing grid `g` with a margin (in `epsg` units). */
function gridAround(g: Grid, epsg: number, res: number, margin: number): Grid {
  const f = transformFn(g.epsg, epsg)!;
  const corners = [
    f(g.originX, g.originY),
    f(g.originX + g.width * g.resX, g.originY),
    f(g.originX, g.originY - g.height * g.resY),
    f(g.originX + g.width * g.resX, g.originY - g.height * g.resY),
  ];
  const w = Math.min(...corners.map((p) => p[0])) - margin;
  const e = Math.max(...corners.map((p) => p[0])) + margin;
  const s = Math.min(...corners.map((p) => p[1])) - margin;
  const n = Math.max(...corners.map((p) => p[1])) + margin;
  return {
    epsg,
    width: Math.ceil((e - w) / res),
    height: Math.ceil((n - s) / res),
    originX: w,
    originY: n,
    resX: res,
    resY: res,
  };
}

/** An EPSG:4326 grid (0.0001° ≈ 7.5 m × 11 m pixels by default) enclosing `g`. */
function lonLatGridAround(g: Grid, res = 0.0001, marginDeg = 0.002): Grid {
  return gridAround(g, 4326, res, marginDeg);
}

describe('warp', () => {
  it('returns the source unchanged when the target is the source grid (all methods)', () => {
    const data = fill(UTM, (x, y) => Math.sin(x / 97) * Math.cos(y / 53));
    data[17] = Number.NaN;
    for (const method of ['bilinear', 'nearest', 'average'] as const) {
      expect(warp({ grid: UTM, data }, UTM, method)).toEqual(data);
    }
  });

  it('equals resampleSameCrs bit for bit for same-CRS bilinear and nearest', () => {
    const src: Grid = { ...UTM, resX: 20, resY: 20 };
    const data = fill(src, (x, y) => Math.sin(x / 97) + y / 1000);
    data[5] = Number.NaN;
    const target: Grid = { ...UTM, originX: UTM.originX + 3.7, originY: UTM.originY - 12.1 };
    for (const method of ['bilinear', 'nearest'] as const) {
      expect(warp({ grid: src, data }, target, method)).toEqual(
        resampleSameCrs({ grid: src, data }, target, method),
      );
    }
  });

  it('treats EPSG:4490 and EPSG:4326 as the same CRS', () => {
    const src = lonLatGridAround(UTM);
    const data = fill(src, (x, y) => x * 100 + y);
    const target: Grid = { ...src, epsg: 4490, width: 50, height: 40 };
    expect(warp({ grid: src, data }, target, 'bilinear')).toEqual(
      warp({ grid: src, data }, { ...target, epsg: 4326 }, 'bilinear'),
    );
  });

  it('upsamples a linear ramp from 20 m to 10 m exactly in the interior (bilinear)', () => {
    const src: Grid = { ...UTM, width: 60, height: 45, resX: 20, resY: 20 };
    const ramp = (x: number, y: number): number => 0.5 * (x - UTM.originX) - 0.25 * (y - UTM.originY) + 100;
    const out = warp({ grid: src, data: fill(src, ramp) }, UTM, 'bilinear');
    const expected = fill(UTM, ramp);
    // Interior: target centres between the first and last source centres.
    for (let r = 1; r < UTM.height - 1; r++) {
      for (let c = 1; c < UTM.width - 1; c++)
        expect(out[r * UTM.width + c]).toBe(expected[r * UTM.width + c]);
    }
  });

  it('upsamples a ramp across CRSs (EPSG:4326 → UTM 50N) within 0.1 source pixel of slope', () => {
    const src = lonLatGridAround(UTM, 0.0002);
    const data = new Float32Array(src.width * src.height);
    for (let r = 0; r < src.height; r++)
      for (let c = 0; c < src.width; c++) data[r * src.width + c] = c + 2 * r;
    const out = warp({ grid: src, data }, UTM, 'bilinear');
    const toSrc = transformFn(32650, 4326)!;
    let maxErr = 0;
    for (let r = 0; r < UTM.height; r++) {
      for (let c = 0; c < UTM.width; c++) {
        const [lon, lat] = toSrc(UTM.originX + (c + 0.5) * 10, UTM.originY - (r + 0.5) * 10);
        const sx = (lon - src.originX) / src.resX - 0.5;
        const sy = (src.originY - lat) / src.resY - 0.5;
        maxErr = Math.max(maxErr, Math.abs(out[r * UTM.width + c]! - (sx + 2 * sy)));
      }
    }
    // |∇| = √5 per source pixel, so 0.1 px of position error is ≤ 0.224 in value.
    expect(maxErr).toBeLessThan(0.1 * Math.sqrt(5));
  });

  it('round-trips a smooth field UTM 50N → EPSG:4326 → UTM 50N within 1e-3', () => {
    const field = (x: number, y: number): number => Math.sin(x / 700) + Math.cos(y / 900);
    const data = fill(UTM, field);
    const geo = lonLatGridAround(UTM, 0.00005);
    const there = warp({ grid: UTM, data }, geo, 'bilinear');
    const back = warp({ grid: geo, data: there }, UTM, 'bilinear');
    let maxErr = 0;
    for (let r = 2; r < UTM.height - 2; r++) {
      for (let c = 2; c < UTM.width - 2; c++) {
        maxErr = Math.max(maxErr, Math.abs(back[r * UTM.width + c]! - data[r * UTM.width + c]!));
      }
    }
    expect(maxErr).toBeLessThan(1e-3);
  });

  it('averages 10 m onto 30 m as the 3×3 block means', () => {
    const data = fill(UTM, (x, y) => Math.sin(x / 37) * 1000 + (y - UTM.originY) / 7);
    const coarse: Grid = { ...UTM, width: 40, height: 30, resX: 30, resY: 30 };
    const out = warp({ grid: UTM, data }, coarse, 'average');
    for (let r = 0; r < 30; r++) {
      for (let c = 0; c < 40; c++) {
        let sum = 0;
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++) sum += data[(3 * r + dy) * 120 + 3 * c + dx]!;
        expect(out[r * 40 + c]).toBe(Math.fround(sum / 9));
      }
    }
  });

  it('averages only the valid pixels of a block, and gives NaN for an all-NaN block', () => {
    const data = new Float32Array(UTM.width * UTM.height).fill(4);
    data[0] = Number.NaN;
    data[1] = 13;
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) data[dy * 120 + 3 + dx] = Number.NaN;
    const coarse: Grid = { ...UTM, width: 40, height: 30, resX: 30, resY: 30 };
    const out = warp({ grid: UTM, data }, coarse, 'average');
    expect(out[0]).toBeCloseTo((13 + 7 * 4) / 8, 6);
    expect(out[1]).toBeNaN();
    expect(out[2]).toBe(4);
  });

  it('averages a constant across CRSs to the constant, with no holes', () => {
    const src = lonLatGridAround(UTM, 0.00005);
    const coarse: Grid = { ...UTM, width: 40, height: 30, resX: 30, resY: 30 };
    const out = warp(
      { grid: src, data: new Float32Array(src.width * src.height).fill(0.25) },
      coarse,
      'average',
    );
    expect(new Set(out)).toEqual(new Set([0.25]));
  });

  it('keeps class values only with nearest (EPSG:4326 → UTM)', () => {
    const src = lonLatGridAround(UTM, 0.0002);
    const rand = mulberry32(7);
    const classes = [1, 2, 5, 7];
    const data = new Float32Array(src.width * src.height).map(() => classes[Math.floor(rand() * 4)]!);
    const out = warp({ grid: src, data }, UTM, 'nearest');
    expect(new Set(out)).toEqual(new Set(classes));
  });

  it('gives NaN where the target centre falls outside the source', () => {
    const src: Grid = { ...UTM, width: 60 };
    const out = warp({ grid: src, data: new Float32Array(60 * 90).fill(1) }, UTM, 'bilinear');
    expect(out[59]).toBe(1);
    expect(out[60]).toBeNaN();
  });

  it('reads a CGCS2000 Gauss-Krüger source (EPSG:4547) onto UTM 50N', () => {
    const toGk = transformFn(32650, 4547)!;
    const gk = gridAround(UTM, 4547, 10, 100);
    const out = warp({ grid: gk, data: fill(gk, (x) => x / 1000) }, UTM, 'bilinear');
    for (let r = 0; r < UTM.height; r += 7) {
      for (let c = 0; c < UTM.width; c += 7) {
        const [x] = toGk(UTM.originX + (c + 0.5) * 10, UTM.originY - (r + 0.5) * 10);
        expect(out[r * UTM.width + c]).toBeCloseTo(x / 1000, 2);
      }
    }
  });
});

describe('lattice', () => {
  it('stays within 0.1 source pixel of per-pixel proj4 for a 1024 px tile from EPSG:4326', () => {
    const target = tileById('50N-0048-0517').grid;
    const src = lonLatGridAround(target, 0.0001);
    const { x, y, checkedErrorPx } = sourcePixelCoords(src, target);
    const f = transformFn(target.epsg, 4326)!;
    let maxErr = 0;
    for (let r = 0; r < target.height; r += 3) {
      for (let c = 0; c < target.width; c += 3) {
        const [lon, lat] = f(target.originX + (c + 0.5) * 10, target.originY - (r + 0.5) * 10);
        const k = r * target.width + c;
        maxErr = Math.max(
          maxErr,
          Math.hypot((lon - src.originX) / src.resX - x[k]!, (src.originY - lat) / src.resY - y[k]!),
        );
      }
    }
    expect(checkedErrorPx).toBeLessThan(0.05);
    expect(maxErr).toBeLessThan(0.1);
  });

  it('refines itself where a coarse lattice would err (2 km pixels at 72°N)', () => {
    const target: Grid = {
      epsg: 32650,
      width: 256,
      height: 256,
      originX: 200_000,
      originY: 8_000_000,
      resX: 2000,
      resY: 2000,
    };
    const src: Grid = {
      epsg: 4326,
      width: 20_000,
      height: 10_000,
      originX: 100,
      originY: 75,
      resX: 0.002,
      resY: 0.002,
    };
    const { x, y, step } = sourcePixelCoords(src, target, { latticeStep: 64 });
    expect(step).toBeLessThan(64);
    const f = transformFn(32650, 4326)!;
    let maxErr = 0;
    for (let r = 0; r < 256; r++) {
      for (let c = 0; c < 256; c++) {
        const [lon, lat] = f(target.originX + (c + 0.5) * 2000, target.originY - (r + 0.5) * 2000);
        const k = r * 256 + c;
        maxErr = Math.max(maxErr, Math.hypot((lon - 100) / 0.002 - x[k]!, (75 - lat) / 0.002 - y[k]!));
      }
    }
    expect(maxErr).toBeLessThan(0.1);
  });
});

describe('source windows', () => {
  it('is null when source and target do not overlap', () => {
    const far: Grid = { ...UTM, originX: UTM.originX + 50_000 };
    expect(sourceWindowFor(far, UTM)).toBeNull();
  });

  it('is the target footprint plus padding, clamped to the source', () => {
    const src: Grid = {
      ...UTM,
      width: 1000,
      height: 1000,
      originX: UTM.originX - 1000,
      originY: UTM.originY + 500,
    };
    expect(sourceWindowFor(src, UTM, 2)).toEqual([98, 48, 222, 142]);
    expect(sourceWindowFor({ ...src, originX: UTM.originX }, UTM, 5)).toEqual([0, 45, 125, 145]);
  });

  it('warps a window read on its own exactly like the whole source (all methods, across CRSs)', () => {
    const src = lonLatGridAround(UTM, 0.00005, 0.01);
    const data = fill(src, (x, y) => Math.sin(x * 3000) + Math.cos(y * 2000));
    const target: Grid = { ...UTM, width: 40, height: 30, resX: 30, resY: 30 };
    const win = sourceWindowFor(src, target)!;
    const sub = windowGrid(src, win);
    expect(sub.width * sub.height).toBeLessThan(data.length);
    const winData = new Float32Array(sub.width * sub.height);
    for (let r = 0; r < sub.height; r++) {
      winData.set(
        data.subarray((win[1] + r) * src.width + win[0], (win[1] + r) * src.width + win[2]),
        r * sub.width,
      );
    }
    for (const method of ['bilinear', 'nearest', 'average'] as const) {
      expect(warpWindow(src, win, winData, target, method)).toEqual(
        warp({ grid: src, data }, target, method),
      );
    }
  });
});
