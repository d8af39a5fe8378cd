import { averagePool } from '../../services/adapters/onnx/feature-graph.ts';
import { GraphBuilder } from '../../services/adapters/onnx/graph-builder.ts';
import type { CanonicalBand } from '../../services/domain/imagery/bands.ts';

/**
 * The `change` detector's ONNX graph. Everything after reading reflectance happens inside
 * the graph, so any ONNX runtime reproduces the detector exactly:
 *
 *   before, after [1,6,H,W] (blue, green, red, nir, swir16, swir22 reflectance)
 *   → per-pixel band differences, neighbourhood (5×5) mean of |difference|,
 *     NDVI / NDBI / MNDWI of each date and their differences (plain and 5×5 mean of |·|)
 *   → a learned 1×1 convolution (logistic regression over the 21 features)
 *   → sigmoid → 3×3 mean → `probability` [1,1,H,W].
 *
 * `buildChangeGraph(null)` stops at the features (output `features` [1,21,H,W]); training
 * runs that graph to get exactly the features the final model sees.
 */
export const CHANGE_BANDS: readonly CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
export const CHANGE_FEATURES = [
  ...CHANGE_BANDS.map((b) => `d_${b}`),
  ...CHANGE_BANDS.map((b) => `mean5_abs_d_${b}`),
  'd_ndvi',
  'd_ndbi',
  'd_mndwi',
  'abs_d_ndvi',
  'abs_d_ndbi',
  'abs_d_mndwi',
  'mean5_abs_d_ndvi',
  'mean5_abs_d_ndbi',
  'mean5_abs_d_mndwi',
] as const;

/** Normalised-difference pairs (a−b)/(a+b) as band indices into CHANGE_BANDS. */
const INDEX_PAIRS: [number, number][] = [
  [3, 2], // NDVI = (nir − red)/(nir + red)
  [4, 3], // NDBI = (swir16 − nir)/(swir16 + nir)
  [1, 4], // MNDWI = (green − swir16)/(green + swir16)
];

export interface LinearHead {
  weights: number[];
  bias: number;
}

export function buildChangeGraph(head: LinearHead | null): Uint8Array {
  const C = CHANGE_BANDS.length;
  const g = new GraphBuilder(head ? 'skypatrol-change' : 'skypatrol-change-features');
  const before = g.input({ name: 'before', shape: [1, C, 'H', 'W'] });
  const after = g.input({ name: 'after', shape: [1, C, 'H', 'W'] });

  const pool = (x: string, k: number) => averagePool(g, x, k);

  const d = g.node('Sub', [after, before]);
  const meanAbsD = pool(g.node('Abs', [d]), 5);

  // Normalised differences through two fixed 1×1 convolutions (numerators, denominators).
  const num = new Float32Array(INDEX_PAIRS.length * C);
  const den = new Float32Array(INDEX_PAIRS.length * C);
  INDEX_PAIRS.forEach(([a, b], k) => {
    num[k * C + a] = 1;
    num[k * C + b] = -1;
    den[k * C + a] = 1;
    den[k * C + b] = 1;
  });
  const wNum = g.constant(num, [INDEX_PAIRS.length, C, 1, 1], 'index_numerators');
  const wDen = g.constant(den, [INDEX_PAIRS.length, C, 1, 1], 'index_denominators');
  const eps = g.constant([1e-3], [1], 'eps');
  const indices = (x: string) => {
    const n = g.node('Conv', [x, wNum]);
    const dd = g.node('Max', [g.node('Abs', [g.node('Conv', [x, wDen])]), eps]);
    return g.node('Div', [n, dd]);
  };
  const dIdx = g.node('Sub', [indices(after), indices(before)]);
  const absDIdx = g.node('Abs', [dIdx]);
  const meanAbsDIdx = pool(absDIdx, 5);
  const features = g.node('Concat', [d, meanAbsD, dIdx, absDIdx, meanAbsDIdx], 'features_concat', {
    axis: 1,
  });

  if (!head) {
    g.output(features, { name: 'features', shape: [1, CHANGE_FEATURES.length, 'H', 'W'] });
    return g.toBytes('Skypatrol change detector: feature extractor');
  }
  if (head.weights.length !== CHANGE_FEATURES.length) {
    throw new Error(`change head needs ${CHANGE_FEATURES.length} weights, got ${head.weights.length}`);
  }
  const w = g.constant(head.weights, [1, CHANGE_FEATURES.length, 1, 1], 'head_weights');
  const b = g.constant([head.bias], [1], 'head_bias');
  const probability = pool(g.node('Sigmoid', [g.node('Conv', [features, w, b])]), 3);
  g.output(probability, { name: 'probability', shape: [1, 1, 'H', 'W'] });
  return g.toBytes('Skypatrol change detector: logistic regression over spectral-change features');
}
