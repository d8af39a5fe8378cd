import { booleanPointInPolygon, booleanValid, multiPolygon, point, polygon } from '@turf/turf';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import {
  type ChangePolygon,
  erodeValid,
  labelComponents,
  polygonize,
} from '../../services/domain/detectors/polygonize.ts';
import { lonLatCellAreaM2, type Ring } from '../../services/domain/geo/area.ts';

// A lon/lat grid near Hulunbuir: 1e-4° pixels (≈ 7.8 m × 11.1 m), rows going south.
const LON0 = 119.7;
const LAT0 = 49.2;
const D = 1e-4;
const toLonLat = (x: number, y: number): [number, number] => [LON0 + x * D, LAT0 - y * D];

/** Area of one pixel of the grid around row y (exact for that row's latitude band). */
function pixelArea(y: number): number {
  return lonLatCellAreaM2(LON0, LAT0 - (y + 1) * D, D, D);
}

/** A width×height probability raster with `value` on the given pixels, 0 elsewhere. */
function raster(width: number, height: number, on: Iterable<[number, number]>, value = 0.9): Float32Array {
  const p = new Float32Array(width * height);
  for (const [x, y] of on) p[y * width + x] = value;
  return p;
}

function* rect(x0: number, y0: number, w: number, h: number): Generator<[number, number]> {
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) yield [x, y];
}

function run(
  width: number,
  height: number,
  probability: Float32Array,
  extra: { valid?: Uint8Array; minAreaM2?: number } = {},
) {
  return polygonize({
    width,
    height,
    probability,
    threshold: 0.5,
    minAreaM2: extra.minAreaM2 ?? 0,
    toLonLat,
    ...(extra.valid ? { valid: extra.valid } : {}),
  });
}

/** Shoelace signed area in the lon/lat plane: > 0 for counter-clockwise (y up). */
function signedArea(ring: Ring): number {
  let s = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i]!;
    const [x2, y2] = ring[i + 1]!;
    s += x1 * y2 - x2 * y1;
  }
  return s / 2;
}

function geometry(p: ChangePolygon) {
  return p.coordinates.length === 1 ? polygon(p.coordinates[0]!) : multiPolygon(p.coordinates);
}

describe('labelComponents', () => {
  it('joins diagonal neighbours (8-connectivity)', () => {
    // x . .
    // . x .
    // . . x
    const mask = Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const { labels, count } = labelComponents(mask, 3, 3);
    expect(count).toBe(1);
    expect([labels[0], labels[4], labels[8]]).toEqual([1, 1, 1]);
  });

  it('joins anti-diagonal neighbours (north-east)', () => {
    // . x
    // x .
    const { count } = labelComponents(Uint8Array.from([0, 1, 1, 0]), 2, 2);
    expect(count).toBe(1);
  });

  it('merges provisional labels that meet later (a U shape)', () => {
    // x . x
    // x . x
    // x x x
    const mask = Uint8Array.from([1, 0, 1, 1, 0, 1, 1, 1, 1]);
    const { labels, count } = labelComponents(mask, 3, 3);
    expect(count).toBe(1);
    for (let i = 0; i < mask.length; i++) expect(labels[i]).toBe(mask[i] ? 1 : 0);
  });

  it('numbers separate components 1..count in raster order', () => {
    // x . . x
    // . x x .
    // . . . .
    // x . . x
    const mask = Uint8Array.from([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]);
    const { labels, count } = labelComponents(mask, 4, 4);
    expect(count).toBe(3);
    expect(Array.from(labels)).toEqual([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 2, 0, 0, 3]);
  });

  it('does not connect pixels across the row wrap-around', () => {
    // . . x      (2,0) and (0,1) are neighbours in memory, not on the ground;
    // x . x      (2,1)'s north-east index would wrap onto (0,1).
    const mask = Uint8Array.from([0, 0, 1, 1, 0, 1]);
    const { labels, count } = labelComponents(mask, 3, 2);
    expect(count).toBe(2);
    expect(labels[2]).toBe(labels[5]);
    expect(labels[3]).not.toBe(labels[2]);
  });

  it('returns no components for an empty mask', () => {
    const { labels, count } = labelComponents(new Uint8Array(12), 4, 3);
    expect(count).toBe(0);
    expect(labels.every((l) => l === 0)).toBe(true);
  });
});

