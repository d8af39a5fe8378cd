import { proj4Definition, sameCrs, transformFn } from '../geo/crs.ts';
import type { Grid } from '../geo/grid.ts';
import { resampleSameCrs } from './resample.ts';

/**
 * Reprojection of a raster onto a target grid in any CRS `crs.ts` supports. proj4 is evaluated
 * on a coarse lattice of target pixels only and interpolated bilinearly in between; the lattice
 * is refined until the interpolation error at every lattice cell's centre and edge midpoints
 * (where bilinear interpolation of a smooth map errs most; between conformal projections the
 * centre alone can look exact) is within half of `maxErrorPx` source pixels — the margin
 * covers the error elsewhere in a cell, which can exceed the checked points' somewhat.
 */

export type WarpMethod = 'bilinear' | 'average' | 'nearest';

/** [x0, y0, x1, y1] source pixel window, x1/y1 exclusive. */
export type PixelWindow = [number, number, number, number];

export interface WarpOptions {
  /** Initial lattice spacing in target pixels (default 16). */
  latticeStep?: number;
  /** Largest accepted lattice interpolation error, in source pixels (default 0.1). */
  maxErrorPx?: number;
}

type XY = (x: number, y: number) => [number, number];

function transformOrThrow(from: number, to: number): XY {
  const fn = transformFn(from, to);
  if (!fn) {
    const unknown = proj4Definition(from) ? to : from;
    throw new RangeError(`warp: unsupported CRS EPSG:${unknown}`);
  }
  return fn;
}

/** Map coordinates of `a` → continuous pixel coordinates of `b` (pixel centres at .5). */
function gridToGridFn(a: Grid, b: Grid): (col: number, row: number) => [number, number] {
  const t = transformOrThrow(a.epsg, b.epsg);
  return (col, row) => {
    const [x, y] = t(a.originX + col * a.resX, a.originY - row * a.resY);
    return [(x - b.originX) / b.resX, (b.originY - y) / b.resY];
  };
}

/**
 * Bilinear lattice over the pixel centres of a `width`×`height` grid, for a map `f` of
 * continuous pixel positions. Nodes sit every `step` pixels plus the last column/row.
 */
class Lattice {
  readonly step: number;
  /** Largest error found at the lattice cell centres, in output units. */
  readonly checkedError: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly gx: Float64Array;
  private readonly gy: Float64Array;
  private readonly colCell: Int32Array;
  private readonly colT: Float64Array;
  private readonly rowX: Float64Array;
  private readonly rowY: Float64Array;

