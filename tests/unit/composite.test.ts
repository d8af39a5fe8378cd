import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import {
  composite,
  epochDay,
  NewestFirstComposite,
  type Observation,
} from '../../services/domain/imagery/composite.ts';

/** An observation over `n` pixels from per-pixel arrays (null = cloudy). */
function obs(date: string, red: (number | null)[], nir?: (number | null)[], quality?: number[]): Observation {
  const o: Observation = {
    bands: {
      red: Float32Array.from(red, (v) => v ?? Number.NaN),
      nir: Float32Array.from(nir ?? red, (v) => (v === null ? Number.NaN : v)),
    },
    valid: Uint8Array.from(red, (v) => (v === null ? 0 : 1)),
    date: new Date(`${date}T03:00:00Z`),
  };
  if (quality) o.quality = Float32Array.from(quality);
  return o;
}

describe('epochDay', () => {
  it('counts UTC days since 1970-01-01', () => {
    expect(epochDay(new Date('1970-01-01T23:59:59Z'))).toBe(0);
    expect(epochDay(new Date('2024-06-01T00:00:00Z'))).toBe(19875);
  });
});

describe('composite best', () => {
  it('picks per pixel the valid observation with the highest quality', () => {
    const a = obs('2024-06-01', [0.1, 0.2], undefined, [5, 1]);
    const b = obs('2024-06-11', [0.3, 0.4], undefined, [2, 9]);
    const out = composite([a, b], { method: 'best' });
    expect(Array.from(out.bands.red!)).toEqual([Math.fround(0.1), Math.fround(0.4)]);
    expect(Array.from(out.date)).toEqual([epochDay(a.date), epochDay(b.date)]);
  });

  it('breaks quality ties, and the no-quality case, with the most recent date', () => {
    const older = obs('2024-06-01', [0.1, 0.1], undefined, [3, 3]);
    const newer = obs('2024-06-21', [0.2, 0.2], undefined, [3, 3]);
    expect(Array.from(composite([newer, older], { method: 'best' }).bands.red!)).toEqual([
      Math.fround(0.2),
      Math.fround(0.2),
    ]);
    const plain = composite([obs('2024-06-21', [0.2]), obs('2024-06-01', [0.1])], { method: 'best' });
    expect(plain.bands.red![0]).toBe(Math.fround(0.2));
  });

  it('never picks a cloudy observation, whatever its quality', () => {
    const cloudy = obs('2024-06-21', [null], undefined, [100]);
    const clear = obs('2024-06-01', [0.3], undefined, [1]);
    const out = composite([cloudy, clear], { method: 'best' });
    expect(out.bands.red![0]).toBe(Math.fround(0.3));
    expect(out.date[0]).toBe(epochDay(clear.date));
  });

  it('takes all bands from the chosen observation', () => {
    const a = obs('2024-06-01', [0.1], [0.5], [1]);
    const b = obs('2024-06-11', [0.2], [0.6], [2]);
    const out = composite([a, b], { method: 'best' });
    expect([out.bands.red![0], out.bands.nir![0]]).toEqual([Math.fround(0.2), Math.fround(0.6)]);
  });
});

describe('composite median', () => {
  it('takes the per-band median of the valid observations (odd count)', () => {
    const out = composite(
      [
        obs('2024-06-01', [0.1], [0.9]),
        obs('2024-06-11', [0.5], [0.2]),
        obs('2024-06-21', [0.3], [0.4]),
        obs('2024-07-01', [null]),
      ],
      { method: 'median' },
    );
    expect(out.bands.red![0]).toBe(Math.fround(0.3));
    expect(out.bands.nir![0]).toBe(Math.fround(0.4));
  });

  it('averages the two middle values for an even count', () => {
    const out = composite([obs('2024-06-01', [0.1]), obs('2024-06-11', [0.4])], { method: 'median' });
    expect(out.bands.red![0]).toBeCloseTo(0.25, 6);
  });

  it('dates the median with the observation nearest to it over all bands', () => {
    const a = obs('2024-06-01', [0.1], [0.1]);
    const b = obs('2024-06-11', [0.3], [0.35]);
    const c = obs('2024-06-21', [0.5], [0.6]);
    const out = composite([a, b, c], { method: 'median' });
    expect(out.date[0]).toBe(epochDay(b.date));
  });

  it('drops an observation with a NaN band from every band of that pixel', () => {
    const out = composite(
      [obs('2024-06-01', [0.1], [null]), obs('2024-06-11', [0.3], [0.3]), obs('2024-06-21', [0.5], [0.5])],
      { method: 'median' },
    );
    expect(out.count[0]).toBe(2);
    expect(out.bands.red![0]).toBeCloseTo(0.4, 6);
  });
});

