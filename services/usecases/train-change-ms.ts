import {
  averagePool,
  boxMeanNode,
  indexConstants,
  indicesFor,
  mlpLogit,
} from '../adapters/onnx/feature-graph.ts';
import { GraphBuilder } from '../adapters/onnx/graph-builder.ts';
import { loadModel } from '../adapters/onnx/session.ts';
import { mulberry32, precisionRecall } from '../domain/detectors/logistic.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import { fitMlp, type MlpFit } from '../domain/detectors/mlp.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import {
  bestPooledThreshold,
  cityProbabilities,
  type LocoRow,
  loadOscdCity,
  pooledLoco,
  sampleCity,
  scoreHeldOut,
} from './train-change-conv.ts';

/**
 * The `change` detector with multi-scale context computed inside ONNX: per-pixel band
 * differences, spectral indices and their differences, change-vector magnitude and spectral
 * angle, then k×k means (constant-cost box sums) of |difference| and of the change-vector
 * magnitude at 3, 7, 15 and 31 px, its 7×7 standard deviation, and the 15×15 setting of the
 * before indices; a one-hidden-layer MLP as two 1×1 convolutions → Sigmoid → 3×3 mean. With
 * `sceneZ` (the default since 0.4.0) the MLP's logit is standardised by the tile window's own mean
 * and standard deviation before the sigmoid, so the manifest threshold is a per-scene one
 * (mean + k·std of the scene's scores) that needs no labels and runs inside the graph.
 */
export type City = Awaited<ReturnType<typeof loadOscdCity>>;

export const MS_HIDDEN = 16;
/** Widest window (31 px) radius + the final 3×3 mean: the tile overlap needed. */
export const MS_TILE = { size: 512, overlap: 16 };

export function msFeatureNames(
  bands: readonly CanonicalBand[],
  adaptive = false,
  changeOnly = false,
  ratio = false,
  lean = false,
  noIndex = false,
): string[] {
  const idx = noIndex ? [] : indicesFor(bands).map((d) => d.name);
  if (lean)
    return [
      ...bands.map((b) => `d_${b}`),
      ...idx.map((n) => `d_${n}`),
      'cva',
      'angle',
      ...idx.map((n) => `mean7_abs_d_${n}`),
      'mean3_cva',
      'mean7_cva',
      'std7_cva',
      'mean15_cva',
      'mean31_cva',
      ...(adaptive
        ? ['cva', 'mean3_cva', 'mean7_cva', 'std7_cva', 'mean15_cva', 'mean31_cva'].map((n) => `rel_${n}`)
        : []),
    ];
  const nd = ratio
    ? [
        ...bands.map((b) => `nd_${b}`),
        ...bands.map((b) => `mean7_abs_nd_${b}`),
        'cva_nd',
        'mean7_cva_nd',
        'mean15_cva_nd',
      ]
    : [];
  const rel = adaptive
    ? [
        ...['cva', 'mean3_cva', 'mean7_cva', 'std7_cva', 'mean15_cva', 'mean31_cva'].map((n) => `rel_${n}`),
        ...bands.map((b) => `rel_mean7_abs_d_${b}`),
        ...idx.map((n) => `rel_mean7_abs_d_${n}`),
      ]
    : [];
  return [
    ...(changeOnly ? [] : bands.map((b) => `${b}_before`)),
    ...bands.map((b) => `d_${b}`),
    ...(changeOnly ? [] : idx.map((n) => `${n}_before`)),
    ...idx.map((n) => `d_${n}`),
    'cva',
    'angle',
    ...bands.map((b) => `mean7_abs_d_${b}`),
    ...idx.map((n) => `mean7_abs_d_${n}`),
    'mean3_cva',
    'mean7_cva',
    'std7_cva',
    'mean15_cva',
    'mean31_cva',
    ...idx.map((n) => `mean15_abs_d_${n}`),
    ...(changeOnly ? [] : idx.map((n) => `mean15_${n}_before`)),
    ...rel,
    ...nd,
  ];
}

