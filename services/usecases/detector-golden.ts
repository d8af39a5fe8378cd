import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import type { ModelRunner } from '../adapters/onnx/session.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { conditionPair, loadSimRegion, rasterize } from './eval-data.ts';
import { runOnBands } from './run-model.ts';
import { FULL_BANDS } from './train-scenario.ts';

/**
 * Golden test tiles: a small before/after crop (around a planted event of the detector's
 * scenario in a simulated region) with the model's expected probabilities, stored in
 * `detectors/<id>/golden/tile.json`, so any runtime (or a retrained model) can be checked
 * against them. The conformance test reruns them through the runtime path (runOnBands).
 */
export const GOLDEN_SIZE = 32;

export interface GoldenTile {
  detector: string;
  version: string;
  width: number;
  height: number;
  bands: CanonicalBand[];
  /** base64 float32, band-major [C,H,W]. */
  before: string;
  after: string;
  expected: string;
  /** Output of the declared fallback model on the first `fallbackBands`. */
  fallbackBands?: CanonicalBand[];
  expectedFallback?: string;
  tolerance: number;
  source: { seed: number; event: string | null; x0: number; y0: number };
}

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
export const fromB64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

export function goldenBands(g: GoldenTile, which: 'before' | 'after'): Map<CanonicalBand, Float32Array> {
  const all = fromB64(g[which]);
  const n = g.width * g.height;
  return new Map(g.bands.map((b, k) => [b, all.slice(k * n, (k + 1) * n)]));
}

export async function runGolden(
  d: LoadedDetector,
  g: GoldenTile,
  runner: ModelRunner = d.runner,
  bands: readonly CanonicalBand[] = d.manifest.inputs.bands as CanonicalBand[],
): Promise<Float32Array> {
  const before = goldenBands(g, 'before');
  const after = goldenBands(g, 'after');
  const pick = (m: Map<CanonicalBand, Float32Array>) => new Map(bands.map((b) => [b, m.get(b)!] as const));
  return runOnBands(
    runner,
    d.manifest,
    { width: g.width, height: g.height, before: pick(before), after: pick(after) },
    { bands },
  );
}

export async function readGolden(dir: string): Promise<GoldenTile> {
  return JSON.parse(await readFile(join(dir, 'golden', 'tile.json'), 'utf8')) as GoldenTile;
}

/** Cut a golden tile for a detector from a simulated region (centred on one of its planted clues). */
export async function makeGolden(d: LoadedDetector, regionDir: string): Promise<GoldenTile> {
  const region = await loadSimRegion(regionDir);
  const pair = (await conditionPair(region, 's2', FULL_BANDS))!;
  const { width: W, height: H } = region.tile.grid;
  const own = region.truth.filter(
    (t) => t.scenario === d.manifest.id && t.expected === 'clue' && !t.belowMmu,
  );
  const candidates = own.length ? own : region.truth.filter((t) => !t.belowMmu && t.kind !== 'cloud-shadow');
  const S = GOLDEN_SIZE;
  const bands = d.manifest.inputs.bands as CanonicalBand[];
  const cut = async (ev: (typeof candidates)[number] | null): Promise<GoldenTile> => {
    let cx = W / 2;
    let cy = H / 2;
    if (ev) {
      const m = rasterize(region.tile, ev.coordinates);
      let sx = 0;
      let sy = 0;
      let n = 0;
      for (let i = 0; i < m.length; i++)
        if (m[i]) {
          sx += i % W;
          sy += Math.floor(i / W);
          n++;
        }
      if (n) {
        cx = sx / n;
        cy = sy / n;
      }
    }
    const x0 = Math.max(0, Math.min(W - S, Math.round(cx - S / 2)));
    const y0 = Math.max(0, Math.min(H - S, Math.round(cy - S / 2)));
    const crop = (c: typeof pair.before) => {
      const out = new Float32Array(bands.length * S * S);
      bands.forEach((b, k) => {
        const src = c.bands[b]!;
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++) {
            const v = src[(y0 + y) * W + x0 + x]!;
            out[k * S * S + y * S + x] = Number.isNaN(v) ? 0 : v;
          }
      });
      return out;
    };
    const g: GoldenTile = {
      detector: d.manifest.id,
      version: d.manifest.version,
      width: S,
      height: S,
      bands,
      before: b64(crop(pair.before)),
      after: b64(crop(pair.after)),
      expected: '',
      tolerance: 1e-4,
      source: { seed: region.seed, event: ev?.id ?? null, x0, y0 },
    };
    g.expected = b64(await runGolden(d, g));
    return g;
  };
  // The first candidate whose tile has pixels on both sides of the threshold (a non-trivial golden).
  let g: GoldenTile | null = null;
  for (const ev of candidates) {
    const t = await cut(ev);
    const out = fromB64(t.expected);
    if (out.some((v) => v >= d.manifest.threshold) && out.some((v) => v < d.manifest.threshold)) {
      g = t;
      break;
    }
  }
  g ??= await cut(candidates[0] ?? null);
  const fm = d.manifest.inputs.fallbackModel;
  if (fm && d.fallbackRunner) {
    g.fallbackBands = fm.bands as CanonicalBand[];
    g.expectedFallback = b64(await runGolden(d, g, d.fallbackRunner, fm.bands as CanonicalBand[]));
  }
  return g;
}

export async function writeGolden(dir: string, g: GoldenTile): Promise<void> {
  await mkdir(join(dir, 'golden'), { recursive: true });
  await writeFile(join(dir, 'golden', 'tile.json'), `${JSON.stringify(g, null, 1)}\n`);
}
