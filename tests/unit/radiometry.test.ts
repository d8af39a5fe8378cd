import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import { matchMeanStd } from '../../services/domain/imagery/radiometry.ts';

function stats(a: Float32Array, mask?: (i: number) => boolean): { mean: number; sd: number } {
  let n = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    n++;
    s += a[i]!;
  }
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask(i)) continue;
    v += (a[i]! - mean) ** 2;
  }
  return { mean, sd: Math.sqrt(v / n) };
}

function randomBand(seed: number, n: number, mean: number, spread: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => mean + (rand() - 0.5) * spread);
}

describe('matchMeanStd', () => {
  it('gives the target the mean and standard deviation of the reference', () => {
    const reference = randomBand(1, 1000, 0.12, 0.08);
    const target = randomBand(2, 1000, 0.25, 0.2);
    const out = matchMeanStd(reference, target);
    const r = stats(reference);
    const o = stats(out);
    expect(o.mean).toBeCloseTo(r.mean, 5);
    expect(o.sd).toBeCloseTo(r.sd, 5);
  });

  it('ignores pixels that are NaN in either image when computing the statistics', () => {
    const reference = randomBand(3, 400, 0.12, 0.08);
    const target = randomBand(4, 400, 0.25, 0.2);
    const withNaN = (a: Float32Array, every: number, offset: number) =>
      a.map((v, i) => (i % every === offset ? Number.NaN : v));
    const refNaN = withNaN(reference, 7, 0);
    const tgtNaN = withNaN(target, 11, 3);
    const valid = (i: number) => !Number.isNaN(refNaN[i]!) && !Number.isNaN(tgtNaN[i]!);
    const out = matchMeanStd(refNaN, tgtNaN);
    const r = stats(refNaN, valid);
    const o = stats(out, valid);
    expect(o.mean).toBeCloseTo(r.mean, 5);
    expect(o.sd).toBeCloseTo(r.sd, 5);
  });

  it('keeps NaN target pixels NaN and rescales pixels that are NaN only in the reference', () => {
    const reference = Float32Array.from([Number.NaN, 1, 2, 3, 4]);
    const target = Float32Array.from([10, 20, 30, Number.NaN, 50]);
    const out = matchMeanStd(reference, target);
    expect(Number.isNaN(out[3]!)).toBe(true);
    expect(Number.isFinite(out[0]!)).toBe(true);
  });

  it('only shifts a constant target (no division by a zero deviation)', () => {
    const reference = Float32Array.from([1, 2, 3, 4]);
    const target = Float32Array.from([7, 7, 7, 7]);
    expect(Array.from(matchMeanStd(reference, target))).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it('returns an unchanged copy when fewer than two pixels are valid in both', () => {
    const reference = Float32Array.from([Number.NaN, 1, Number.NaN]);
    const target = Float32Array.from([5, 6, 7]);
    const out = matchMeanStd(reference, target);
    expect(Array.from(out)).toEqual([5, 6, 7]);
    expect(out).not.toBe(target);
  });

  it('does not modify its inputs', () => {
    const reference = randomBand(5, 50, 0.1, 0.05);
    const target = randomBand(6, 50, 0.3, 0.1);
    const refCopy = Float32Array.from(reference);
    const tgtCopy = Float32Array.from(target);
    matchMeanStd(reference, target);
    expect(reference).toEqual(refCopy);
    expect(target).toEqual(tgtCopy);
  });
});