export function msArchitecture(
  bands: readonly CanonicalBand[],
  hidden: number,
  opts: MsOptions = {},
): string {
  const F = msFeatureNames(
    bands,
    opts.adaptive,
    opts.changeOnly,
    opts.ratio,
    opts.lean,
    opts.lean && opts.noIndex,
  ).length;
  const diffs = opts.lean && opts.noIndex ? 'band differences' : 'band and index differences';
  return `multi-scale change features in ONNX (${diffs}, change-vector magnitude and spectral angle, its 3/7/15/31 px means and 7×7 std${opts.adaptive ? ', also relative to the tile mean' : ''}) + MLP ${F}→${hidden}→1 (${opts.members ?? 1} seeds, logits averaged${opts.sceneZ ? '; logit standardised by the tile window’s mean and std' : ''})`;
}

const lean_ = (o: { lean?: boolean }) => o.lean ?? false;

export function buildChangeMsGraph(
  bands: readonly CanonicalBand[],
  head: MlpFit | null,
  options: {
    adaptive?: boolean;
    changeOnly?: boolean;
    ratio?: boolean;
    lean?: boolean;
    noIndex?: boolean;
    sceneZ?: boolean;
  } = {},
): Uint8Array {
  const noIndex = (options.noIndex ?? false) && lean_(options);
  const lean = options.lean ?? false;
  const ratio = options.ratio ?? false;
  const adaptive = options.adaptive ?? false;
  const changeOnly = options.changeOnly ?? false;
  const C = bands.length;
  const K = indicesFor(bands).length;
  const F = msFeatureNames(bands, adaptive, changeOnly, ratio, lean, noIndex).length;
  const g = new GraphBuilder(head ? 'skypatrol-change-ms' : 'skypatrol-change-ms-features');
  const before = g.input({ name: 'before', shape: [1, C, 'H', 'W'] });
  const after = g.input({ name: 'after', shape: [1, C, 'H', 'W'] });
  const avg = (x: string, k: number) => averagePool(g, x, k);
  const split = (x: string, sizes: number[]) => {
    const outs: string[] = [];
    let at = 0;
    for (const s of sizes) {
      outs.push(g.node('Slice', [x, g.constantInt64([at]), g.constantInt64([at + s]), g.constantInt64([1])]));
      at += s;
    }
    return outs;
  };

  const { wNum, wDen, bDen } = noIndex ? { wNum: '', wDen: '', bDen: '' } : indexConstants(g, bands);
  const eps = g.constant([1e-3], [1], 'eps');
  const zero = g.constant([0], [1], 'zero');
  const indices = (x: string) => {
    const n = g.node('Conv', [x, wNum]);
    const dd = g.node('Max', [g.node('Abs', [g.node('Conv', [x, wDen, bDen])]), eps]);
    return g.node('Div', [n, dd]);
  };
  // Unused (and not created) in the lean graph without indices.
  const ib = noIndex ? '' : indices(before);
  const di = noIndex ? '' : g.node('Sub', [indices(after), ib]);
  const absDi = noIndex ? '' : g.node('Abs', [di]);
  const d = g.node('Sub', [after, before]);
  const absD = g.node('Abs', [d]);
  const axes = g.constantInt64([1]);
  const sumsq = (x: string) => g.node('ReduceSum', [g.node('Mul', [x, x]), axes], undefined, { keepdims: 1 });
  const cvaSq = sumsq(d);
  const cva = g.node('Sqrt', [cvaSq]);
  // Spectral angle as 1 − cos between the two reflectance vectors.
  const dot = g.node('ReduceSum', [g.node('Mul', [before, after]), axes], undefined, { keepdims: 1 });
  const norms = g.node('Max', [g.node('Sqrt', [g.node('Mul', [sumsq(before), sumsq(after)])]), eps]);
  const angle = g.node('Sub', [g.constant([1], [1]), g.node('Div', [dot, norms])]);

  const mean3Cva = avg(cva, 3);
  let features: string;
  if (lean) {
    // The cheap set: only the change-vector magnitude (one plane) at every scale.
    const m7 = noIndex
      ? ['', ...split(avg(g.node('Concat', [cva, cvaSq], undefined, { axis: 1 }), 7), [1, 1])]
      : split(avg(g.node('Concat', [absDi, cva, cvaSq], undefined, { axis: 1 }), 7), [K, 1, 1]);
    const [m7AbsDi, m7Cva, m7CvaSq] = m7 as [string, string, string];
    const std7Cva = g.node('Sqrt', [
      g.node('Max', [g.node('Sub', [m7CvaSq, g.node('Mul', [m7Cva, m7Cva])]), zero]),
    ]);
    const scales = [cva, mean3Cva, m7Cva, std7Cva, avg(cva, 15), boxMeanNode(g, cva, 31)];
    const rel: string[] = [];
    if (adaptive) {
      const tCva = g.node('Max', [
        g.node('ReduceMean', [cva], undefined, { axes: [2, 3], keepdims: 1 }),
        eps,
      ]);
      for (const x of scales) rel.push(g.node('Div', [x, tCva]));
    }
    features = g.node(
      'Concat',
      noIndex
        ? [d, cva, angle, ...scales.slice(1), ...rel]
        : [d, di, cva, angle, m7AbsDi, ...scales.slice(1), ...rel],
      'features_concat',
      { axis: 1 },
    );
  } else {
    // 7 px: |d| (C), |d index| (K), cva, cva² in one box mean.
    const [m7AbsD, m7AbsDi, m7Cva, m7CvaSq] = split(
      boxMeanNode(g, g.node('Concat', [absD, absDi, cva, cvaSq], undefined, { axis: 1 }), 7),
      [C, K, 1, 1],
    ) as [string, string, string, string];
    const std7Cva = g.node('Sqrt', [
      g.node('Max', [g.node('Sub', [m7CvaSq, g.node('Mul', [m7Cva, m7Cva])]), zero]),
    ]);
    const [m15Cva, m15AbsDi, m15Ib] = split(
      boxMeanNode(g, g.node('Concat', [cva, absDi, ib], undefined, { axis: 1 }), 15),
      [1, K, K],
    ) as [string, string, string];
    const m31Cva = boxMeanNode(g, cva, 31);
    const rel: string[] = [];
    if (adaptive) {
      // Relative to the window's mean: the scene's own level of change (like Otsu on CVA).
      const tileMean = (x: string) =>
        g.node('Max', [g.node('ReduceMean', [x], undefined, { axes: [2, 3], keepdims: 1 }), eps]);
      const tCva = tileMean(cva);
      for (const x of [cva, mean3Cva, m7Cva, std7Cva, m15Cva, m31Cva]) rel.push(g.node('Div', [x, tCva]));
      rel.push(g.node('Div', [m7AbsD, tileMean(absD)]), g.node('Div', [m7AbsDi, tileMean(absDi)]));
    }
    const ndFeatures: string[] = [];
    if (ratio) {
      // Per-band normalised differences (after − before)/(after + before): invariant to a scene's gain.
      const nd = g.node('Div', [d, g.node('Max', [g.node('Add', [after, before]), eps])]);
      const cvaNd = g.node('Sqrt', [sumsq(nd)]);
      const [m7AbsNd, m7CvaNd] = split(
        boxMeanNode(g, g.node('Concat', [g.node('Abs', [nd]), cvaNd], undefined, { axis: 1 }), 7),
        [C, 1],
      ) as [string, string];
      ndFeatures.push(nd, m7AbsNd, cvaNd, m7CvaNd, boxMeanNode(g, cvaNd, 15));
    }
    // Without changeOnly, the before-date bands and indices (and the latter's 15 px mean) too.
    const unlessChangeOnly = (x: string) => (changeOnly ? [] : [x]);
    features = g.node(
      'Concat',
      [
        ...unlessChangeOnly(before),
        d,
        ...unlessChangeOnly(ib),
        di,
        cva,
        angle,
        m7AbsD,
        m7AbsDi,
        mean3Cva,
        m7Cva,
        std7Cva,
        m15Cva,
        m31Cva,
        m15AbsDi,
        ...unlessChangeOnly(m15Ib),
        ...rel,
        ...ndFeatures,
      ],
      'features_concat',
      { axis: 1 },
    );
  }
  if (!head) {
    g.output(features, { name: 'features', shape: [1, F, 'H', 'W'] });
    return g.toBytes(`Skypatrol change detector features (${bands.join(', ')})`);
  }
  let logit = mlpLogit(g, features, F, head);
  if (options.sceneZ) {
    // The logit standardised by the window's own mean and standard deviation: a per-scene
    // threshold (mean + k·std of the scene's own scores) that needs no labels.
    const reduce = (x: string) => g.node('ReduceMean', [x], undefined, { axes: [2, 3], keepdims: 1 });
    const centred = g.node('Sub', [logit, reduce(logit)]);
    const sd = g.node('Sqrt', [g.node('Max', [reduce(g.node('Mul', [centred, centred])), eps])]);
    logit = g.node('Div', [centred, sd]);
  }
  const probability = avg(g.node('Sigmoid', [logit]), 3);
  g.output(probability, { name: 'probability', shape: [1, 1, 'H', 'W'] });
  return g.toBytes(
    `Skypatrol change detector: multi-scale change features + MLP, trained on OSCD (${bands.join(', ')})`,
  );
}

