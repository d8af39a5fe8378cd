import { join } from 'node:path';
import { averagePool } from '../adapters/onnx/feature-graph.ts';
import { GraphBuilder } from '../adapters/onnx/graph-builder.ts';
import { loadModel } from '../adapters/onnx/session.ts';
import { readPlainTiff } from '../adapters/raster/plain-tiff.ts';
import { mulberry32, precisionRecall } from '../domain/detectors/logistic.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import { fitMlp, type MlpFit } from '../domain/detectors/mlp.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { matchMeanStd } from '../domain/imagery/radiometry.ts';
import { readAlignedPair } from './read-pair.ts';
import { runOnBands } from './run-model.ts';

/**
 * The `change` detector as a small convolutional network — structurally unlike the scenario
 * graphs (no index arithmetic): before, after → Concat(before, after − before) → Conv 3×3
 * (2C→16) → Relu → Conv 1×1 (16→1) → Sigmoid → 3×3 mean. Its weights are learned on OSCD as
 * an MLP over 3×3 patches (exactly the convolution's receptive field; the standardisation is
 * folded into the first layer). Evaluated leave-one-city-out with a change-vector-analysis +
 * Otsu baseline computed in the same run.
 */
export const CONV_HIDDEN = 16;

export function buildChangeConvGraph(bands: readonly CanonicalBand[], fit: MlpFit): Uint8Array {
  const C = bands.length;
  const g = new GraphBuilder('skypatrol-change-conv');
  const before = g.input({ name: 'before', shape: [1, C, 'H', 'W'] });
  const after = g.input({ name: 'after', shape: [1, C, 'H', 'W'] });
  const x = g.node('Concat', [before, g.node('Sub', [after, before])], undefined, { axis: 1 });
  const w1 = g.constant(fit.w1, [fit.hidden, 2 * C, 3, 3], 'conv1_w');
  const b1 = g.constant(fit.b1, [fit.hidden], 'conv1_b');
  const h = g.node('Relu', [
    g.node('Conv', [x, w1, b1], undefined, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  ]);
  const w2 = g.constant(fit.w2, [1, fit.hidden, 1, 1], 'conv2_w');
  const b2 = g.constant([fit.b2], [1], 'conv2_b');
  const p = g.node('Sigmoid', [g.node('Conv', [h, w2, b2])]);
  const out = averagePool(g, p, 3);
  g.output(out, { name: 'probability', shape: [1, 1, 'H', 'W'] });
  return g.toBytes(
    'Skypatrol change detector: 2-layer convolutional network (3×3 then 1×1), trained on OSCD',
  );
}

interface City {
  name: string;
  width: number;
  height: number;
  before: Map<CanonicalBand, Float32Array>;
  after: Map<CanonicalBand, Float32Array>;
  valid: Uint8Array;
  labels: Uint8Array;
}

async function cityLabels(oscdDir: string, city: string): Promise<Uint8Array> {
  const cm = await readPlainTiff(join(oscdDir, city, 'cm', `${city}-cm.tif`));
  let max = 0;
  for (let i = 0; i < cm.data.length; i++) max = Math.max(max, cm.data[i]!);
  const changed = max >= 2 ? 2 : 1;
  return Uint8Array.from(cm.data, (v) => (v === changed ? 1 : 0));
}

export async function loadOscdCity(oscdDir: string, city: string, manifest: DetectorManifest): Promise<City> {
  const pair = await readAlignedPair(join(oscdDir, city, 'imgs_1'), join(oscdDir, city, 'imgs_2'), manifest);
  const { width, height } = pair.before.stack.grid;
  const before = new Map<CanonicalBand, Float32Array>();
  const after = new Map<CanonicalBand, Float32Array>();
  for (const b of manifest.inputs.bands as CanonicalBand[]) {
    before.set(b, pair.before.stack.bands.get(b)!);
    after.set(b, pair.after.stack.bands.get(b)!);
  }
  return {
    name: city,
    width,
    height,
    before,
    after,
    valid: pair.valid,
    labels: await cityLabels(oscdDir, city),
  };
}

/** Patch rows (2C × 3 × 3, the first conv's weight order) at pixel indices. */
function patches(city: City, bands: readonly CanonicalBand[], idx: number[], out: number[]): void {
  const { width: W, height: H } = city;
  const chans: Float32Array[] = [];
  for (const b of bands) chans.push(city.before.get(b)!);
  for (const b of bands) {
    const a = city.after.get(b)!;
    const bb = city.before.get(b)!;
    const d = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) d[i] = a[i]! - bb[i]!;
    chans.push(d);
  }
  for (const i of idx) {
    const x = i % W;
    const y = (i / W) | 0;
    for (const ch of chans) {
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          const v = xx < 0 || yy < 0 || xx >= W || yy >= H ? 0 : ch[yy * W + xx]!;
          out.push(Number.isNaN(v) ? 0 : v);
        }
      }
    }
  }
}

