import { mulberry32 } from '../domain/detectors/logistic.ts';

/**
 * Deterministic randomness for the simulator: everything derives from the run seed and a
 * label, so adding a new random stream never shifts the numbers of the existing ones.
 */

/** FNV-1a of a string: stable sub-seeds from labels. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A mulberry32 stream for `label` under the run seed. */
export function rngFor(seed: number, label: string): Rng {
  return new Rng(mulberry32((hashString(label) ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0));
}

/** Small convenience wrapper over a uniform [0,1) source. */
export class Rng {
  constructor(readonly next: () => number) {}
  /** Uniform in [a, b). */
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  /** Integer in [a, b]. */
  int(a: number, b: number): number {
    return a + Math.floor(this.next() * (b - a + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(1e-12, this.next());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

/** 32-bit integer hash of two ints and a seed (murmur3 finaliser). */
export function hash3(x: number, y: number, seed: number): number {
  let h = (Math.imul(x | 0, 0x27d4eb2d) ^ Math.imul(y | 0, 0x165667b1) ^ seed) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 4096 standard normal values (Box–Muller from a fixed stream), indexed by a pixel hash. */
export const GAUSS_TABLE: Float32Array = (() => {
  const n = 4096;
  const t = new Float32Array(n);
  const r = mulberry32(0x5eed);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(1e-9, r());
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    t[i] = m * Math.cos(2 * Math.PI * v);
    t[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return t;
})();

const smooth = (t: number) => t * t * (3 - 2 * t);

/** Value noise in [0,1] on an integer lattice, smoothly interpolated. */
export function valueNoise(x: number, y: number, seed: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = smooth(x - x0);
  const fy = smooth(y - y0);
  const a = hash3(x0, y0, seed) / 4294967296;
  const b = hash3(x0 + 1, y0, seed) / 4294967296;
  const c = hash3(x0, y0 + 1, seed) / 4294967296;
  const d = hash3(x0 + 1, y0 + 1, seed) / 4294967296;
  return a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy;
}

export interface FieldOptions {
  seed: number;
  /** Feature size of the first octave, in output pixels. */
  scalePx: number;
  octaves?: number;
  /** Amplitude ratio between octaves (default 0.5). */
  persistence?: number;
  /**
   * Compute on a lattice `stepPx` output pixels apart and interpolate bilinearly; low-frequency
   * fields do not need every pixel (default: a quarter of the finest octave, at least 1).
   */
  stepPx?: number;
  /** Pixel offset of the field (for fields that move, e.g. cloud shadows). */
  offsetX?: number;
  offsetY?: number;
}

/** Fractal value noise over a width×height raster, normalised to [0,1]. */
export function fractalField(width: number, height: number, o: FieldOptions): Float32Array {
  const octaves = o.octaves ?? 4;
  const persistence = o.persistence ?? 0.5;
  const finest = o.scalePx / 2 ** (octaves - 1);
  const step = Math.max(1, Math.floor(o.stepPx ?? finest / 4));
  const cw = Math.ceil(width / step) + 2;
  const ch = Math.ceil(height / step) + 2;
  const coarse = new Float32Array(cw * ch);
  let norm = 0;
  for (let k = 0, amp = 1; k < octaves; k++, amp *= persistence) norm += amp;
  const ox = o.offsetX ?? 0;
  const oy = o.offsetY ?? 0;
  for (let j = 0; j < ch; j++) {
    for (let i = 0; i < cw; i++) {
      let v = 0;
      let amp = 1;
      let scale = o.scalePx;
      for (let k = 0; k < octaves; k++) {
        v += amp * valueNoise((i * step + ox) / scale, (j * step + oy) / scale, o.seed + k * 7919);
        amp *= persistence;
        scale /= 2;
      }
      coarse[j * cw + i] = v / norm;
    }
  }
  if (step === 1) {
    const out = new Float32Array(width * height);
    for (let y = 0; y < height; y++) out.set(coarse.subarray(y * cw, y * cw + width), y * width);
    return out;
  }
  return upsampleBilinear(coarse, cw, ch, step, width, height);
}

/** Bilinear upsampling of a lattice whose nodes sit every `step` output pixels. */
export function upsampleBilinear(
  coarse: Float32Array,
  cw: number,
  ch: number,
  step: number,
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height);
  const inv = 1 / step;
  const fxs = new Float32Array(width);
  const ixs = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    const gx = x * inv;
    ixs[x] = Math.min(cw - 2, Math.floor(gx));
    fxs[x] = gx - ixs[x]!;
  }
  for (let y = 0; y < height; y++) {
    const gy = y * inv;
    const iy = Math.min(ch - 2, Math.floor(gy));
    const fy = gy - iy;
    const r0 = iy * cw;
    const r1 = r0 + cw;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const ix = ixs[x]!;
      const fx = fxs[x]!;
      const a = coarse[r0 + ix]!;
      const b = coarse[r0 + ix + 1]!;
      const c = coarse[r1 + ix]!;
      const d = coarse[r1 + ix + 1]!;
      const top = a + (b - a) * fx;
      out[o + x] = top + (c + (d - c) * fx - top) * fy;
    }
  }
  return out;
}

/**
 * Approximate Euclidean distance (in pixels) to the nearest seed pixel, by a two-pass 3-4
 * chamfer transform (within ~8 % of Euclidean). Seeds are pixels where `seed[i]` is non-zero;
 * distances are capped at `cap`.
 */
export function chamferDistance(seed: Uint8Array, width: number, height: number, cap = 4000): Float32Array {
  const big = cap * 3;
  const d = new Float32Array(width * height);
  for (let i = 0; i < d.length; i++) d[i] = seed[i] ? 0 : big;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      let v = d[i]!;
      if (v === 0) continue;
      if (x > 0) v = Math.min(v, d[i - 1]! + 3);
      if (y > 0) {
        const u = i - width;
        v = Math.min(v, d[u]! + 3);
        if (x > 0) v = Math.min(v, d[u - 1]! + 4);
        if (x < width - 1) v = Math.min(v, d[u + 1]! + 4);
      }
      d[i] = v;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      let v = d[i]!;
      if (v === 0) continue;
      if (x < width - 1) v = Math.min(v, d[i + 1]! + 3);
      if (y < height - 1) {
        const u = i + width;
        v = Math.min(v, d[u]! + 3);
        if (x > 0) v = Math.min(v, d[u - 1]! + 4);
        if (x < width - 1) v = Math.min(v, d[u + 1]! + 4);
      }
      d[i] = v;
    }
  }
  for (let i = 0; i < d.length; i++) d[i] = Math.min(cap, d[i]! / 3);
  return d;
}