/** Feature planes of a whole city (one run of the feature graph; cities are < 1000 px wide). */
export async function cityFeatures(
  city: City,
  bands: readonly CanonicalBand[],
  opts: MsOptions = {},
): Promise<Float32Array[]> {
  const runner = await loadModel(buildChangeMsGraph(bands, null, opts), 1);
  const { width: W, height: H } = city;
  const pack = (m: Map<CanonicalBand, Float32Array>) => {
    const out = new Float32Array(bands.length * W * H);
    bands.forEach((b, c) => {
      const src = m.get(b)!;
      for (let i = 0; i < W * H; i++) {
        const v = src[i]!;
        out[c * W * H + i] = Number.isNaN(v) ? 0 : v;
      }
    });
    return out;
  };
  const before = pack(city.before);
  const after = pack(city.after);
  if (!opts.tiledTrain) {
    const got = await runner.run({
      before: { data: before, dims: [1, bands.length, H, W] },
      after: { data: after, dims: [1, bands.length, H, W] },
    });
    await runner.release();
    const f = got.features!;
    const F = f.dims[1]!;
    return Array.from({ length: F }, (_, k) => f.data.slice(k * W * H, (k + 1) * W * H));
  }
  // In the windows a patrol (and the evaluation) runs: the tile-relative features then see the
  // same window mean in training as at inference.
  const { size, overlap } = MS_TILE;
  const core = size - 2 * overlap;
  const C = bands.length;
  let planes: Float32Array[] = [];
  for (let cy = 0; cy < H; cy += core) {
    for (let cx = 0; cx < W; cx += core) {
      const cw = Math.min(core, W - cx);
      const ch = Math.min(core, H - cy);
      const x0 = Math.max(0, cx - overlap);
      const y0 = Math.max(0, cy - overlap);
      const w = Math.min(W, cx + cw + overlap) - x0;
      const h = Math.min(H, cy + ch + overlap) - y0;
      const cut = (src: Float32Array) => {
        const out = new Float32Array(C * w * h);
        for (let c = 0; c < C; c++)
          for (let y = 0; y < h; y++)
            out.set(
              src.subarray(c * W * H + (y0 + y) * W + x0, c * W * H + (y0 + y) * W + x0 + w),
              c * w * h + y * w,
            );
        return out;
      };
      const f = (
        await runner.run({
          before: { data: cut(before), dims: [1, C, h, w] },
          after: { data: cut(after), dims: [1, C, h, w] },
        })
      ).features!;
      const F = f.dims[1]!;
      if (!planes.length) planes = Array.from({ length: F }, () => new Float32Array(W * H));
      for (let k = 0; k < F; k++)
        for (let y = 0; y < ch; y++) {
          const src = k * w * h + (cy - y0 + y) * w + (cx - x0);
          planes[k]!.set(f.data.subarray(src, src + cw) as Float32Array, (cy + y) * W + cx);
        }
    }
  }
  await runner.release();
  return planes;
}