describe('composite validity', () => {
  it('counts the valid observations per pixel', () => {
    const out = composite(
      [
        obs('2024-06-01', [0.1, null, 0.2]),
        obs('2024-06-11', [0.1, null, null]),
        obs('2024-06-21', [0.1, 0.3, null]),
      ],
      { method: 'median' },
    );
    expect(Array.from(out.count)).toEqual([3, 1, 1]);
    expect(Array.from(out.valid)).toEqual([1, 1, 1]);
  });

  it('leaves an all-cloudy pixel invalid: valid 0, NaN bands, count 0, date −1', () => {
    for (const method of ['best', 'median'] as const) {
      const out = composite([obs('2024-06-01', [null, 0.2]), obs('2024-06-11', [null, 0.3])], { method });
      expect(out.valid[0]).toBe(0);
      expect(out.bands.red![0]).toBeNaN();
      expect(out.bands.nir![0]).toBeNaN();
      expect(out.count[0]).toBe(0);
      expect(out.date[0]).toBe(-1);
      expect(out.valid[1]).toBe(1);
    }
  });

  it('rejects observations with different bands or sizes', () => {
    const a = obs('2024-06-01', [0.1, 0.2]);
    const b: Observation = { ...obs('2024-06-11', [0.1, 0.2]), bands: { red: new Float32Array(2) } };
    expect(() => composite([a, b], { method: 'best' })).toThrow(RangeError);
    expect(() => composite([a, obs('2024-06-11', [0.1])], { method: 'best' })).toThrow(RangeError);
    expect(() => composite([], { method: 'best' })).toThrow(RangeError);
  });
});

describe('NewestFirstComposite', () => {
  /** Seeded observations as read-tile reads them: `valid` 0 wherever a band is NaN. */
  function seeded(seed: number, count: number, n: number): Observation[] {
    const rnd = mulberry32(seed);
    // Dates with repeats, so ties between same-day observations are exercised.
    const days = Array.from({ length: count }, () => 1 + Math.floor(rnd() * 4)).sort((a, b) => a - b);
    return days.map((d) => {
      const red = new Float32Array(n);
      const nir = new Float32Array(n);
      const valid = new Uint8Array(n);
      for (let p = 0; p < n; p++) {
        const r = rnd();
        red[p] = r < 0.1 ? Number.NaN : rnd();
        nir[p] = r > 0.9 ? Number.NaN : rnd();
        valid[p] = Number.isNaN(red[p]!) || Number.isNaN(nir[p]!) || rnd() < 0.3 ? 0 : 1;
      }
      return { bands: { red, nir }, valid, date: new Date(Date.UTC(2024, 5, d, 3)) };
    });
  }

  it('equals composite best fed oldest first, value for value, with coverage counted as it goes', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const n = 997;
      const all = seeded(seed, 2 + seed, n);
      const want = composite(all, { method: 'best' });
      const acc = new NewestFirstComposite(n, ['red', 'nir']);
      let covered = 0;
      for (const o of [...all].reverse()) {
        covered += acc.add(o);
        expect(acc.uncovered).toBe(n - covered);
      }
      const got = acc.result();
      expect(covered).toBe(want.valid.reduce((a, v) => a + v, 0));
      expect(Array.from(got.valid)).toEqual(Array.from(want.valid));
      expect(Array.from(got.count)).toEqual(Array.from(want.count));
      expect(Array.from(got.date)).toEqual(Array.from(want.date));
      // NaN-aware comparison of the bands: Object.is treats NaN as equal to NaN.
      for (const b of ['red', 'nir']) {
        const g = got.bands[b]!;
        const w = want.bands[b]!;
        for (let p = 0; p < n; p++) if (!Object.is(g[p], w[p])) expect([b, p, g[p]]).toEqual([b, p, w[p]]);
      }
    }
  });

  it('refuses observations out of date order, with other bands, or with quality arrays', () => {
    const acc = new NewestFirstComposite(2, ['red', 'nir']);
    acc.add(obs('2024-06-11', [0.1, 0.2]));
    expect(() => acc.add(obs('2024-06-21', [0.1, 0.2]))).toThrow(/newest first/);
    expect(() => acc.add({ ...obs('2024-06-01', [0.1, 0.2]), bands: { red: new Float32Array(2) } })).toThrow(
      RangeError,
    );
    expect(() => acc.add(obs('2024-06-01', [0.1, 0.2], undefined, [1, 1]))).toThrow(/quality/);
  });
});