/** Otsu's threshold of values (256 bins between min and max). */
export function otsu(values: Float32Array): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const bins = new Float64Array(256);
  const w = (hi - lo) / 256 || 1;
  for (const v of values) bins[Math.min(255, Math.floor((v - lo) / w))]!++;
  const total = values.length;
  let sum = 0;
  for (let k = 0; k < 256; k++) sum += k * bins[k]!;
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let bestK = 0;
  for (let k = 0; k < 256; k++) {
    wB += bins[k]!;
    if (!wB) continue;
    const wF = total - wB;
    if (!wF) break;
    sumB += k * bins[k]!;
    const mB = sumB / wB;
    const mF = (sum - sumB) / wF;
    const between = wB * wF * (mB - mF) ** 2;
    if (between > best) {
      best = between;
      bestK = k;
    }
  }
  return lo + (bestK + 1) * w;
}

/** Change-vector analysis: |after − before| over the bands (after matched to before), Otsu threshold. */
export function cvaOtsu(city: City, bands: readonly CanonicalBand[]): Uint8Array {
  const n = city.width * city.height;
  const mag = new Float32Array(n);
  for (const b of bands) {
    const before = city.before.get(b)!;
    const after = matchMeanStd(before, city.after.get(b)!);
    for (let i = 0; i < n; i++) {
      const d = after[i]! - before[i]!;
      if (!Number.isNaN(d)) mag[i]! += d * d;
    }
  }
  for (let i = 0; i < n; i++) mag[i] = Math.sqrt(mag[i]!);
  const t = otsu(mag.filter((_, i) => city.valid[i]));
  return Uint8Array.from(mag, (v) => (v > t ? 1 : 0));
}

export interface LocoRow {
  city: string;
  model: { precision: number; recall: number; f1: number; tp: number; fp: number; fn: number };
  cva: { precision: number; recall: number; f1: number; tp: number; fp: number; fn: number };
  threshold: number;
}

/** A model's probabilities on each city (the model's own tiling). */
export async function cityProbabilities(
  bytes: Uint8Array,
  manifest: DetectorManifest,
  cities: City[],
  bands: readonly CanonicalBand[],
): Promise<{ p: Float32Array; c: City }[]> {
  const runner = await loadModel(bytes, 1);
  try {
    const out: { p: Float32Array; c: City }[] = [];
    for (const c of cities) {
      out.push({
        c,
        p: await runOnBands(
          runner,
          manifest,
          { width: c.width, height: c.height, before: c.before, after: c.after },
          { bands },
        ),
      });
    }
    return out;
  } finally {
    await runner.release();
  }
}

/** The threshold (two decimals) with the highest F1 pooled over the cities, swept from `from` to `to`. */
export function bestPooledThreshold(
  probs: { p: Float32Array; c: City }[],
  sweep: { from: number; to: number; step: number },
): { t: number; f1: number } {
  let best = { t: 0.5, f1: -1 };
  for (let t = sweep.from; t <= sweep.to; t += sweep.step) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const { p, c } of probs) {
      const r = precisionRecall(
        p.map((v) => (v >= t ? 1 : 0)),
        c.labels,
        c.valid,
      );
      tp += r.tp;
      fp += r.fp;
      fn += r.fn;
    }
    const f1 = (2 * tp) / (2 * tp + fp + fn || 1);
    if (f1 > best.f1) best = { t: Math.round(t * 100) / 100, f1 };
  }
  return best;
}