describe('polygonize', () => {
  it('returns nothing when no pixel reaches the threshold', () => {
    const p = new Float32Array(100).fill(0.49);
    expect(run(10, 10, p)).toEqual([]);
  });

  it('outlines a raster whose every pixel is in exactly as it outlines the same block inside a larger raster', () => {
    for (const [w, h] of [
      [2, 2],
      [5, 3],
      [64, 40],
    ] as const) {
      const probability = Float32Array.from({ length: w * h }, (_, i) => 0.55 + (i % 9) * 0.05);
      const [whole] = run(w, h, probability);
      // The same pixels with a ring of empty ones around them: traced by the contour.
      const padded = new Float32Array((w + 2) * (h + 2));
      for (let y = 0; y < h; y++) padded.set(probability.subarray(y * w, (y + 1) * w), (y + 1) * (w + 2) + 1);
      const [traced] = polygonize({
        width: w + 2,
        height: h + 2,
        probability: padded,
        threshold: 0.5,
        minAreaM2: 0,
        toLonLat: (x, y) => toLonLat(x - 1, y - 1),
      });
      expect(whole!.coordinates).toEqual(traced!.coordinates);
      expect(whole!.areaM2).toBe(traced!.areaM2);
      expect(whole!.confidence).toBeCloseTo(traced!.confidence, 6);
      expect(whole!.pixels).toBe(w * h);
      expect(whole!.bbox).toEqual([0, 0, w, h]);
    }
  });

  it('turns a square blob into one polygon with one ring', () => {
    const out = run(20, 20, raster(20, 20, rect(5, 5, 10, 10)));
    expect(out).toHaveLength(1);
    expect(out[0]!.coordinates).toHaveLength(1);
    expect(out[0]!.coordinates[0]).toHaveLength(1);
    expect(out[0]!.pixels).toBe(100);
    expect(out[0]!.bbox).toEqual([5, 5, 15, 15]);
  });

  it('gives a square blob the area of its pixels, less the half pixel marching squares cuts off its corners', () => {
    const [blob] = run(20, 20, raster(20, 20, rect(5, 5, 10, 10)));
    const cell = pixelArea(10);
    expect(Math.abs(blob!.areaM2 / (99.5 * cell) - 1)).toBeLessThan(1e-4);
    expect(Math.abs(blob!.areaM2 / (100 * cell) - 1)).toBeLessThan(0.01);
  });

  it('keeps a hole as an inner ring', () => {
    const probability = raster(20, 20, rect(3, 3, 9, 9));
    for (const [x, y] of rect(6, 6, 3, 3)) probability[y * 20 + x] = 0;
    const [blob] = run(20, 20, probability);
    expect(blob!.coordinates).toHaveLength(1);
    expect(blob!.coordinates[0]).toHaveLength(2);
    expect(blob!.pixels).toBe(81 - 9);
    const holeCentre = point(toLonLat(7.5, 7.5));
    const bodyPoint = point(toLonLat(4.5, 4.5));
    expect(booleanPointInPolygon(holeCentre, polygon(blob!.coordinates[0]!))).toBe(false);
    expect(booleanPointInPolygon(bodyPoint, polygon(blob!.coordinates[0]!))).toBe(true);
  });

  it('subtracts the hole from the area', () => {
    const probability = raster(20, 20, rect(3, 3, 9, 9));
    for (const [x, y] of rect(6, 6, 3, 3)) probability[y * 20 + x] = 0;
    const [blob] = run(20, 20, probability);
    // Outer outline 81 − ½ pixels, hole outline 9 − ½ pixels.
    expect(Math.abs(blob!.areaM2 / (72 * pixelArea(7)) - 1)).toBeLessThan(1e-4);
  });

  it('winds exteriors counter-clockwise and holes clockwise (RFC 7946)', () => {
    const probability = raster(20, 20, rect(3, 3, 9, 9));
    for (const [x, y] of rect(6, 6, 3, 3)) probability[y * 20 + x] = 0;
    const [exterior, hole] = run(20, 20, probability)[0]!.coordinates[0]!;
    expect(signedArea(exterior!)).toBeGreaterThan(0);
    expect(signedArea(hole!)).toBeLessThan(0);
  });

  it('keeps RFC 7946 winding when the grid maps rows northwards', () => {
    const probability = raster(20, 20, rect(3, 3, 9, 9));
    for (const [x, y] of rect(6, 6, 3, 3)) probability[y * 20 + x] = 0;
    const out = polygonize({
      width: 20,
      height: 20,
      probability,
      threshold: 0.5,
      minAreaM2: 0,
      toLonLat: (x, y) => [LON0 + x * D, LAT0 + y * D],
    });
    const [exterior, hole] = out[0]!.coordinates[0]!;
    expect(signedArea(exterior!)).toBeGreaterThan(0);
    expect(signedArea(hole!)).toBeLessThan(0);
  });

  it('produces closed rings and valid geometries for a random field', () => {
    const rand = mulberry32(2024);
    const w = 40;
    const h = 40;
    const probability = Float32Array.from({ length: w * h }, () => rand());
    const out = run(w, h, probability);
    expect(out.length).toBeGreaterThan(10);
    for (const p of out) {
      for (const poly of p.coordinates) {
        for (const ring of poly) {
          expect(ring.length).toBeGreaterThanOrEqual(4);
          expect(ring.at(-1)).toEqual(ring[0]);
        }
      }
      expect(booleanValid(geometry(p))).toBe(true);
    }
  });

  it('accounts for every above-threshold pixel exactly once', () => {
    const rand = mulberry32(7);
    const w = 30;
    const h = 30;
    const probability = Float32Array.from({ length: w * h }, () => rand());
    const above = probability.filter((v) => v >= 0.5).length;
    const out = run(w, h, probability);
    expect(out.reduce((s, p) => s + p.pixels, 0)).toBe(above);
  });

  it('drops components under minAreaM2', () => {
    const probability = raster(30, 30, [...rect(2, 2, 2, 2), ...rect(10, 10, 8, 8)]);
    const minAreaM2 = 20 * pixelArea(10);
    const out = run(30, 30, probability, { minAreaM2 });
    expect(out).toHaveLength(1);
    expect(out[0]!.bbox).toEqual([10, 10, 18, 18]);
    expect(out[0]!.areaM2).toBeGreaterThanOrEqual(minAreaM2);
  });

  it('keeps a component whose area equals minAreaM2', () => {
    const probability = raster(20, 20, rect(5, 5, 4, 4));
    const [first] = run(20, 20, probability);
    expect(run(20, 20, probability, { minAreaM2: first!.areaM2 })).toHaveLength(1);
  });

  it('never turns invalid pixels into change', () => {
    const w = 20;
    const h = 20;
    const probability = raster(w, h, rect(4, 4, 12, 6));
    const valid = new Uint8Array(w * h).fill(1);
    for (let y = 0; y < h; y++) for (let x = 0; x < 10; x++) valid[y * w + x] = 0;
    const out = run(w, h, probability, { valid });
    expect(out).toHaveLength(1);
    expect(out[0]!.bbox).toEqual([10, 4, 16, 10]);
    expect(out[0]!.pixels).toBe(36);
  });

  it('returns nothing when every pixel is invalid', () => {
    const probability = raster(10, 10, rect(2, 2, 5, 5));
    expect(run(10, 10, probability, { valid: new Uint8Array(100) })).toEqual([]);
  });

  it('sets confidence to the mean probability of the component pixels', () => {
    const w = 12;
    const h = 12;
    const probability = new Float32Array(w * h);
    const values = [0.55, 0.65, 0.75, 0.95];
    let k = 0;
    for (const [x, y] of rect(3, 3, 5, 5)) probability[y * w + x] = values[k++ % values.length]!;
    // A below-threshold pixel inside the bbox is not part of the component.
    probability[5 * w + 5] = 0.2;
    let sum = 0;
    let n = 0;
    for (const v of probability) {
      if (v >= 0.5) {
        sum += v;
        n++;
      }
    }
    const [blob] = run(w, h, probability);
    expect(blob!.pixels).toBe(n);
    expect(blob!.confidence).toBeCloseTo(sum / n, 12);
  });

  it('keeps two separate blobs as two polygons, ranked by confidence × area', () => {
    const probability = raster(30, 30, rect(2, 2, 4, 4), 0.95);
    for (const [x, y] of rect(12, 12, 10, 10)) probability[y * 30 + x] = 0.6;
    const out = run(30, 30, probability);
    expect(out).toHaveLength(2);
    expect(out[0]!.bbox).toEqual([12, 12, 22, 22]);
    expect(out[1]!.bbox).toEqual([2, 2, 6, 6]);
  });

  it('outlines only its own component when another one lies inside its bounding box', () => {
    // A ring of pixels with a separate single-pixel island in its hole.
    const w = 15;
    const h = 15;
    const on: [number, number][] = [];
    for (const [x, y] of rect(2, 2, 9, 9)) if (x < 4 || x > 8 || y < 4 || y > 8) on.push([x, y]);
    on.push([6, 6]);
    const out = run(w, h, raster(w, h, on));
    expect(out).toHaveLength(2);
    const ring = out.find((p) => p.pixels === 81 - 25)!;
    expect(ring.coordinates[0]).toHaveLength(2);
    expect(booleanPointInPolygon(point(toLonLat(6.5, 6.5)), polygon(ring.coordinates[0]!))).toBe(false);
  });
});