  constructor(
    readonly width: number,
    readonly height: number,
    f: (col: number, row: number) => [number, number],
    initialStep: number,
    /** Accepted error given the first lattice cell's extent (x, y change over its width). */
    tolerance: (dx: number, dy: number, cellPx: number) => number,
  ) {
    let step = Math.max(1, Math.floor(initialStep));
    for (;;) {
      const nx = nodeCount(width, step);
      const ny = nodeCount(height, step);
      const gx = new Float64Array((nx + 1) * (ny + 1));
      const gy = new Float64Array((nx + 1) * (ny + 1));
      for (let j = 0; j <= ny; j++) {
        const r = nodePos(j, step, height);
        for (let i = 0; i <= nx; i++) {
          const [x, y] = f(nodePos(i, step, width) + 0.5, r + 0.5);
          gx[j * (nx + 1) + i] = x;
          gy[j * (nx + 1) + i] = y;
        }
      }
      const cellPx = nx > 0 ? nodePos(1, step, width) : 1;
      const tol = nx > 0 ? tolerance(gx[1]! - gx[0]!, gy[1]! - gy[0]!, cellPx) : tolerance(0, 0, 1);
      let err = 0;
      if (step > 1) {
        const at = (col: number, row: number, ix: number, iy: number): void => {
          // Cells with a non-finite node produce NaN output anyway.
          if (!Number.isFinite(ix) || !Number.isFinite(iy)) return;
          const [ex, ey] = f(col + 0.5, row + 0.5);
          if (!Number.isFinite(ex) || !Number.isFinite(ey)) return;
          err = Math.max(err, Math.hypot(ex - ix, ey - iy));
        };
        for (let j = 0; j <= ny; j++) {
          const r0 = nodePos(j, step, height);
          const rm = j < ny ? (r0 + nodePos(j + 1, step, height)) / 2 : r0;
          for (let i = 0; i <= nx; i++) {
            const c0 = nodePos(i, step, width);
            const cm = i < nx ? (c0 + nodePos(i + 1, step, width)) / 2 : c0;
            const k = j * (nx + 1) + i;
            // Cell centres, and the midpoints of the cells' edges: between conformal projections
            // (Web Mercator → UTM) the coordinates are harmonic functions, whose curvature along
            // the two axes cancels at a cell's centre — there, a far too coarse lattice looks
            // exact, while along the edges it errs most.
            if (i < nx && j < ny) {
              at(
                cm,
                rm,
                (gx[k]! + gx[k + 1]! + gx[k + nx + 1]! + gx[k + nx + 2]!) / 4,
                (gy[k]! + gy[k + 1]! + gy[k + nx + 1]! + gy[k + nx + 2]!) / 4,
              );
            }
            if (i < nx) at(cm, r0, (gx[k]! + gx[k + 1]!) / 2, (gy[k]! + gy[k + 1]!) / 2);
            if (j < ny) at(c0, rm, (gx[k]! + gx[k + nx + 1]!) / 2, (gy[k]! + gy[k + nx + 1]!) / 2);
          }
        }
      }
      // Half the tolerance where checked: elsewhere in a cell the error can be somewhat larger.
      if (step === 1 || err <= tol / 2) {
        this.step = step;
        this.checkedError = err;
        this.nx = nx;
        this.ny = ny;
        this.gx = gx;
        this.gy = gy;
        break;
      }
      step = Math.max(1, Math.floor(step / 2));
    }
    this.colCell = new Int32Array(width);
    this.colT = new Float64Array(width);
    for (let c = 0; c < width; c++) {
      const i = Math.min(this.nx - 1, Math.floor(c / this.step));
      if (i < 0) continue; // single-column grid: one node, t = 0
      const c0 = nodePos(i, this.step, width);
      const c1 = nodePos(i + 1, this.step, width);
      this.colCell[c] = i;
      this.colT[c] = (c - c0) / (c1 - c0);
    }
    this.rowX = new Float64Array(this.nx + 1);
    this.rowY = new Float64Array(this.nx + 1);
  }

  /** Interpolated positions of every pixel centre of row `r` into `outX`/`outY`. */
  row(r: number, outX: Float64Array, outY: Float64Array): void {
    const nx1 = this.nx + 1;
    let j = Math.min(this.ny - 1, Math.floor(r / this.step));
    let t = 0;
    if (j < 0) j = 0;
    else {
      const r0 = nodePos(j, this.step, this.height);
      t = (r - r0) / (nodePos(j + 1, this.step, this.height) - r0);
    }
    const o0 = j * nx1;
    const o1 = this.ny > 0 ? o0 + nx1 : o0;
    const gx = this.gx;
    const gy = this.gy;
    const rx = this.rowX;
    const ry = this.rowY;
    for (let i = 0; i < nx1; i++) {
      rx[i] = gx[o0 + i]! + t * (gx[o1 + i]! - gx[o0 + i]!);
      ry[i] = gy[o0 + i]! + t * (gy[o1 + i]! - gy[o0 + i]!);
    }
    const cells = this.colCell;
    const ts = this.colT;
    const single = this.nx === 0;
    for (let c = 0; c < this.width; c++) {
      const i = cells[c]!;
      const u = ts[c]!;
      const x0 = rx[i]!;
      const y0 = ry[i]!;
      outX[c] = single ? x0 : x0 + u * (rx[i + 1]! - x0);
      outY[c] = single ? y0 : y0 + u * (ry[i + 1]! - y0);
    }
  }
}

function nodeCount(n: number, step: number): number {
  return Math.ceil((n - 1) / step);
}

function nodePos(i: number, step: number, n: number): number {
  return Math.min(i * step, n - 1);
}

function checkGrid(g: Grid, what: string): void {
  if (!(g.width >= 1 && g.height >= 1 && g.resX > 0 && g.resY > 0)) {
    throw new RangeError(`warp: ${what} grid must have positive size and resolution`);
  }
}

