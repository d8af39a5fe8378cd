/**
 * Relative radiometric normalisation: rescale `target` so that, over pixels valid in both,
 * its mean and standard deviation match `reference`. Removes most of the season/atmosphere
 * difference between two dates before a change model compares them. Returns a new array.
 */
export function matchMeanStd(reference: Float32Array, target: Float32Array): Float32Array {
  let n = 0;
  let sr = 0;
  let st = 0;
  let sr2 = 0;
  let st2 = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i]!;
    const b = target[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) continue;
    n++;
    sr += a;
    st += b;
    sr2 += a * a;
    st2 += b * b;
  }
  const out = new Float32Array(target.length);
  if (n < 2) {
    out.set(target);
    return out;
  }
  const mr = sr / n;
  const mt = st / n;
  const sdr = Math.sqrt(Math.max(0, sr2 / n - mr * mr));
  const sdt = Math.sqrt(Math.max(0, st2 / n - mt * mt));
  const gain = sdt > 1e-9 ? sdr / sdt : 1;
  for (let i = 0; i < target.length; i++) out[i] = (target[i]! - mt) * gain + mr;
  return out;
}
