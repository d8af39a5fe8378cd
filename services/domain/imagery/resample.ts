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
 * `into` (the target's size): written whole and returned instead of a new array.
 */
export function resampleSameCrs(
  src: Raster,
  target: Grid,
  method: 'bilinear' | 'nearest',
  into?: Float32Array,
): Float32Array {
  if (src.grid.epsg !== target.epsg) {
    throw new Error(`resampleSameCrs: CRS differ (EPSG:${src.grid.epsg} vs EPSG:${target.epsg})`);
  }
  if (into && into.length !== target.width * target.height) {
    throw new RangeError(
      `resampleSameCrs: output has ${into.length} values for a ${target.width}×${target.height} target`,
    );
  }
  const s = src.grid;
  const aligned = alignedOffset(s, target);
  if (aligned) return shiftCopy(src, target, aligned[0], aligned[1], into);
  const out = into ?? new Float32Array(target.width * target.height);
  const sw = s.width;
  const sh = s.height;
  const d = src.data;
  // Per column (and below, per row): nearest source pixel, bilinear neighbours and weight —
  // computed once instead of for every pixel. Source coordinates have centres at .5.
  const tw = target.width;
  const inCol = new Uint8Array(tw);
  const nearX = new Int32Array(tw);
  const x0s = new Int32Array(tw);
  const x1s = new Int32Array(tw);
  const txs = new Float64Array(tw);
  for (let c = 0; c < tw; c++) {
    const sx = (target.originX + (c + 0.5) * target.resX - s.originX) / s.resX;
    if (sx < 0 || sx >= sw) continue;
    inCol[c] = 1;
    nearX[c] = Math.min(sw - 1, Math.floor(sx));
    const fx = sx - 0.5;
    const x0 = Math.max(0, Math.min(sw - 1, Math.floor(fx)));
    x0s[c] = x0;
    x1s[c] = Math.min(sw - 1, x0 + 1);
    txs[c] = Math.max(0, Math.min(1, fx - x0));
  }
  // The source's columns are a contiguous run of the target's: the mapping is monotonic, pixel
  // sizes being positive (a grid's resX is its pixel width, north-up).
  if (!(s.resX > 0 && target.resX > 0)) throw new Error('resampleSameCrs: pixel sizes must be positive');
  let cLo = tw;
  let cHi = 0;
  for (let c = 0; c < tw; c++)
    if (inCol[c]) {
      if (c < cLo) cLo = c;
      cHi = c + 1;
    }
  if (cHi < cLo) cHi = cLo;
  for (let r = 0; r < target.height; r++) {
    const sy = (s.originY - (target.originY - (r + 0.5) * target.resY)) / s.resY;
    const rowOff = r * tw;
    if (sy < 0 || sy >= sh) {
      out.fill(Number.NaN, rowOff, rowOff + tw);
      continue;
    }
    const nearRow = Math.min(sh - 1, Math.floor(sy)) * sw;
    if (method === 'nearest') {
      for (let c = 0; c < tw; c++) out[rowOff + c] = inCol[c] ? d[nearRow + nearX[c]!]! : Number.NaN;
      continue;
    }
    // Bilinear between the four surrounding pixel centres, clamped at the borders; a
    // neighbourhood touching NaN falls back to the nearest value.
    const fy = sy - 0.5;
    const y0 = Math.max(0, Math.min(sh - 1, Math.floor(fy)));
    const row0 = y0 * sw;
    const row1 = Math.min(sh - 1, y0 + 1) * sw;
    const ty = Math.max(0, Math.min(1, fy - y0));
    const wy = 1 - ty;
    // Columns outside the source are NaN; inside, the source columns only grow with c.
    if (cLo > 0) out.fill(Number.NaN, rowOff, rowOff + cLo);
    if (cHi < tw) out.fill(Number.NaN, rowOff + cHi, rowOff + tw);
    for (let c = cLo; c < cHi; c++) {
      const x0 = x0s[c]!;
      const x1 = x1s[c]!;
      const tx = txs[c]!;
      const wx = 1 - tx;
      const v =
        (d[row0 + x0]! * wx + d[row0 + x1]! * tx) * wy + (d[row1 + x0]! * wx + d[row1 + x1]! * tx) * ty;
      out[rowOff + c] = Number.isNaN(v) ? d[nearRow + nearX[c]!]! : v;
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
function shiftCopy(src: Raster, target: Grid, dx: number, dy: number, into?: Float32Array): Float32Array {
  const { width: sw, height: sh } = src.grid;
  const tw = target.width;
  const out = (into ?? new Float32Array(tw * target.height)).fill(Number.NaN);
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
