/**
 * Raster helpers for the simulator: polygon and line burning in pixel coordinates and
 * area-weighted downsampling from the 10 m truth grid to a sensor's pixels.
 */

import { type PxRing, scanPolygon } from '../domain/geo/rasterize.ts';

export { type PxRing, scanPolygon };

/** Burn `value` into `target` inside the polygon. Returns the number of pixels set. */
export function fillPolygon(
  target: Uint8Array | Uint16Array | Int32Array,
  width: number,
  height: number,
  rings: PxRing[],
  value: number,
): number {
  let n = 0;
  scanPolygon(rings, width, height, (row, x0, x1) => {
    target.fill(value, row * width + x0, row * width + x1);
    n += x1 - x0;
  });
  return n;
}

/** OR a bit into a mask inside the polygon. */
export function orPolygon(target: Uint8Array, width: number, height: number, rings: PxRing[], bit: number) {
  scanPolygon(rings, width, height, (row, x0, x1) => {
    for (let i = row * width + x0; i < row * width + x1; i++) target[i] = target[i]! | bit;
  });
}

/** Distance from point p to segment ab. */
function segDist(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const l2 = dx * dx + dy * dy;
  let t = l2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / l2 : 0;
  t = t < 0 ? 0 : Math.min(t, 1);
  const qx = ax + t * dx - px;
  const qy = ay + t * dy - py;
  return Math.sqrt(qx * qx + qy * qy);
}

/**
 * Burns a polyline of `widthPx` (may be below one pixel) as coverage fractions 0..1 into
 * `cover` (max of old and new): sub-pixel roads and tracks blend into their pixel.
 */
export function burnLine(
  cover: Float32Array,
  width: number,
  height: number,
  line: [number, number][],
  widthPx: number,
): void {
  const half = widthPx / 2;
  for (let s = 0; s + 1 < line.length; s++) {
    const [ax, ay] = line[s]!;
    const [bx, by] = line[s + 1]!;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - half - 1));
    const x1 = Math.min(width - 1, Math.ceil(Math.max(ax, bx) + half + 1));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by) - half - 1));
    const y1 = Math.min(height - 1, Math.ceil(Math.max(ay, by) + half + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d = segDist(x + 0.5, y + 0.5, ax, ay, bx, by);
        // Box-filter coverage of a unit pixel; a band thinner than a pixel covers at most its width.
        const v = Math.min(Math.min(1, widthPx), Math.max(0, Math.min(1, half + 0.5 - d)));
        const i = y * width + x;
        if (v > cover[i]!) cover[i] = v;
      }
    }
  }
}

/** Integer-factor box average (e.g. 10 m → 20 m with f = 2). NaN-free input assumed. */
export function boxDownsample(src: Float32Array, width: number, height: number, f: number): Float32Array {
  const w = Math.floor(width / f);
  const h = Math.floor(height / f);
  const out = new Float32Array(w * h);
  const inv = 1 / (f * f);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let dy = 0; dy < f; dy++) {
      const row = (y * f + dy) * width;
      for (let x = 0; x < w; x++) {
        let s = 0;
        const base = row + x * f;
        for (let dx = 0; dx < f; dx++) s += src[base + dx]!;
        out[o + x]! += s;
      }
    }
    for (let x = 0; x < w; x++) out[o + x]! *= inv;
  }
  return out;
}

/** Per output cell, the source cells and their weights along one axis (area overlap). */
function axisWeights(n: number, ratio: number): { idx: Int32Array; w: Float32Array; start: Int32Array } {
  const m = Math.floor(n / ratio);
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(m + 1);
  for (let o = 0; o < m; o++) {
    start[o] = idx.length;
    const a = o * ratio;
    const b = a + ratio;
    for (let i = Math.floor(a); i < Math.ceil(b) && i < n; i++) {
      const ov = Math.min(b, i + 1) - Math.max(a, i);
      if (ov > 1e-9) {
        idx.push(i);
        w.push(ov / ratio);
      }
    }
  }
  start[m] = idx.length;
  return { idx: Int32Array.from(idx), w: Float32Array.from(w), start };
}

/**
 * Area-weighted resampling to pixels `ratio` times larger (any ratio ≥ 1, e.g. 1.6 for 16 m
 * from 10 m): each output pixel is the overlap-weighted mean of the source pixels it covers.
 */
export function areaDownsample(
  src: Float32Array,
  width: number,
  height: number,
  ratio: number,
): { data: Float32Array; width: number; height: number } {
  if (Number.isInteger(ratio)) {
    return {
      data: boxDownsample(src, width, height, ratio),
      width: Math.floor(width / ratio),
      height: Math.floor(height / ratio),
    };
  }
  const ax = axisWeights(width, ratio);
  const ay = axisWeights(height, ratio);
  const w = ax.start.length - 1;
  const h = ay.start.length - 1;
  const tmp = new Float32Array(w * height);
  for (let y = 0; y < height; y++) {
    const r = y * width;
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = ax.start[x]!; k < ax.start[x + 1]!; k++) s += src[r + ax.idx[k]!]! * ax.w[k]!;
      tmp[y * w + x] = s;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let k = ay.start[y]!; k < ay.start[y + 1]!; k++) {
      const r = ay.idx[k]! * w;
      const wt = ay.w[k]!;
      const o = y * w;
      for (let x = 0; x < w; x++) out[o + x]! += tmp[r + x]! * wt;
    }
  }
  return { data: out, width: w, height: h };
}

/** Converts a Uint8 mask to Float32 (for area-averaging masks such as cloud fractions). */
export function toFloat(src: Uint8Array | Float32Array, scale = 1): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! * scale;
  return out;
}