export interface MsOptions {
  adaptive?: boolean;
  changeOnly?: boolean;
  ratio?: boolean;
  lean?: boolean;
  /** With `lean`: no spectral-index features (cheaper). */
  noIndex?: boolean;
  /** Standardise the MLP's logit by the tile window's mean and std before the sigmoid (label-free per-scene threshold). */
  sceneZ?: boolean;
  members?: number;
  hidden?: number;
  epochs?: number;
  pos?: number;
  neg?: number;
  seed?: number;
  /** Training features computed in the patrol's tile windows (`MS_TILE`), as at inference. */
  tiledTrain?: boolean;
  /** Every ensemble member on its own random sample of pixels (bagging), not one shared sample. */
  bag?: boolean;
  /** Log the held-out city's best-threshold F1 (diagnostic only; never used for a choice). */
  diagnose?: boolean;
}

export async function fitChangeMs(
  cities: City[],
  feats: Float32Array[][],
  bands: readonly CanonicalBand[],
  manifest: DetectorManifest,
  opts: MsOptions = {},
): Promise<{ bytes: Uint8Array; threshold: number; fit: MlpFit }> {
  const seed = opts.seed ?? 42;
  const nF = msFeatureNames(
    bands,
    opts.adaptive,
    opts.changeOnly,
    opts.ratio,
    opts.lean,
    opts.noIndex && opts.lean,
  ).length;
  const sample = (sampleSeed: number) => {
    const rand = mulberry32(sampleSeed);
    const xs: number[] = [];
    const ys: number[] = [];
    const ws: number[] = [];
    cities.forEach((c, ci) => {
      const { pos: P, neg: N } = sampleCity(c, rand, { pos: opts.pos ?? 10000, neg: opts.neg ?? 30000 });
      // Each city weighs the same; within a city, changed and unchanged pixels weigh half each.
      for (const [set, label] of [
        [P, 1],
        [N, 0],
      ] as const) {
        for (const i of set) {
          for (let f = 0; f < nF; f++) xs.push(feats[ci]![f]![i]!);
          ys.push(label);
          ws.push(1 / (2 * Math.max(1, set.length)));
        }
      }
    });
    const mean = ws.reduce((s, v) => s + v, 0) / ws.length;
    return {
      X: Float32Array.from(xs),
      Y: Uint8Array.from(ys),
      Wt: Float32Array.from(ws, (v) => v / mean),
    };
  };
  const shared = sample(seed);
  // An ensemble of `members` MLPs (different seeds), their logits averaged: one wider MLP.
  const fits: MlpFit[] = [];
  for (let k = 0; k < (opts.members ?? 1); k++) {
    const { X, Y, Wt } = opts.bag && k > 0 ? sample(seed + 1000 * k) : shared;
    fits.push(
      fitMlp(X, nF, Y, Wt, {
        hidden: opts.hidden ?? MS_HIDDEN,
        epochs: opts.epochs ?? 12,
        lr: 0.005,
        seed: seed + 1000 * k,
      }),
    );
  }
  const fit: MlpFit = {
    hidden: fits.reduce((s, f) => s + f.hidden, 0),
    w1: fits.flatMap((f) => f.w1),
    b1: fits.flatMap((f) => f.b1),
    w2: fits.flatMap((f) => f.w2.map((w) => w / fits.length)),
    b2: fits.reduce((s, f) => s + f.b2, 0) / fits.length,
    loss: fits.reduce((s, f) => s + f.loss, 0) / fits.length,
    epochs: fits[0]!.epochs,
  };
  const bytes = buildChangeMsGraph(bands, fit, opts);
  const m = { ...manifest, tile: MS_TILE };
  const best = bestPooledThreshold(await cityProbabilities(bytes, m, cities, bands), {
    from: 0.3,
    to: 0.995,
    step: 0.01,
  });
  return { bytes, threshold: best.t, fit };
}

