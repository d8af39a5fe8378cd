import type { Grid } from '../geo/grid.ts';

/** A single-band raster on a grid; NaN marks missing data. */
export interface Raster {
  grid: Grid;
  data: Float32Array;
}

/**
 * Resample `src` onto `target` (same CRS). Bilinear for continuous values (reflectance),
 * nearest for classes/masks. Pixels whose centre falls outside `src` become NaN; a bilinear
 * neighbourhood touching NaN falls back to the nearest valid value so edges do not erode.
 */
export function resampleSameCrs(src: Raster, target: Grid, method: 'bilinear' | 'nearest'): Float32Array {
  if (src.grid.epsg !== target.epsg) {
    throw new Error(`resampleSameCrs: CRS differ (EPSG:${src.grid.epsg} vs EPSG:${target.epsg})`);
  }
  const s = src.grid;
  const aligned = alignedOffset(s, target);
  if (aligned) return shiftCopy(src, target, aligned[0], aligned[1]);
  const out = new Float32Array(target.width * target.height);
  const sw = s.width;
  const sh = s.height;
  const d = src.data;
  // Source pixel coordinate (continuous, centres at .5) of each target column/row.
  const colPos = new Float64Array(target.width);
  for (let c = 0; c < target.width; c++) {
    colPos[c] = (target.originX + (c + 0.5) * target.resX - s.originX) / s.resX;
  }
  for (let r = 0; r < target.height; r++) {
    const sy = (s.originY - (target.originY - (r + 0.5) * target.resY)) / s.resY;
    const rowOff = r * target.width;
    if (sy < 0 || sy >= sh) {
      out.fill(Number.NaN, rowOff, rowOff + target.width);
      continue;
    }
    for (let c = 0; c < target.width; c++) {
      const sx = colPos[c]!;
      if (sx < 0 || sx >= sw) {
        out[rowOff + c] = Number.NaN;
        continue;
      }
      const nx = Math.min(sw - 1, Math.floor(sx));
      const ny = Math.min(sh - 1, Math.floor(sy));
      const nearest = d[ny * sw + nx]!;
      if (method === 'nearest') {
        out[rowOff + c] = nearest;
        continue;
      }
      // Bilinear between the four surrounding pixel centres, clamped at the borders.
      const fx = sx - 0.5;
      const fy = sy - 0.5;
      const x0 = Math.max(0, Math.min(sw - 1, Math.floor(fx)));
      const y0 = Math.max(0, Math.min(sh - 1, Math.floor(fy)));
      const x1 = Math.min(sw - 1, x0 + 1);
      const y1 = Math.min(sh - 1, y0 + 1);
      const tx = Math.max(0, Math.min(1, fx - x0));
      const ty = Math.max(0, Math.min(1, fy - y0));
      const v00 = d[y0 * sw + x0]!;
      const v10 = d[y0 * sw + x1]!;
      const v01 = d[y1 * sw + x0]!;
      const v11 = d[y1 * sw + x1]!;
      const v = (v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty;
      out[rowOff + c] = Number.isNaN(v) ? nearest : v;
    }
  }
  return out;
}

/**
 * Whole-pixel offset of `target` in `src` when both share pixel size and pixel edges (a scene
 * on the analysis grid of its own UTM zone): every target centre then falls on a source
 * centre, where bilinear and nearest both give the source value.
 */
function alignedOffset(s: Grid, t: Grid): [number, number] | null {
  const same = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.abs(b);
  if (!same(t.resX, s.resX) || !same(t.resY, s.resY)) return null;
  const ox = (t.originX - s.originX) / s.resX;
  const oy = (s.originY - t.originY) / s.resY;
  const dx = Math.round(ox);
  const dy = Math.round(oy);
  if (Math.abs(ox - dx) > 1e-6 || Math.abs(oy - dy) > 1e-6) return null;
  return [dx, dy];
}

/** `target` cut from `src` at a whole-pixel offset: rows copied, outside → NaN. */
function shiftCopy(src: Raster, target: Grid, dx: number, dy: number): Float32Array {
  const { width: sw, height: sh } = src.grid;
  const tw = target.width;
  const out = new Float32Array(tw * target.height).fill(Number.NaN);
  const c0 = Math.max(0, -dx);
  const c1 = Math.min(tw, sw - dx);
  if (c1 <= c0) return out;
  for (let r = 0; r < target.height; r++) {
    const sy = r + dy;
    if (sy < 0 || sy >= sh) continue;
    const from = sy * sw + dx;
    out.set(src.data.subarray(from + c0, from + c1), r * tw + c0);
  }
  return out;
}
