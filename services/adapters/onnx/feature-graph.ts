import type { CanonicalBand } from '../../domain/imagery/bands.ts';
import { GraphBuilder } from './graph-builder.ts';

/**
 * The generic scenario graph: spectral indices of both dates, their differences and
 * neighbourhood statistics computed inside ONNX, then a learned head (a tiny MLP as two 1×1
 * convolutions, or plain logistic regression when `hidden` is empty):
 *
 *   before, after [1,C,H,W] reflectance
 *   → per date: indices (w·x)/(v·x + c): NDVI, NDWI, brightness (+ MNDWI, NBR, BSI with SWIR)
 *   → features: after indices, before indices, after − before, 5×5 mean of the differences,
 *     5×5 mean and 5×5 standard deviation of the after indices, band differences, 5×5 mean of
 *     |band differences|; with `context` (an option per detector) also the wider setting of the
 *     site before the change: 15×15 mean and standard deviation and 45×45 mean of the before
 *     indices (a 30 m channel, a lake, a marsh or a field block look alike pixel by pixel, not at
 *     150–450 m). The context nodes are added after every base node, so the base part of a
 *     context graph is node for node the base graph and a fused session shares it.
 *   → Conv1×1 (F→H) → Relu → Conv1×1 (H→1) → Sigmoid → 3×3 mean → `probability` [1,1,H,W].
 *
 * With `head = null` the graph stops at `features` [1,F,H,W]; training runs exactly that.
 */

export interface IndexDef {
  name: string;
  num: Partial<Record<CanonicalBand, number>>;
  den: Partial<Record<CanonicalBand, number>>;
  denBias?: number;
}

const INDICES: IndexDef[] = [
  { name: 'ndvi', num: { nir: 1, red: -1 }, den: { nir: 1, red: 1 } },
  { name: 'ndwi', num: { green: 1, nir: -1 }, den: { green: 1, nir: 1 } },
  { name: 'mndwi', num: { green: 1, swir16: -1 }, den: { green: 1, swir16: 1 } },
  { name: 'nbr', num: { nir: 1, swir22: -1 }, den: { nir: 1, swir22: 1 } },
  {
    name: 'bsi',
    num: { swir16: 1, red: 1, nir: -1, blue: -1 },
    den: { swir16: 1, red: 1, nir: 1, blue: 1 },
  },
  { name: 'bright', num: { blue: 0.25, green: 0.25, red: 0.25, nir: 0.25 }, den: {}, denBias: 1 },
];

/** Indices computable from `bands` (every band they use is present). */
export function indicesFor(bands: readonly CanonicalBand[]): IndexDef[] {
  return INDICES.filter((d) =>
    [...Object.keys(d.num), ...Object.keys(d.den)].every((b) => bands.includes(b as CanonicalBand)),
  );
}

/** Names of the feature channels, in order. */
export function featureNames(bands: readonly CanonicalBand[], context = false): string[] {
  const idx = indicesFor(bands).map((d) => d.name);
  const base = [
    ...idx.map((n) => `${n}_after`),
    ...idx.map((n) => `${n}_before`),
    ...idx.map((n) => `d_${n}`),
    ...idx.map((n) => `mean5_d_${n}`),
    ...idx.map((n) => `mean5_${n}_after`),
    ...idx.map((n) => `std5_${n}_after`),
    ...bands.map((b) => `d_${b}`),
    ...bands.map((b) => `mean5_abs_d_${b}`),
  ];
  if (!context) return base;
  return [
    ...base,
    ...idx.map((n) => `mean15_${n}_before`),
    ...idx.map((n) => `std15_${n}_before`),
    ...idx.map((n) => `mean45_${n}_before`),
  ];
}

/** Short description of the graph for manifests and READMEs (feature count from `bands`). */
export function featureGraphArchitecture(
  bands: readonly CanonicalBand[],
  hidden: number,
  context = false,
): string {
  return context
    ? `spectral-change feature graph (indices, differences, 5×5 mean/std, context: 15×15 and 45×45 of the before indices, in ONNX) + MLP ${featureNames(bands, true).length}→${hidden}→1`
    : `spectral-change feature graph (indices, differences, 5×5 mean/std in ONNX) + MLP ${featureNames(bands).length}→${hidden}→1`;
}