describe('erodeValid', () => {
  /** Brute force: observed and no unobserved pixel within `m` (Chebyshev) inside the raster. */
  const naive = (v: Uint8Array, w: number, h: number, m: number) => {
    const out = new Uint8Array(v.length);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        let ok = 1;
        for (let dy = -m; dy <= m && ok; dy++)
          for (let dx = -m; dx <= m; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < h && xx >= 0 && xx < w && !v[yy * w + xx]) {
              ok = 0;
              break;
            }
          }
        out[y * w + x] = ok;
      }
    return out;
  };

  it('grows one unobserved pixel into a (2m+1)² square and leaves the raster border alone', () => {
    const w = 9;
    const h = 7;
    const v = new Uint8Array(w * h).fill(1);
    v[3 * w + 4] = 0;
    const out = erodeValid(v, w, h, 2);
    let removed = 0;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const inSquare = Math.abs(x - 4) <= 2 && Math.abs(y - 3) <= 2;
        expect(out[y * w + x]).toBe(inSquare ? 0 : 1);
        if (!out[y * w + x]) removed++;
      }
    expect(removed).toBe(25);
    expect(out[0]).toBe(1);
  });

  it('matches the brute-force square filter on random masks, and margin 0 is the identity', () => {
    const rand = mulberry32(7);
    for (const [w, h, m] of [
      [13, 11, 1],
      [20, 17, 2],
      [8, 25, 3],
    ] as const) {
      const v = Uint8Array.from({ length: w * h }, () => (rand() < 0.93 ? 1 : 0));
      expect([...erodeValid(v, w, h, m)]).toEqual([...naive(v, w, h, m)]);
      expect(erodeValid(v, w, h, 0)).toBe(v);
    }
  });
});
