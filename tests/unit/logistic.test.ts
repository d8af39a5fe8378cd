import { describe, expect, it } from 'vitest';
import { fitLogistic, mulberry32, precisionRecall } from '../../services/domain/detectors/logistic.ts';

const N_FEATURES = 3;

/** Separable data: y = 1 iff 3·x0 − x1 + 0.5 > 0; x2 is pure noise. Features uniform in [−1, 1). */
function separable(seed: number, n: number): { x: Float32Array; y: Uint8Array } {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * N_FEATURES);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < N_FEATURES; f++) x[i * N_FEATURES + f] = rand() * 2 - 1;
    y[i] = 3 * x[i * N_FEATURES]! - x[i * N_FEATURES + 1]! + 0.5 > 0 ? 1 : 0;
  }
  return { x, y };
}

function ones(n: number): Float32Array {
  return new Float32Array(n).fill(1);
}

/** Reference mulberry32 (Tommy Ettinger / bryc), written independently of the source. */
function referenceMulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fitLogistic', () => {
  it('recovers the sign of each informative weight', () => {
    const { x, y } = separable(42, 2000);
    const fit = fitLogistic(x, N_FEATURES, y, ones(y.length));
    expect(fit.weights[0]).toBeGreaterThan(0);
    expect(fit.weights[1]).toBeLessThan(0);
    expect(fit.bias).toBeGreaterThan(0);
  });

  it('orders the weights by importance (|w0| > |w1| > |w2|)', () => {
    const { x, y } = separable(42, 2000);
    const [w0, w1, w2] = fitLogistic(x, N_FEATURES, y, ones(y.length)).weights.map(Math.abs);
    expect(w0!).toBeGreaterThan(w1!);
    expect(w1!).toBeGreaterThan(w2!);
  });

  it('recovers the direction of the separating line (w0/w1 ≈ −3)', () => {
    const { x, y } = separable(42, 2000);
    const fit = fitLogistic(x, N_FEATURES, y, ones(y.length));
    const ratio = fit.weights[0]! / fit.weights[1]!;
    expect(ratio).toBeLessThan(-2);
    expect(ratio).toBeGreaterThan(-4.5);
  });

  it('classifies the training data almost perfectly', () => {
    const { x, y } = separable(7, 2000);
    const fit = fitLogistic(x, N_FEATURES, y, ones(y.length));
    let correct = 0;
    for (let i = 0; i < y.length; i++) {
      let eta = fit.bias;
      for (let f = 0; f < N_FEATURES; f++) eta += fit.weights[f]! * x[i * N_FEATURES + f]!;
      if ((eta > 0 ? 1 : 0) === y[i]) correct++;
    }
    expect(correct / y.length).toBeGreaterThan(0.97);
  });

  it('is unchanged when every sample weight is scaled by the same factor', () => {
    const { x, y } = separable(42, 500);
    const a = fitLogistic(x, N_FEATURES, y, ones(y.length));
    const b = fitLogistic(x, N_FEATURES, y, new Float32Array(y.length).fill(2));
    for (let f = 0; f < N_FEATURES; f++) expect(b.weights[f]).toBeCloseTo(a.weights[f]!, 4);
    expect(b.bias).toBeCloseTo(a.bias, 4);
  });

  it('is deterministic for the same input', () => {
    const { x, y } = separable(3, 300);
    expect(fitLogistic(x, N_FEATURES, y, ones(y.length))).toEqual(
      fitLogistic(x, N_FEATURES, y, ones(y.length)),
    );
  });

  it('never reports more iterations than maxIter', () => {
    const { x, y } = separable(42, 500);
    const fit = fitLogistic(x, N_FEATURES, y, ones(y.length), 1e-3, 5);
    expect(fit.iterations).toBeLessThanOrEqual(5);
  });

  it('stops early once the loss converges on noisy (non-separable) data', () => {
    const rand = mulberry32(11);
    const n = 1000;
    const x = new Float32Array(n);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = rand() * 2 - 1;
      y[i] = rand() < 1 / (1 + Math.exp(-2 * x[i]!)) ? 1 : 0;
    }
    const fit = fitLogistic(x, 1, y, ones(n));
    expect(fit.iterations).toBeLessThan(30);
    expect(fit.weights[0]).toBeGreaterThan(1);
    expect(fit.weights[0]).toBeLessThan(3);
  });
});

describe('precisionRecall', () => {
  it('counts true positives, false positives and false negatives', () => {
    const predicted = [1, 1, 0, 0, 1, 0];
    const truth = [1, 0, 1, 0, 1, 1];
    const r = precisionRecall(predicted, truth);
    expect(r).toMatchObject({ tp: 2, fp: 1, fn: 2 });
    expect(r.precision).toBeCloseTo(2 / 3, 12);
    expect(r.recall).toBeCloseTo(0.5, 12);
    expect(r.f1).toBeCloseTo((2 * (2 / 3) * 0.5) / (2 / 3 + 0.5), 12);
  });

  it('skips pixels outside the valid mask', () => {
    const predicted = [1, 1, 0, 1];
    const truth = [1, 0, 1, 0];
    const valid = [1, 0, 0, 1];
    expect(precisionRecall(predicted, truth, valid)).toMatchObject({ tp: 1, fp: 1, fn: 0 });
  });

  it('treats any non-zero value as positive', () => {
    const r = precisionRecall([0.3, 255, 0], [7, 1, 0]);
    expect(r).toMatchObject({ tp: 2, fp: 0, fn: 0, precision: 1, recall: 1, f1: 1 });
  });

  it('returns zeros instead of NaN when there are no positives', () => {
    expect(precisionRecall([0, 0], [0, 0])).toEqual({ tp: 0, fp: 0, fn: 0, precision: 0, recall: 0, f1: 0 });
  });
});

describe('mulberry32', () => {
  it('gives the same sequence for the same seed', () => {
    const a = mulberry32(1234);
    const b = mulberry32(1234);
    for (let i = 0; i < 100; i++) expect(a()).toBe(b());
  });

  it('gives different sequences for different seeds', () => {
    const a = mulberry32(1);
    const b = mulberry32(2);
    const sa = Array.from({ length: 10 }, () => a());
    const sb = Array.from({ length: 10 }, () => b());
    expect(sa).not.toEqual(sb);
  });

  it('matches the reference mulberry32 algorithm', () => {
    for (const seed of [0, 1, 42, 0xdeadbeef, -5]) {
      const a = mulberry32(seed);
      const b = referenceMulberry32(seed);
      for (let i = 0; i < 1000; i++) expect(a()).toBe(b());
    }
  });

  it('returns values in [0, 1) with a mean near 1/2', () => {
    const rand = mulberry32(99);
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = rand();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      sum += v;
    }
    expect(sum / 10_000).toBeCloseTo(0.5, 1);
  });
});
