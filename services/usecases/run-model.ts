import { ScratchPool } from '../adapters/cache/scratch.ts';
import type { ModelRunner } from '../adapters/onnx/session.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import type { AlignedPair } from './read-pair.ts';

/**
 * The packed window buffers of `runTiledFeeds` (one per feed, up to 7 MB each), reused across
 * calls: a patrol tile makes two or three calls, and each new buffer counted against V8's
 * external-memory budget that starts full collections.
 */
const feedScratch = new ScratchPool(8);

/**
 * Whether a band holds any NaN, kept per array: a tile's bands are packed into every window of
 * every detector group, and a composite seen clear everywhere has none to replace.
 */
const nanSeen = new WeakMap<Float32Array, boolean>();
function hasNaN(band: Float32Array): boolean {
  let known = nanSeen.get(band);
  if (known === undefined) {
    known = false;
    for (let i = 0; i < band.length; i++) {
      if (Number.isNaN(band[i]!)) {
        known = true;
        break;
      }
    }
    nanSeen.set(band, known);
  }
  return known;
}

/**
 * Pack bands (manifest order) of a window into an NCHW tensor; NaN → fallback or 0. Written
 * into the front of `scratch` when it is large enough (the windows of one tiled run reuse one
 * buffer per feed: each window's tensor is dead once its run has returned).
 */
function packWindow(
  bands: Map<CanonicalBand, Float32Array>,
  order: readonly CanonicalBand[],
  fallback: Record<string, number>,
  width: number,
  x0: number,
  y0: number,
  w: number,
  h: number,
  scratch?: Float32Array,
): Float32Array {
  const n = order.length * w * h;
  const out = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Float32Array(n);
  const plane = w * h;
  order.forEach((band, c) => {
    const src = bands.get(band);
    const fill = fallback[band] ?? 0;
    const start = c * plane;
    if (!src) {
      out.fill(fill, start, start + plane);
      return;
    }
    // Rows copied natively, then one pass replacing NaN with the fill value, if there is any.
    for (let y = 0; y < h; y++) {
      const srcRow = (y0 + y) * width + x0;
      out.set(src.subarray(srcRow, srcRow + w), start + y * w);
    }
    if (!hasNaN(src)) return;
    for (let i = start, end = start + plane; i < end; i++) {
      const v = out[i]!;
      if (Number.isNaN(v)) out[i] = fill;
    }
  });
  return out;
}

/** Bands of both dates on one grid (any source: scene folders, composites, test arrays). */
export interface BandPair {
  width: number;
  height: number;
  before: Map<CanonicalBand, Float32Array>;
  after: Map<CanonicalBand, Float32Array>;
}

/**
 * Run a detector over the whole pair in tiles of `manifest.tile.size` with
 * `manifest.tile.overlap` pixels of context on every side, keeping each tile's centre, so
 * objects on tile edges see the same neighbourhood as anywhere else. Returns the
 * probability raster on the pair's grid.
 */
export async function runTiled(
  runner: ModelRunner,
  manifest: DetectorManifest,
  pair: AlignedPair,
  outputName?: string,
): Promise<Float32Array> {
  const { width, height } = pair.before.stack.grid;
  return runOnBands(
    runner,
    manifest,
    { width, height, before: pair.before.stack.bands, after: pair.after.stack.bands },
    { ...(outputName ? { outputName } : {}) },
  );
}

/** `runTiled` on plain band maps; `bands` overrides the channel order (fallback models). */
export async function runOnBands(
  runner: ModelRunner,
  manifest: DetectorManifest,
  pair: BandPair,
  options: { outputName?: string; bands?: readonly CanonicalBand[] } = {},
): Promise<Float32Array> {
  const order = (options.bands ?? manifest.inputs.bands) as CanonicalBand[];
  const output = options.outputName ?? manifest.output.name;
  const feeds: TiledFeed[] = manifest.inputs.tensors.map((t) => ({
    name: t.name,
    bands: t.date === 'before' ? pair.before : pair.after,
    order,
    fallback: manifest.inputs.fallback,
  }));
  const out = await runTiledFeeds(runner, manifest.tile, pair.width, pair.height, feeds, [output]);
  return out.get(output)!;
}