/** A held-out city's row: the model at `threshold`, and CVA + Otsu on the same pixels. */
export function scoreHeldOut(
  held: City,
  p: Float32Array,
  threshold: number,
  bands: readonly CanonicalBand[],
): LocoRow {
  const pick = (r: ReturnType<typeof precisionRecall>) => ({
    precision: r.precision,
    recall: r.recall,
    f1: r.f1,
    tp: r.tp,
    fp: r.fp,
    fn: r.fn,
  });
  const m = precisionRecall(
    p.map((v) => (v >= threshold ? 1 : 0)),
    held.labels,
    held.valid,
  );
  const c = precisionRecall(cvaOtsu(held, bands), held.labels, held.valid);
  return { city: held.name, model: pick(m), cva: pick(c), threshold };
}

/** Pooled precision, recall and F1 of the model and of CVA + Otsu over the held-out rows. */
export function pooledLoco(rows: LocoRow[]): { model: LocoRow['model']; cva: LocoRow['cva'] } {
  const pooled = (k: 'model' | 'cva') => {
    const t = { tp: 0, fp: 0, fn: 0 };
    for (const r of rows) {
      t.tp += r[k].tp;
      t.fp += r[k].fp;
      t.fn += r[k].fn;
    }
    const precision = t.tp / (t.tp + t.fp || 1);
    const recall = t.tp / (t.tp + t.fn || 1);
    return { precision, recall, f1: (2 * t.tp) / (2 * t.tp + t.fp + t.fn || 1), ...t };
  };
  return { model: pooled('model'), cva: pooled('cva') };
}

/** Up to `cap` changed and unchanged valid pixels of a city, drawn with `rand` (changed first). */
export function sampleCity(city: City, rand: () => number, cap: { pos: number; neg: number }) {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < city.labels.length; i++) {
    if (!city.valid[i]) continue;
    (city.labels[i] ? pos : neg).push(i);
  }
  const pick = (a: number[], k: number) =>
    a.length <= k ? a : Array.from({ length: k }, () => a[Math.floor(rand() * a.length)]!);
  return { pos: pick(pos, cap.pos), neg: pick(neg, cap.neg) };
}

export async function fitChangeConv(
  cities: City[],
  bands: readonly CanonicalBand[],
  manifest: DetectorManifest,
  seed = 42,
): Promise<{ bytes: Uint8Array; threshold: number; fit: MlpFit }> {
  const rand = mulberry32(seed);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const c of cities) {
    const { pos, neg } = sampleCity(c, rand, { pos: 8000, neg: 16000 });
    patches(c, bands, pos, xs);
    patches(c, bands, neg, xs);
    for (const _ of pos) ys.push(1);
    for (const _ of neg) ys.push(0);
  }
  const nF = bands.length * 2 * 9;
  const y = Uint8Array.from(ys);
  const nPos = ys.reduce((s, v) => s + v, 0);
  const w = Float32Array.from(ys, (v) => (v ? ys.length / (2 * nPos) : ys.length / (2 * (ys.length - nPos))));
  const fit = fitMlp(Float32Array.from(xs), nF, y, w, { hidden: CONV_HIDDEN, epochs: 10, lr: 0.005, seed });
  const bytes = buildChangeConvGraph(bands, fit);
  // Threshold: pooled F1 over the training cities.
  const best = bestPooledThreshold(await cityProbabilities(bytes, manifest, cities, bands), {
    from: 0.3,
    to: 0.99,
    step: 0.02,
  });
  return { bytes, threshold: best.t, fit };
}