export interface MlpHead {
  /** hidden × features, row-major (empty for logistic regression). */
  w1: number[];
  b1: number[];
  /** hidden weights (or feature weights for logistic regression). */
  w2: number[];
  b2: number;
  hidden: number;
}

export function buildFeatureGraph(
  bands: readonly CanonicalBand[],
  head: MlpHead | null,
  name = 'skypatrol-scenario',
  options: { context?: boolean } = {},
): Uint8Array {
  const context = options.context ?? false;
  const C = bands.length;
  const F = featureNames(bands, context).length;
  const g = new GraphBuilder(head ? name : `${name}-features`);
  const before = g.input({ name: 'before', shape: [1, C, 'H', 'W'] });
  const after = g.input({ name: 'after', shape: [1, C, 'H', 'W'] });
  const pool = (x: string, k: number) => averagePool(g, x, k);

  const { wNum, wDen, bDen } = indexConstants(g, bands);
  const eps = g.constant([1e-3], [1], 'eps');
  const indices = (x: string) => {
    const n = g.node('Conv', [x, wNum]);
    const dd = g.node('Max', [g.node('Abs', [g.node('Conv', [x, wDen, bDen])]), eps]);
    return g.node('Div', [n, dd]);
  };
  const ia = indices(after);
  const ib = indices(before);
  const di = g.node('Sub', [ia, ib]);
  const meanA = pool(ia, 5);
  const meanSqA = pool(g.node('Mul', [ia, ia]), 5);
  const zero = g.constant([0], [1], 'zero');
  const varA = g.node('Max', [g.node('Sub', [meanSqA, g.node('Mul', [meanA, meanA])]), zero]);
  const stdA = g.node('Sqrt', [varA]);
  const db = g.node('Sub', [after, before]);
  // Base features in the order the base graph has always created them.
  const baseFeatures = [ia, ib, di, pool(di, 5), meanA, stdA, db, pool(g.node('Abs', [db]), 5)];
  const contextFeatures: string[] = [];
  if (context) {
    // Created after every base node: the base part stays identical to the base graph.
    const meanB15 = pool(ib, 15);
    const meanSqB15 = pool(g.node('Mul', [ib, ib]), 15);
    const varB15 = g.node('Max', [g.node('Sub', [meanSqB15, g.node('Mul', [meanB15, meanB15])]), zero]);
    contextFeatures.push(meanB15, g.node('Sqrt', [varB15]), boxMean(g, ib, 45, zero));
  }
  const features = g.node('Concat', [...baseFeatures, ...contextFeatures], 'features_concat', {
    axis: 1,
  });
  if (!head) {
    g.output(features, { name: 'features', shape: [1, F, 'H', 'W'] });
    return g.toBytes(`Skypatrol scenario detector features (${bands.join(', ')})`);
  }
  let logit: string;
  if (head.hidden > 0) logit = mlpLogit(g, features, F, head);
  else {
    if (head.w2.length !== F) throw new Error(`logistic head needs ${F} weights`);
    const w = g.constant(head.w2, [1, F, 1, 1], 'head_weights');
    const b = g.constant([head.b2], [1], 'head_bias');
    logit = g.node('Conv', [features, w, b]);
  }
  const probability = pool(g.node('Sigmoid', [logit]), 3);
  g.output(probability, { name: 'probability', shape: [1, 1, 'H', 'W'] });
  return g.toBytes(`Skypatrol scenario detector: spectral-change features + MLP (${bands.join(', ')})`);
}

/**
 * The logit of a one-hidden-layer MLP applied at every pixel of `features` (F planes):
 * Conv1×1 (F → hidden) → Relu → Conv1×1 (hidden → 1), the scenario and change graphs' head.
 */
export function mlpLogit(
  g: GraphBuilder,
  features: string,
  F: number,
  head: Pick<MlpHead, 'w1' | 'b1' | 'w2' | 'b2' | 'hidden'>,
): string {
  if (head.w1.length !== head.hidden * F)
    throw new Error(`head needs ${head.hidden}×${F} first-layer weights`);
  const w1 = g.constant(head.w1, [head.hidden, F, 1, 1], 'mlp_w1');
  const b1 = g.constant(head.b1, [head.hidden], 'mlp_b1');
  const h = g.node('Relu', [g.node('Conv', [features, w1, b1])]);
  const w2 = g.constant(head.w2, [1, head.hidden, 1, 1], 'mlp_w2');
  const b2 = g.constant([head.b2], [1], 'mlp_b2');
  return g.node('Conv', [h, w2, b2]);
}