/** One input tensor of a tiled run: bands packed in `order`, missing bands → `fallback`. */
export interface TiledFeed {
  name: string;
  /** Read-only once passed: whether a band holds NaN is remembered per array (`hasNaN`). */
  bands: Map<CanonicalBand, Float32Array>;
  order: readonly CanonicalBand[];
  fallback: Record<string, number>;
}

/**
 * Where the kept centres of the windows along one axis of `n` pixels start, and how long they are.
 * Exact: centres of `size − 2·overlap` from 0, the last one shorter (the model sees windows of its
 * declared size). With `stretch` > 1 the centres are balanced and a window may grow up to
 * `size · stretch` when that saves a row or column of windows: a 1,024 px tile with 24 px of
 * overlap runs in 2 × 2 windows of 536 px instead of 3 × 3 of up to 512 (1.15 instead of 1.25 M
 * pixels computed, four runs instead of nine).
 */
export function windowCentres(n: number, size: number, overlap: number, stretch = 1): [number, number][] {
  const core = Math.max(1, size - 2 * overlap);
  const out: [number, number][] = [];
  if (stretch <= 1) {
    for (let c = 0; c < n; c += core) out.push([c, Math.min(core, n - c)]);
    return out;
  }
  const maxCore = Math.max(core, Math.floor(size * stretch) - 2 * overlap);
  const count = Math.max(1, Math.ceil(n / maxCore));
  const base = Math.floor(n / count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const len = base + (i < n % count ? 1 : 0);
    out.push([at, len]);
    at += len;
  }
  return out;
}

/**
 * Run a model (one detector's, or several fused into one) over a width × height raster in
 * windows of `tile.size` with `tile.overlap` pixels of context on every side, keeping each
 * window's centre. Returns one single-channel raster per requested output. `stretch` (> 1):
 * windows may be up to that much larger, balanced (see `windowCentres`); only for models whose
 * output at a pixel does not depend on the window's extent (fuse.ts `windowDependence`).
 */
export async function runTiledFeeds(
  runner: ModelRunner,
  tile: { size: number; overlap: number },
  width: number,
  height: number,
  feeds: readonly TiledFeed[],
  outputs: readonly string[],
  options: { stretch?: number } = {},
): Promise<Map<string, Float32Array>> {
  const { size, overlap } = tile;
  const cols = windowCentres(width, size, overlap, options.stretch);
  const rows = windowCentres(height, size, overlap, options.stretch);
  const result = new Map<string, Float32Array>(outputs.map((o) => [o, new Float32Array(width * height)]));
  // One input buffer per feed for every window (sized for the largest).
  const span = (centres: [number, number][], n: number) =>
    Math.max(...centres.map(([c, len]) => Math.min(n, c + len + overlap) - Math.max(0, c - overlap)));
  const scratch = feeds.map((f) =>
    feedScratch.float32(f.order.length * span(cols, width) * span(rows, height)),
  );
  try {
    return await runWindows();
  } finally {
    // The runs have returned: nothing holds a view of the packed windows any more.
    feedScratch.give(...scratch);
  }

  async function runWindows(): Promise<Map<string, Float32Array>> {
    for (const [cy, ch] of rows) {
      for (const [cx, cw] of cols) {
        const x0 = Math.max(0, cx - overlap);
        const y0 = Math.max(0, cy - overlap);
        const x1 = Math.min(width, cx + cw + overlap);
        const y1 = Math.min(height, cy + ch + overlap);
        const w = x1 - x0;
        const h = y1 - y0;
        const packed: Record<string, { data: Float32Array; dims: number[] }> = {};
        for (const [i, f] of feeds.entries()) {
          packed[f.name] = {
            data: packWindow(f.bands, f.order, f.fallback, width, x0, y0, w, h, scratch[i]),
            dims: [1, f.order.length, h, w],
          };
        }
        const got = await runner.run(packed);
        for (const output of outputs) {
          const prob = got[output];
          if (!prob)
            throw new Error(`model has no output "${output}" (outputs: ${Object.keys(got).join(', ')})`);
          const channels = prob.dims[1] ?? 1;
          if (channels !== 1) throw new Error(`runTiled expects a single-channel output, got ${channels}`);
          const out = result.get(output)!;
          for (let y = 0; y < ch; y++) {
            const srcRow = (cy - y0 + y) * w + (cx - x0);
            out.set(prob.data.subarray(srcRow, srcRow + cw), (cy + y) * width + cx);
          }
        }
      }
    }
    return result;
  }
}