/** Leave-one-city-out: train on the others, evaluate on the city; CVA + Otsu on the same city. */
export async function leaveOneCityOut(
  oscdDir: string,
  cityNames: string[],
  manifest: DetectorManifest,
  bands: readonly CanonicalBand[],
  log: (m: string) => void = () => {},
): Promise<{ rows: LocoRow[]; pooled: { model: LocoRow['model']; cva: LocoRow['cva'] } }> {
  const cities: City[] = [];
  for (const n of cityNames) cities.push(await loadOscdCity(oscdDir, n, manifest));
  const rows: LocoRow[] = [];
  for (const held of cities) {
    const train = cities.filter((c) => c !== held);
    const { bytes, threshold } = await fitChangeConv(train, bands, manifest);
    const p = (await cityProbabilities(bytes, manifest, [held], bands))[0]!.p;
    const row = scoreHeldOut(held, p, threshold, bands);
    rows.push(row);
    log(
      `${held.name}: conv P ${row.model.precision.toFixed(3)} R ${row.model.recall.toFixed(3)} F1 ${row.model.f1.toFixed(3)} | CVA+Otsu F1 ${row.cva.f1.toFixed(3)}`,
    );
  }
  return { rows, pooled: pooledLoco(rows) };
}

export const OSCD_CITIES = ['aguasclaras', 'bercy', 'bordeaux', 'mumbai', 'nantes', 'paris', 'saclay_e'];

/**
 * `detectors train change --data <oscd>`: the conv network on all cities (threshold: pooled F1
 * on them), a 4-band fallback network (no SWIR), and the leave-one-city-out evaluation next
 * to CVA + Otsu; writes a new version of `detectors/change`.
 */
export async function trainChangeConv(options: {
  detectorsDir: string;
  oscdDir: string;
  cities?: string[];
  loco?: boolean;
  log?: (m: string) => void;
}): Promise<{ manifest: DetectorManifest; loco: Awaited<ReturnType<typeof leaveOneCityOut>> | null }> {
  const { readManifest } = await import('../adapters/files/detector-registry.ts');
  const { bumpVersion, sha256Hex, writeVersion } = await import('./detector-versions.ts');
  const log = options.log ?? (() => {});
  const cities = options.cities ?? OSCD_CITIES;
  const { manifest: current, dir } = await readManifest(options.detectorsDir, 'change');
  const full: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
  const fb: CanonicalBand[] = ['blue', 'green', 'red', 'nir'];
  const base: DetectorManifest = {
    ...current,
    inputs: {
      ...current.inputs,
      bands: full,
      required: fb,
      fallback: { swir16: 0.2, swir22: 0.15 },
      radiometricMatch: 'mean-std',
    },
    tile: { size: 512, overlap: 8 },
  };
  const loco =
    options.loco === false ? null : await leaveOneCityOut(options.oscdDir, cities, base, full, log);
  if (loco)
    log(
      `leave-one-city-out pooled: conv F1 ${loco.pooled.model.f1.toFixed(3)} (P ${loco.pooled.model.precision.toFixed(3)}, R ${loco.pooled.model.recall.toFixed(3)}); CVA+Otsu F1 ${loco.pooled.cva.f1.toFixed(3)}`,
    );
  const all: Awaited<ReturnType<typeof loadOscdCity>>[] = [];
  for (const c of cities) all.push(await loadOscdCity(options.oscdDir, c, base));
  const main = await fitChangeConv(all, full, base);
  const lite = await fitChangeConv(all, fb, base);
  const { fallbackModel: _old, ...inputsNoFallback } = base.inputs;
  const manifest: DetectorManifest = {
    ...base,
    version: bumpVersion(current.version, 'minor'),
    description: 'any significant land-surface change (no zoning rule): a 2-layer convolutional network',
    model: {
      file: 'model.onnx',
      sha256: sha256Hex(main.bytes),
      architecture:
        'conv net: Concat(before, after−before) → Conv3×3(12→16) → Relu → Conv1×1(16→1) → Sigmoid',
    },
    inputs: {
      ...inputsNoFallback,
      fallbackModel: { file: 'model-nosw.onnx', sha256: sha256Hex(lite.bytes), bands: fb },
    },
    threshold: main.threshold,
  };
  await writeVersion(
    dir,
    manifest,
    { 'model.onnx': main.bytes, 'model-nosw.onnx': lite.bytes },
    {
      version: manifest.version,
      trainedOn: { oscd: cities },
      oscd: loco ? { leaveOneCityOut: loco.rows, pooled: loco.pooled } : null,
      heldOut: null,
    },
    `conv network trained on OSCD (${cities.join(', ')})`,
  );
  log(`change ${manifest.version}: threshold ${manifest.threshold}`);
  return { manifest, loco };
}
