/**
 * Weighted, L2-regularised logistic regression fitted by Newton's method (IRLS) on
 * standardised features. Small feature counts (tens) and up to ~10⁶ samples.
 */
export interface LogisticFit {
  /** Weights and bias on the raw (unstandardised) features. */
  weights: number[];
  bias: number;
  iterations: number;
  loss: number;
}

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    if (Math.abs(piv) < 1e-12) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / piv;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => (Math.abs(row[i]!) < 1e-12 ? 0 : row[n]! / row[i]!));
}

/**
 * @param x   row-major samples × features
 * @param y   labels 0/1
 * @param sampleWeight per-sample weights (e.g. class balancing)
 */
export function fitLogistic(
  x: Float32Array,
  nFeatures: number,
  y: Uint8Array,
  sampleWeight: Float32Array,
  l2 = 1e-3,
  maxIter = 30,
): LogisticFit {
  const n = y.length;
  const mean = new Array<number>(nFeatures).fill(0);
  const sd = new Array<number>(nFeatures).fill(0);
  for (let i = 0; i < n; i++) for (let f = 0; f < nFeatures; f++) mean[f]! += x[i * nFeatures + f]!;
  for (let f = 0; f < nFeatures; f++) mean[f]! /= n;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < nFeatures; f++) {
      const d = x[i * nFeatures + f]! - mean[f]!;
      sd[f]! += d * d;
    }
  }
  for (let f = 0; f < nFeatures; f++) sd[f] = Math.sqrt(sd[f]! / n) || 1;

  const p = nFeatures + 1; // + bias
  let beta = new Array<number>(p).fill(0);
  const z = new Float64Array(p);
  let loss = Number.POSITIVE_INFINITY;
  let steps = 0;
  while (steps < maxIter) {
    steps++;
    const grad = new Array<number>(p).fill(0);
    const hess = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    let l = 0;
    let wsum = 0;
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < nFeatures; f++) z[f] = (x[i * nFeatures + f]! - mean[f]!) / sd[f]!;
      z[nFeatures] = 1;
      let eta = 0;
      for (let k = 0; k < p; k++) eta += beta[k]! * z[k]!;
      const mu = 1 / (1 + Math.exp(-eta));
      const w = sampleWeight[i]!;
      const r = mu - y[i]!;
      const h = w * Math.max(mu * (1 - mu), 1e-9);
      l -= w * (y[i] ? Math.log(Math.max(mu, 1e-12)) : Math.log(Math.max(1 - mu, 1e-12)));
      wsum += w;
      for (let a = 0; a < p; a++) {
        grad[a]! += w * r * z[a]!;
        const hz = h * z[a]!;
        for (let b = a; b < p; b++) hess[a]![b]! += hz * z[b]!;
      }
    }
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < a; b++) hess[a]![b] = hess[b]![a]!;
      grad[a] = grad[a]! / wsum + (a < nFeatures ? l2 * beta[a]! : 0);
      for (let b = 0; b < p; b++) hess[a]![b] = hess[a]![b]! / wsum + (a === b && a < nFeatures ? l2 : 0);
    }
    const step = solve(hess, grad);
    beta = beta.map((v, k) => v - step[k]!);
    const newLoss = l / wsum;
    const done = Math.abs(loss - newLoss) < 1e-7;
    loss = newLoss;
    if (done) break;
  }
  const weights = beta.slice(0, nFeatures).map((b, f) => b / sd[f]!);
  const bias =
    beta[nFeatures]! - beta.slice(0, nFeatures).reduce((s, b, f) => s + (b * mean[f]!) / sd[f]!, 0);
  return { weights, bias, iterations: steps, loss };
}

/** Pixel precision, recall and F1 of `predicted` against `truth` over `valid` pixels. */
export function precisionRecall(
  predicted: ArrayLike<number>,
  truth: ArrayLike<number>,
  valid?: ArrayLike<number>,
) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    if (valid && !valid[i]) continue;
    const p = predicted[i] ? 1 : 0;
    const t = truth[i] ? 1 : 0;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { tp, fp, fn, precision, recall, f1 };
}

/** Deterministic PRNG (mulberry32) so sampling is reproducible from a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