/** The lattice mapping target pixel centres to continuous source pixel positions. */
function targetLattice(src: Grid, target: Grid, opts: WarpOptions): Lattice {
  const maxErr = opts.maxErrorPx ?? 0.1;
  return new Lattice(
    target.width,
    target.height,
    gridToGridFn(target, src),
    opts.latticeStep ?? 16,
    () => maxErr,
  );
}

/**
 * Continuous source pixel positions (centres at .5) of every target pixel centre, as the warp
 * uses them (lattice-interpolated), with the lattice step and the largest error found when
 * checking the lattice. Exposed for tests and diagnostics.
 */
export function sourcePixelCoords(
  srcGrid: Grid,
  target: Grid,
  opts: WarpOptions = {},
): { x: Float64Array; y: Float64Array; step: number; checkedErrorPx: number } {
  checkGrid(srcGrid, 'source');
  checkGrid(target, 'target');
  const lattice = targetLattice(srcGrid, target, opts);
  const w = target.width;
  const x = new Float64Array(w * target.height);
  const y = new Float64Array(w * target.height);
  const bx = new Float64Array(w);
  const by = new Float64Array(w);
  for (let r = 0; r < target.height; r++) {
    lattice.row(r, bx, by);
    x.set(bx, r * w);
    y.set(by, r * w);
  }
  return { x, y, step: lattice.step, checkedErrorPx: lattice.checkedError };
}

/**
 * The source pixel window needed to warp onto `target` (its footprint's bounding box plus
 * `padPx` pixels for interpolation, clamped to the source), or null when they do not overlap.
 */
export function sourceWindowFor(srcGrid: Grid, target: Grid, padPx = 2): PixelWindow | null {
  checkGrid(srcGrid, 'source');
  checkGrid(target, 'target');
  const f = gridToGridFn(target, srcGrid);
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  const add = (c: number, r: number): void => {
    const [x, y] = f(c, r);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  };
  // A continuous one-to-one map sends the footprint's outline onto the outline of its image, so
  // the outline (sampled densely: curvature between samples is far below a pixel) bounds it.
  const w = target.width;
  const h = target.height;
  const stepC = Math.max(1, Math.min(4, w / 4));
  const stepR = Math.max(1, Math.min(4, h / 4));
  for (let c = 0; c < w; c += stepC) {
    add(c, 0);
    add(c, h);
  }
  for (let r = 0; r < h; r += stepR) {
    add(0, r);
    add(w, r);
  }
  add(w, 0);
  add(w, h);
  if (!Number.isFinite(minX)) return null;
  const x0 = Math.max(0, Math.floor(minX) - padPx);
  const y0 = Math.max(0, Math.floor(minY) - padPx);
  const x1 = Math.min(srcGrid.width, Math.ceil(maxX) + padPx);
  const y1 = Math.min(srcGrid.height, Math.ceil(maxY) + padPx);
  if (x0 >= x1 || y0 >= y1) return null;
  return [x0, y0, x1, y1];
}

/** The grid of a pixel window of `srcGrid`. */
export function windowGrid(srcGrid: Grid, window: PixelWindow): Grid {
  const [x0, y0, x1, y1] = window;
  return {
    ...srcGrid,
    width: x1 - x0,
    height: y1 - y0,
    originX: srcGrid.originX + x0 * srcGrid.resX,
    originY: srcGrid.originY - y0 * srcGrid.resY,
  };
}

/**
 * Warp `src` onto `target`. NaN is no data in and out; a target pixel whose centre falls outside
 * the source is NaN.
 * - `nearest`: the source pixel containing the target centre (masks, classes).
 * - `bilinear`: between the four surrounding source centres, clamped at the source border; a
 *   neighbourhood touching NaN falls back to the nearest value (as `resampleSameCrs`).
 * - `average` (downsampling): mean of the valid source pixels whose centres fall in the target
 *   pixel (each source centre counts in exactly one target pixel); NaN when all of them are NaN,
 *   the nearest value when the footprint holds no source centre at all (upsampling).
 * Same-CRS bilinear/nearest is delegated to `resampleSameCrs`, bit for bit.
 */
