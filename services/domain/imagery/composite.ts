/**
 * Per-pixel compositing of co-registered observations over a time window. A pixel without any
 * valid observation stays invalid (valid 0, NaN bands, count 0, date −1), so cloud-covered
 * ground never counts as patrolled.
 */

export interface Observation {
  bands: Record<string, Float32Array>;
  /** Non-zero where the pixel is clear and usable. */
  valid: Uint8Array;
  date: Date;
  /** Higher is better (e.g. distance to the nearest cloud); NaN or absent ranks lowest. */
  quality?: Float32Array;
}

export type CompositeMethod = 'best' | 'median';

export interface CompositeResult {
  bands: Record<string, Float32Array>;
  valid: Uint8Array;
  /** Valid observations per pixel (saturates at 65535). */
  count: Uint16Array;
  /** Days since 1970-01-01 (UTC) of the chosen observation; −1 where none. */
  date: Int32Array;
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a date, in UTC. */
export function epochDay(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS);
}

/**
 * Composite `obs` (all on the same grid, same band names). An observation counts at a pixel when
 * its `valid` is non-zero and none of its bands is NaN there.
 * - `best`: the valid observation with the highest quality; ties (including no quality arrays
 *   at all) go to the most recent date, then to the later observation in `obs`.
 * - `median`: per-band median over the same set of valid observations (mean of the two middle
 *   values for an even count); `date` is that of the observation closest to the median vector
 *   (least squared difference over the bands; ties as for `best`).
 */
export function composite(obs: Observation[], options: { method: CompositeMethod }): CompositeResult {
  const first = obs[0];
  if (!first) throw new RangeError('composite: no observations');
  const names = Object.keys(first.bands).sort();
  const n = first.valid.length;
  for (const [i, o] of obs.entries()) {
    const own = Object.keys(o.bands).sort();
    if (own.length !== names.length || own.some((b, k) => b !== names[k])) {
      throw new RangeError(`composite: observation ${i} has bands [${own}] instead of [${names}]`);
    }
    if (o.valid.length !== n)
      throw new RangeError(`composite: observation ${i} has ${o.valid.length} pixels, expected ${n}`);
    for (const b of names) {
      if (o.bands[b]!.length !== n)
        throw new RangeError(`composite: band ${b} of observation ${i} has the wrong length`);
    }
    if (o.quality && o.quality.length !== n)
      throw new RangeError(`composite: quality of observation ${i} has the wrong length`);
    if (Number.isNaN(o.date.getTime()))
      throw new RangeError(`composite: observation ${i} has an invalid date`);
  }
  if (options.method !== 'best' && options.method !== 'median') {
    throw new RangeError(`composite: unknown method ${String(options.method)}`);
  }

  const nb = names.length;
  const no = obs.length;
  const bandsIn = obs.map((o) => names.map((b) => o.bands[b]!));
  const days = obs.map((o) => epochDay(o.date));
  const times = obs.map((o) => o.date.getTime());
  const outBands = names.map(() => new Float32Array(n).fill(Number.NaN));
  const valid = new Uint8Array(n);
  const count = new Uint16Array(n);
  const date = new Int32Array(n).fill(-1);

  // Observation-major passes over contiguous arrays: far faster than gathering per pixel.
  const usable = obs.map((o, i) => {
    const u = new Uint8Array(n);
    for (let p = 0; p < n; p++) u[p] = o.valid[p] === 0 ? 0 : 1;
    for (const band of bandsIn[i]!) for (let p = 0; p < n; p++) if (Number.isNaN(band[p]!)) u[p] = 0;
    for (let p = 0; p < n; p++) if (u[p] && count[p]! < 65535) count[p]!++;
    return u;
  });
  for (let p = 0; p < n; p++) valid[p] = count[p]! > 0 ? 1 : 0;

  if (options.method === 'best') {
    const best = new Int32Array(n).fill(-1);
    const bestQ = new Float64Array(n);
    for (let o = 0; o < no; o++) {
      const u = usable[o]!;
      const q = obs[o]!.quality;
      const t = times[o]!;
      for (let p = 0; p < n; p++) {
        if (!u[p]) continue;
        const qv = q ? q[p]! : Number.NEGATIVE_INFINITY;
        const qp = Number.isNaN(qv) ? Number.NEGATIVE_INFINITY : qv;
        const b = best[p]!;
        // Ties go to the later date, then (o increases) to the later observation.
        if (b < 0 || qp > bestQ[p]! || (qp === bestQ[p]! && t >= times[b]!)) {
          best[p] = o;
          bestQ[p] = qp;
        }
      }
    }
    for (let k = 0; k < nb; k++) {
      const out = outBands[k]!;
      const src = bandsIn.map((bs) => bs[k]!);
      for (let p = 0; p < n; p++) {
        const b = best[p]!;
        if (b >= 0) out[p] = src[b]![p]!;
      }
    }
    for (let p = 0; p < n; p++) {
      const b = best[p]!;
      if (b >= 0) date[p] = days[b]!;
    }
  } else {
    medianComposite(
      names.map((_, b) => bandsIn.map((bs) => bs[b]!)),
      usable,
      valid,
      times,
      days,
      outBands,
      date,
    );
  }

  const bands: Record<string, Float32Array> = {};
  names.forEach((b, i) => {
    bands[b] = outBands[i]!;
  });
  return { bands, valid, count, date };
}

/** Per-band medians, and the date of the observation nearest to them (see `composite`). */
function medianComposite(
  byBand: Float32Array[][],
  usable: Uint8Array[],
  valid: Uint8Array,
  times: number[],
  days: number[],
  outBands: Float32Array[],
  date: Int32Array,
): void {
  const no = usable.length;
  const nb = byBand.length;
  const n = valid.length;
  const chosen = new Int32Array(no);
  const values = new Float64Array(no);
  const sorted = new Float64Array(no);
  const dist = new Float64Array(no);
  for (let p = 0; p < n; p++) {
    if (!valid[p]) continue;
    let m = 0;
    for (let o = 0; o < no; o++) if (usable[o]![p]) chosen[m++] = o;
    for (let k = 0; k < m; k++) dist[k] = 0;
    for (let b = 0; b < nb; b++) {
      const arrs = byBand[b]!;
      for (let k = 0; k < m; k++) {
        const v = arrs[chosen[k]!]![p]!;
        values[k] = v;
        sorted[k] = v;
      }
      const med = median(sorted, m);
      outBands[b]![p] = med;
      for (let k = 0; k < m; k++) {
        const d = values[k]! - med;
        dist[k]! += d * d;
      }
    }
    // Ties go to the later date, then to the later observation (o increases with k).
    let near = chosen[0]!;
    let nearD = dist[0]!;
    for (let k = 1; k < m; k++) {
      const o = chosen[k]!;
      if (dist[k]! < nearD || (dist[k] === nearD && times[o]! >= times[near]!)) {
        near = o;
        nearD = dist[k]!;
      }
    }
    date[p] = days[near]!;
  }
}

/** Median of the first `m` entries (sorted in place). */
function median(v: Float64Array, m: number): number {
  if (m > 32) v.subarray(0, m).sort();
  else {
    // Insertion sort beats the native sort's call overhead for the usual handful of scenes.
    for (let i = 1; i < m; i++) {
      const x = v[i]!;
      let j = i - 1;
      while (j >= 0 && v[j]! > x) {
        v[j + 1] = v[j]!;
        j--;
      }
      v[j + 1] = x;
    }
  }
  const h = m >> 1;
  return m % 2 === 1 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}