/** Leave-one-city-out of the multi-scale model; CVA + Otsu on the same held-out city. */
export async function leaveOneCityOutMs(
  oscdDir: string,
  cityNames: string[],
  manifest: DetectorManifest,
  bands: readonly CanonicalBand[],
  opts: MsOptions = {},
  log: (m: string) => void = () => {},
): Promise<{ rows: LocoRow[]; pooled: { model: LocoRow['model']; cva: LocoRow['cva'] } }> {
  const cities: City[] = [];
  for (const n of cityNames) cities.push(await loadOscdCity(oscdDir, n, manifest));
  const feats: Float32Array[][] = [];
  for (const c of cities) feats.push(await cityFeatures(c, bands, opts));
  const rows: LocoRow[] = [];
  for (const [hi, held] of cities.entries()) {
    const trainIdx = cities.map((_, i) => i).filter((i) => i !== hi);
    const { bytes, threshold } = await fitChangeMs(
      trainIdx.map((i) => cities[i]!),
      trainIdx.map((i) => feats[i]!),
      bands,
      manifest,
      opts,
    );
    const p = (await cityProbabilities(bytes, { ...manifest, tile: MS_TILE }, [held], bands))[0]!.p;
    const row = scoreHeldOut(held, p, threshold, bands);
    if (opts.diagnose) {
      let best = 0;
      let bt = 0;
      for (let t = 0.05; t < 1; t += 0.01) {
        const r = precisionRecall(
          p.map((v) => (v >= t ? 1 : 0)),
          held.labels,
          held.valid,
        );
        if (r.f1 > best) [best, bt] = [r.f1, t];
      }
      log(`  (diagnostic only, not used: best F1 on ${held.name} ${best.toFixed(3)} at ${bt.toFixed(2)})`);
    }
    rows.push(row);
    log(
      `${held.name}: ms P ${row.model.precision.toFixed(3)} R ${row.model.recall.toFixed(3)} F1 ${row.model.f1.toFixed(3)} (t ${threshold}) | CVA+Otsu F1 ${row.cva.f1.toFixed(3)}`,
    );
  }
  return { rows, pooled: pooledLoco(rows) };
}

