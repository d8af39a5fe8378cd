import { mulberry32 } from './logistic.ts';

/**
 * A one-hidden-layer perceptron (ReLU, sigmoid output) trained with Adam on weighted binary
 * cross-entropy, on standardised features; the standardisation is folded into the first layer
 * so the result applies to raw features (and maps onto two 1×1 convolutions in ONNX).
 */
export interface MlpFit {
  hidden: number;
  /** hidden × features, row-major, on raw features. */
  w1: number[];
  b1: number[];
  w2: number[];
  b2: number;
  loss: number;
  epochs: number;
}

export function fitMlp(
  x: Float32Array,
  nF: number,
  y: Uint8Array,
  sampleWeight: Float32Array,
  options: { hidden?: number; epochs?: number; lr?: number; batch?: number; l2?: number; seed?: number } = {},
): MlpFit {
  const H = options.hidden ?? 16;
  const epochs = options.epochs ?? 12;
  const lr = options.lr ?? 0.01;
  const batch = options.batch ?? 256;
  const l2 = options.l2 ?? 1e-4;
  const rand = mulberry32(options.seed ?? 7);
  const n = y.length;
  const mean = new Float64Array(nF);
  const sd = new Float64Array(nF);
  for (let i = 0; i < n; i++) for (let f = 0; f < nF; f++) mean[f]! += x[i * nF + f]!;
  for (let f = 0; f < nF; f++) mean[f]! /= n;
  for (let i = 0; i < n; i++)
    for (let f = 0; f < nF; f++) {
      const d = x[i * nF + f]! - mean[f]!;
      sd[f]! += d * d;
    }
  for (let f = 0; f < nF; f++) sd[f] = Math.sqrt(sd[f]! / n) || 1;
  const z = new Float32Array(n * nF);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < nF; f++) {
      const v = (x[i * nF + f]! - mean[f]!) / sd[f]!;
      z[i * nF + f] = Math.max(-8, Math.min(8, v));
    }

  // Parameters: W1 [H×nF], B1 [H], W2 [H], B2.
  const P = H * nF + H + H + 1;
  const p = new Float64Array(P);
  const scale = Math.sqrt(2 / nF);
  for (let k = 0; k < H * nF; k++) p[k] = (rand() * 2 - 1) * scale;
  for (let k = 0; k < H; k++) p[H * nF + H + k] = (rand() * 2 - 1) * Math.sqrt(1 / H);
  const oB1 = H * nF;
  const oW2 = oB1 + H;
  const oB2 = oW2 + H;
  const m = new Float64Array(P);
  const v = new Float64Array(P);
  const grad = new Float64Array(P);
  const hid = new Float64Array(H);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let t = 0;
  let lastLoss = 0;
  const b1 = 0.9;
  const b2 = 0.999;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
    }
    let lossSum = 0;
    let wSum = 0;
    const rate = lr * (epoch >= epochs - 2 ? 0.3 : 1);
    for (let s = 0; s < n; s += batch) {
      grad.fill(0);
      const e = Math.min(n, s + batch);
      let bw = 0;
      for (let q = s; q < e; q++) {
        const i = order[q]!;
        const row = i * nF;
        let out = p[oB2]!;
        for (let h = 0; h < H; h++) {
          let a = p[oB1 + h]!;
          const wr = h * nF;
          for (let f = 0; f < nF; f++) a += p[wr + f]! * z[row + f]!;
          hid[h] = a > 0 ? a : 0;
          out += p[oW2 + h]! * hid[h]!;
        }
        const prob = 1 / (1 + Math.exp(-out));
        const w = sampleWeight[i]!;
        const yi = y[i]!;
        lossSum -= w * (yi ? Math.log(Math.max(prob, 1e-9)) : Math.log(Math.max(1 - prob, 1e-9)));
        wSum += w;
        bw += w;
        const g = w * (prob - yi);
        grad[oB2]! += g;
        for (let h = 0; h < H; h++) {
          if (hid[h]! <= 0) continue;
          grad[oW2 + h]! += g * hid[h]!;
          const gh = g * p[oW2 + h]!;
          grad[oB1 + h]! += gh;
          const wr = h * nF;
          for (let f = 0; f < nF; f++) grad[wr + f]! += gh * z[row + f]!;
        }
      }
      t++;
      const c1 = 1 - b1 ** t;
      const c2 = 1 - b2 ** t;
      for (let k = 0; k < P; k++) {
        const gk = grad[k]! / bw + (k < oB1 ? l2 * p[k]! : 0);
        m[k] = b1 * m[k]! + (1 - b1) * gk;
        v[k] = b2 * v[k]! + (1 - b2) * gk * gk;
        p[k]! -= (rate * (m[k]! / c1)) / (Math.sqrt(v[k]! / c2) + 1e-8);
      }
    }
    lastLoss = lossSum / wSum;
  }
  // Fold standardisation into the first layer: w' = w/sd, b' = b − Σ w·mean/sd. The clamp to
  // ±8 sd is not folded (it only matters for extreme outliers).
  const w1: number[] = [];
  const bias1: number[] = [];
  for (let h = 0; h < H; h++) {
    let b = p[oB1 + h]!;
    for (let f = 0; f < nF; f++) {
      const w = p[h * nF + f]! / sd[f]!;
      w1.push(w);
      b -= w * mean[f]!;
    }
    bias1.push(b);
  }
  return {
    hidden: H,
    w1,
    b1: bias1,
    w2: Array.from(p.subarray(oW2, oW2 + H)),
    b2: p[oB2]!,
    loss: lastLoss,
    epochs,
  };
}

/** Apply a fitted MLP to one raw feature row (for tests and threshold search). */
export function predictMlp(fit: MlpFit, row: ArrayLike<number>, nF: number): number {
  let out = fit.b2;
  for (let h = 0; h < fit.hidden; h++) {
    let a = fit.b1[h]!;
    for (let f = 0; f < nF; f++) a += fit.w1[h * nF + f]! * row[f]!;
    if (a > 0) out += fit.w2[h]! * a;
  }
  return 1 / (1 + Math.exp(-out));
}