/** k×k mean (k odd) by ONNX AveragePool, same size out, clipped at the edges (pads not counted). */
export function averagePool(g: GraphBuilder, x: string, k: number): string {
  return g.node('AveragePool', [x], undefined, {
    kernel_shape: [k, k],
    pads: [(k - 1) / 2, (k - 1) / 2, (k - 1) / 2, (k - 1) / 2],
    strides: [1, 1],
    count_include_pad: 0,
  });
}

/**
 * The spectral indices of `bands` as graph constants: numerator and denominator weights of
 * 1×1 convolutions ([K, C, 1, 1]) and the denominator bias ([K]), K = indicesFor(bands).length.
 */
export function indexConstants(
  g: GraphBuilder,
  bands: readonly CanonicalBand[],
): { wNum: string; wDen: string; bDen: string } {
  const defs = indicesFor(bands);
  const K = defs.length;
  const C = bands.length;
  const wn = new Float32Array(K * C);
  const wd = new Float32Array(K * C);
  const bd = new Float32Array(K);
  defs.forEach((d, k) => {
    bands.forEach((b, c) => {
      wn[k * C + c] = d.num[b] ?? 0;
      wd[k * C + c] = d.den[b] ?? 0;
    });
    bd[k] = d.denBias ?? 0;
  });
  return {
    wNum: g.constant(wn, [K, C, 1, 1], 'index_num'),
    wDen: g.constant(wd, [K, C, 1, 1], 'index_den'),
    bDen: g.constant(bd, [K], 'index_den_bias'),
  };
}

/**
 * k×k mean (k odd) as box sums from running sums along rows, then columns: a constant cost per
 * pixel whatever k (onnxruntime's AveragePool slows down sharply past ~31 pixels). Exact up to
 * float rounding, clipped at the edges like AveragePool with count_include_pad 0 (every row of a
 * clipped window has the same number of valid pixels).
 */
function boxMean(g: GraphBuilder, x: string, k: number, zero: string): string {
  const boxSum1 = (y: string, axis: 2 | 3) => {
    const r = (k - 1) / 2;
    const cs = g.node('CumSum', [y, g.constantInt64([axis])]);
    const pads = (lo: number, hi: number) =>
      g.constantInt64(axis === 3 ? [0, 0, 0, lo, 0, 0, 0, hi] : [0, 0, lo, 0, 0, 0, hi, 0]);
    const padded = g.node(
      'Pad',
      [g.node('Pad', [cs, pads(r + 1, 0)], undefined, { mode: 'constant' }), pads(0, r)],
      undefined,
      { mode: 'edge' },
    );
    const ax = g.constantInt64([axis]);
    const hi = g.node('Slice', [padded, g.constantInt64([2 * r + 1]), g.constantInt64([2 ** 31 - 1]), ax]);
    const lo = g.node('Slice', [padded, g.constantInt64([0]), g.constantInt64([-(2 * r + 1)]), ax]);
    return g.node('Sub', [hi, lo]);
  };
  // Window sizes from a ones plane shaped like one channel of x.
  const one = g.node('Add', [
    g.node('Mul', [
      g.node('Slice', [x, g.constantInt64([0]), g.constantInt64([1]), g.constantInt64([1])]),
      zero,
    ]),
    g.constant([1], [1]),
  ]);
  const count = boxSum1(boxSum1(one, 3), 2);
  return g.node('Div', [boxSum1(boxSum1(x, 3), 2), count]);
}

/**
 * Exported k×k mean (k odd) at a constant cost per pixel whatever k (the `boxMean` above,
 * with its own zero constant): for graphs built outside this module, e.g. the `change`
 * detector's multi-scale features.
 */
export function boxMeanNode(g: GraphBuilder, x: string, k: number): string {
  return boxMean(g, x, k, g.constant([0], [1]));
}
