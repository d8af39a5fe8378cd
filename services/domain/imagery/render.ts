/**
 * Display rendering of reflectance. Each band is stretched linearly between its 2nd and 98th
 * percentile over valid pixels (removes haze and adapts to the scene), then a mild gamma;
 * NaN → transparent. True colour = red/green/blue; false colour = nir/red/green.
 */
export function percentileRange(v: Float32Array, lo = 0.02, hi = 0.98): [number, number] {
  const step = Math.max(1, Math.floor(v.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += step) if (!Number.isNaN(v[i]!)) sample.push(v[i]!);
  if (!sample.length) return [0, 1];
  sample.sort((a, b) => a - b);
  const a = sample[Math.floor(lo * (sample.length - 1))]!;
  const b = sample[Math.floor(hi * (sample.length - 1))]!;
  return b > a ? [a, b] : [a, a + 1e-6];
}

export function stretchToRgba(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  options: { gamma?: number } = {},
): Uint8Array {
  const inv = 1 / (options.gamma ?? 1.2);
  const ranges = [percentileRange(r), percentileRange(g), percentileRange(b)];
  const out = new Uint8Array(r.length * 4);
  const to8 = (v: number, [lo, hi]: [number, number]) =>
    Math.round(255 * Math.min(1, Math.max(0, (v - lo) / (hi - lo))) ** inv);
  for (let i = 0; i < r.length; i++) {
    const rv = r[i]!;
    const gv = g[i]!;
    const bv = b[i]!;
    if (Number.isNaN(rv) || Number.isNaN(gv) || Number.isNaN(bv)) continue; // alpha stays 0
    out[i * 4] = to8(rv, ranges[0]!);
    out[i * 4 + 1] = to8(gv, ranges[1]!);
    out[i * 4 + 2] = to8(bv, ranges[2]!);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** Output size so that the longest side is at most `maxSide` (never upsampled). */
export function downsampleSize(
  width: number,
  height: number,
  maxSide: number,
): { width: number; height: number } {
  const f = Math.min(1, maxSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * f)), height: Math.max(1, Math.round(height * f)) };
}