export function warp(
  src: { grid: Grid; data: Float32Array },
  target: Grid,
  method: WarpMethod,
  opts: WarpOptions = {},
  /** Same-CRS bilinear/nearest only: the output array to write whole (else a new one). */
  into?: Float32Array,
): Float32Array {
  const s = src.grid;
  checkGrid(s, 'source');
  checkGrid(target, 'target');
  if (src.data.length !== s.width * s.height) {
    throw new RangeError(`warp: source data has ${src.data.length} values for a ${s.width}×${s.height} grid`);
  }
  if (method !== 'bilinear' && method !== 'nearest' && method !== 'average') {
    throw new RangeError(`warp: unknown method ${String(method)}`);
  }
  transformOrThrow(target.epsg, s.epsg);
  if (method !== 'average' && sameCrs(s.epsg, target.epsg)) {
    return resampleSameCrs({ grid: { ...s, epsg: target.epsg }, data: src.data }, target, method, into);
  }

  const tw = target.width;
  const out = new Float32Array(tw * target.height);
  const lattice = targetLattice(s, target, opts);
  const bx = new Float64Array(tw);
  const by = new Float64Array(tw);
  if (method === 'average') sampleAverage(lattice, src, target, opts, out, bx, by);
  else if (method === 'nearest') sampleNearest(lattice, src, out, bx, by);
  else sampleBilinearBands(lattice, s.width, s.height, [src.data], [out], bx, by);
  return out;
}

/** Block means from `scatterSums`; NaN outside the source, nearest where no centre fell. */
function sampleAverage(
  lattice: Lattice,
  src: { grid: Grid; data: Float32Array },
  target: Grid,
  opts: WarpOptions,
  out: Float32Array,
  bx: Float64Array,
  by: Float64Array,
): void {
  const { sum, valid, any } = scatterSums(src, target, opts);
  const sw = src.grid.width;
  const sh = src.grid.height;
  const d = src.data;
  const tw = lattice.width;
  for (let r = 0; r < lattice.height; r++) {
    lattice.row(r, bx, by);
    const off = r * tw;
    for (let c = 0; c < tw; c++) {
      const sx = bx[c]!;
      const sy = by[c]!;
      const k = off + c;
      if (!(sx >= 0 && sx < sw && sy >= 0 && sy < sh)) out[k] = Number.NaN;
      else if (valid[k]! > 0) out[k] = sum[k]! / valid[k]!;
      else if (any[k]! > 0) out[k] = Number.NaN;
      else out[k] = d[Math.floor(sy) * sw + Math.floor(sx)]!;
    }
  }
}

/** Nearest-neighbour sampling along the lattice (one function per method keeps V8 monomorphic). */
function sampleNearest(
  lattice: Lattice,
  src: { grid: Grid; data: Float32Array },
  out: Float32Array,
  bx: Float64Array,
  by: Float64Array,
): void {
  const sw = src.grid.width;
  const sh = src.grid.height;
  const d = src.data;
  const tw = lattice.width;
  for (let r = 0; r < lattice.height; r++) {
    lattice.row(r, bx, by);
    const off = r * tw;
    for (let c = 0; c < tw; c++) {
      const sx = bx[c]!;
      const sy = by[c]!;
      // Also rejects NaN positions (outside the projection's domain).
      out[off + c] =
        sx >= 0 && sx < sw && sy >= 0 && sy < sh ? d[Math.floor(sy) * sw + Math.floor(sx)]! : Number.NaN;
    }
  }
}

/**
 * Bilinear sampling of one or more bands on one source grid (the geometry — source position,
 * neighbours and weights — computed once per target pixel for every band); a neighbourhood
 * touching NaN falls back to the nearest source value. Outside the source: NaN.
 */