/** The configuration chosen by leave-one-city-out (docs/detectors-eval/change/report.md). */
export const MS_DEFAULTS: MsOptions = {
  lean: true,
  adaptive: true,
  members: 8,
  hidden: 4,
  noIndex: true,
  sceneZ: true,
  pos: 15000,
  neg: 30000,
  seed: 42,
};

/**
 * `detectors train change --data <oscd>`: the multi-scale network on all cities (threshold:
 * pooled F1 on them), its 4-band fallback (no SWIR), and the leave-one-city-out evaluation next
 * to CVA + Otsu; writes a new version of `detectors/change`.
 */
export async function trainChangeMs(options: {
  detectorsDir: string;
  oscdDir: string;
  cities?: string[];
  loco?: boolean;
  log?: (m: string) => void;
}): Promise<{ manifest: DetectorManifest; loco: Awaited<ReturnType<typeof leaveOneCityOutMs>> | null }> {
  const { readManifest } = await import('../adapters/files/detector-registry.ts');
  const { bumpVersion, sha256Hex, writeVersion } = await import('./detector-versions.ts');
  const { OSCD_CITIES } = await import('./train-change-conv.ts');
  const log = options.log ?? (() => {});
  const cities = options.cities ?? OSCD_CITIES;
  const opts = MS_DEFAULTS;
  const { manifest: current, dir } = await readManifest(options.detectorsDir, 'change');
  const full: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
  const fb: CanonicalBand[] = ['blue', 'green', 'red', 'nir'];
  const { fallbackModel: _old, ...inputsNoFallback } = current.inputs;
  const base: DetectorManifest = {
    ...current,
    inputs: {
      ...inputsNoFallback,
      bands: full,
      required: fb,
      fallback: { swir16: 0.2, swir22: 0.15 },
      radiometricMatch: 'mean-std',
    },
    tile: MS_TILE,
  };
  const loco =
    options.loco === false ? null : await leaveOneCityOutMs(options.oscdDir, cities, base, full, opts, log);
  if (loco)
    log(
      `leave-one-city-out pooled: F1 ${loco.pooled.model.f1.toFixed(3)} (P ${loco.pooled.model.precision.toFixed(3)}, R ${loco.pooled.model.recall.toFixed(3)}); CVA+Otsu F1 ${loco.pooled.cva.f1.toFixed(3)}`,
    );
  const all: City[] = [];
  for (const c of cities) all.push(await loadOscdCity(options.oscdDir, c, base));
  const fitOn = async (bands: CanonicalBand[]) => {
    const feats: Float32Array[][] = [];
    for (const c of all) feats.push(await cityFeatures(c, bands, opts));
    return fitChangeMs(all, feats, bands, base, opts);
  };
  const main = await fitOn(full);
  const lite = await fitOn(fb);
  const hidden = (opts.members ?? 1) * (opts.hidden ?? MS_HIDDEN);
  const manifest: DetectorManifest = {
    ...base,
    version: bumpVersion(current.version, 'minor'),
    description:
      'any significant land-surface change (no zoning rule): multi-scale change features and a small MLP, in ONNX',
    model: {
      file: 'model.onnx',
      sha256: sha256Hex(main.bytes),
      architecture: msArchitecture(full, hidden, opts),
    },
    inputs: {
      ...base.inputs,
      fallbackModel: {
        file: 'model-nosw.onnx',
        sha256: sha256Hex(lite.bytes),
        bands: fb,
        threshold: lite.threshold,
      },
    },
    ...(opts.sceneZ
      ? {
          output: {
            ...base.output,
            meaning:
              'change score: sigmoid of the MLP logit standardised by the tile window’s own mean and std (a per-scene threshold needing no labels; not a calibrated probability)',
          },
        }
      : {}),
    threshold: main.threshold,
  };
  await writeVersion(
    dir,
    manifest,
    { 'model.onnx': main.bytes, 'model-nosw.onnx': lite.bytes },
    {
      version: manifest.version,
      trainedOn: { oscd: cities },
      options: opts,
      oscd: loco ? { leaveOneCityOut: loco.rows, pooled: loco.pooled } : null,
      heldOut: null,
    },
    `multi-scale change network trained on OSCD (${cities.join(', ')})`,
  );
  log(`change ${manifest.version}: threshold ${manifest.threshold} (no-SWIR ${lite.threshold})`);
  return { manifest, loco };
}

/**
 * `npx tsx services/usecases/train-change-ms.ts <oscd dir> '<MsOptions JSON>'`: the
 * leave-one-city-out evaluation of one configuration, next to CVA + Otsu (nothing written).
 */
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const { readManifest } = await import('../adapters/files/detector-registry.ts');
  const { OSCD_CITIES } = await import('./train-change-conv.ts');
  const { join } = await import('node:path');
  const [oscd = '../shared/data/oscd', json = '{}'] = process.argv.slice(2);
  const opts = JSON.parse(json) as MsOptions;
  const { manifest } = await readManifest(join(process.cwd(), 'detectors'), 'change');
  const full: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
  const r = await leaveOneCityOutMs(oscd, OSCD_CITIES, manifest, full, opts, (m) => console.log(m));
  const f = (x: number) => x.toFixed(3);
  console.log(
    `${json}: pooled F1 ${f(r.pooled.model.f1)} (P ${f(r.pooled.model.precision)}, R ${f(r.pooled.model.recall)}); CVA+Otsu F1 ${f(r.pooled.cva.f1)}`,
  );
}