function sampleBilinearBands(
  lattice: Lattice,
  sw: number,
  sh: number,
  bands: readonly Float32Array[],
  outs: Float32Array[],
  bx: Float64Array,
  by: Float64Array,
): void {
  const nb = bands.length;
  const tw = lattice.width;
  const d0 = bands[0]!;
  const d1 = bands[nb > 1 ? 1 : 0]!;
  const d2 = bands[nb > 2 ? 2 : 0]!;
  const o0 = outs[0]!;
  const o1 = outs[nb > 1 ? 1 : 0]!;
  const o2 = outs[nb > 2 ? 2 : 0]!;
  for (let r = 0; r < lattice.height; r++) {
    lattice.row(r, bx, by);
    const off = r * tw;
    for (let c = 0; c < tw; c++) {
      const sx = bx[c]!;
      const sy = by[c]!;
      const k = off + c;
      // Also rejects NaN positions (outside the projection's domain).
      if (!(sx >= 0 && sx < sw && sy >= 0 && sy < sh)) {
        for (let b = 0; b < nb; b++) outs[b]![k] = Number.NaN;
        continue;
      }
      // Inside the source (all four neighbours there) the clamps are no-ops and floor is
      // truncation, so they are skipped.
      const fx = sx - 0.5;
      const fy = sy - 0.5;
      const near = (sy | 0) * sw + (sx | 0);
      let i00: number;
      let dx: number;
      let dy: number;
      let tx: number;
      let ty: number;
      if (fx >= 0 && fy >= 0 && fx < sw - 1 && fy < sh - 1) {
        const xa = fx | 0;
        const ya = fy | 0;
        i00 = ya * sw + xa;
        dx = 1;
        dy = sw;
        tx = fx - xa;
        ty = fy - ya;
      } else {
        const xa = Math.max(0, Math.min(sw - 1, Math.floor(fx)));
        const ya = Math.max(0, Math.min(sh - 1, Math.floor(fy)));
        i00 = ya * sw + xa;
        dx = Math.min(sw - 1, xa + 1) - xa;
        dy = (Math.min(sh - 1, ya + 1) - ya) * sw;
        tx = Math.max(0, Math.min(1, fx - xa));
        ty = Math.max(0, Math.min(1, fy - ya));
      }
      const i01 = i00 + dy;
      const ux = 1 - tx;
      const uy = 1 - ty;
      if (nb === 3) {
        // Map tiles' three bands, unrolled (about a third faster than the loop).
        let v = (d0[i00]! * ux + d0[i00 + dx]! * tx) * uy + (d0[i01]! * ux + d0[i01 + dx]! * tx) * ty;
        o0[k] = Number.isNaN(v) ? d0[near]! : v;
        v = (d1[i00]! * ux + d1[i00 + dx]! * tx) * uy + (d1[i01]! * ux + d1[i01 + dx]! * tx) * ty;
        o1[k] = Number.isNaN(v) ? d1[near]! : v;
        v = (d2[i00]! * ux + d2[i00 + dx]! * tx) * uy + (d2[i01]! * ux + d2[i01 + dx]! * tx) * ty;
        o2[k] = Number.isNaN(v) ? d2[near]! : v;
        continue;
      }
      for (let b = 0; b < nb; b++) {
        const d = bands[b]!;
        const v = (d[i00]! * ux + d[i00 + dx]! * tx) * uy + (d[i01]! * ux + d[i01 + dx]! * tx) * ty;
        outs[b]![k] = Number.isNaN(v) ? d[near]! : v;
      }
    }
  }
}

/**
 * Sums of the source values per target pixel, each source centre assigned to the one target
 * pixel containing it (forward lattice over the source window the target needs).
 */
function scatterSums(
  src: { grid: Grid; data: Float32Array },
  target: Grid,
  opts: WarpOptions,
): { sum: Float64Array; valid: Uint32Array; any: Uint32Array } {
  const n = target.width * target.height;
  const sum = new Float64Array(n);
  const valid = new Uint32Array(n);
  const any = new Uint32Array(n);
  const s = src.grid;
  const win = sourceWindowFor(s, target, 1);
  if (!win) return { sum, valid, any };
  const [wx0, wy0, wx1, wy1] = win;
  const sub = windowGrid(s, win);
  const maxErr = opts.maxErrorPx ?? 0.1;
  // The bound is in source pixels; this lattice errs in target pixels, so scale it by the size
  // of a source pixel seen in the target (never loosening beyond maxErr target pixels).
  const lattice = new Lattice(
    sub.width,
    sub.height,
    gridToGridFn(sub, target),
    opts.latticeStep ?? 16,
    (dx, dy, cellPx) => {
      const scale = Math.hypot(dx, dy) / cellPx;
      return maxErr * (Number.isFinite(scale) && scale > 0 ? Math.min(1, scale) : 1);
    },
  );
  const bx = new Float64Array(sub.width);
  const by = new Float64Array(sub.width);
  const tw = target.width;
  const th = target.height;
  const d = src.data;
  for (let r = wy0; r < wy1; r++) {
    lattice.row(r - wy0, bx, by);
    const off = r * s.width;
    for (let c = wx0; c < wx1; c++) {
      const tx = Math.floor(bx[c - wx0]!);
      const ty = Math.floor(by[c - wx0]!);
      if (!(tx >= 0 && tx < tw && ty >= 0 && ty < th)) continue;
      const k = ty * tw + tx;
      any[k]!++;
      const v = d[off + c]!;
      if (Number.isNaN(v)) continue;
      sum[k]! += v;
      valid[k]!++;
    }
  }
  return { sum, valid, any };
}

/**
 * `warp` for a window of the source read on its own (e.g. from a COG): `data` holds the
 * `window` ([x0, y0, x1, y1] of `srcGrid`) row by row. With a window from `sourceWindowFor`
 * the result equals warping the whole source.
 */
export function warpWindow(
  srcGrid: Grid,
  window: PixelWindow,
  data: Float32Array,
  target: Grid,
  method: WarpMethod,
  opts: WarpOptions = {},
  /** As for `warp`: used (and returned) on the same-CRS bilinear/nearest path only. */
  into?: Float32Array,
): Float32Array {
  const [x0, y0, x1, y1] = window;
  if (!(x0 >= 0 && y0 >= 0 && x1 <= srcGrid.width && y1 <= srcGrid.height && x0 < x1 && y0 < y1)) {
    throw new RangeError(
      `warpWindow: window ${JSON.stringify(window)} outside the ${srcGrid.width}×${srcGrid.height} source`,
    );
  }
  return warp({ grid: windowGrid(srcGrid, window), data }, target, method, opts, into);
}

/**
 * `warpWindow` for several bands on one grid and window at once: the geometry (lattice,
 * source positions, bilinear neighbours and weights) is computed once per target pixel and
 * applied to every band in the same pass. For map tiles, whose three bands share one grid,
 * that is a third of the projection and indexing work. Each result equals `warpWindow`'s for
 * that band bit for bit (the cross-CRS bilinear path is fused; other cases call `warpWindow`).
 */
export function warpWindowBands(
  srcGrid: Grid,
  window: PixelWindow,
  bands: Float32Array[],
  target: Grid,
  method: WarpMethod,
  opts: WarpOptions = {},
  /** Arrays to write the results into (one per band, of the target's size; every value is written). */
  into?: Float32Array[],
): Float32Array[] {
  const [x0, y0, x1, y1] = window;
  if (!(x0 >= 0 && y0 >= 0 && x1 <= srcGrid.width && y1 <= srcGrid.height && x0 < x1 && y0 < y1)) {
    throw new RangeError(
      `warpWindow: window ${JSON.stringify(window)} outside the ${srcGrid.width}×${srcGrid.height} source`,
    );
  }
  const s = windowGrid(srcGrid, window);
  if (method !== 'bilinear' || bands.length === 0 || sameCrs(s.epsg, target.epsg)) {
    return bands.map((d) => warpWindow(srcGrid, window, d, target, method, opts));
  }
  checkGrid(s, 'source');
  checkGrid(target, 'target');
  transformOrThrow(target.epsg, s.epsg);
  const sw = s.width;
  const sh = s.height;
  for (const d of bands) {
    if (d.length !== sw * sh) {
      throw new RangeError(`warp: source data has ${d.length} values for a ${sw}×${sh} grid`);
    }
  }
  const tw = target.width;
  const outs = bands.map((_, i) => {
    const o = into?.[i];
    if (o && o.length !== tw * target.height) {
      throw new RangeError(`warp: output has ${o.length} values for a ${tw}×${target.height} target`);
    }
    return o ?? new Float32Array(tw * target.height);
  });
  const lattice = targetLattice(s, target, opts);
  const bx = new Float64Array(tw);
  const by = new Float64Array(tw);
  sampleBilinearBands(lattice, sw, sh, bands, outs, bx, by);
  return outs;
}
