import proj4 from 'proj4';
import { describe, expect, it } from 'vitest';
import { isGeographic, proj4Definition, toLonLatFn } from '../../services/domain/geo/crs.ts';

const DEG = Math.PI / 180;

/**
 * Independent latitude on the central meridian of a transverse Mercator: there
 * northing = k0 · meridian arc M(φ). M by Simpson's rule, inverted by bisection.
 */
function latitudeOnCentralMeridian(northing: number, k0: number, a: number, invF: number): number {
  const f = 1 / invF;
  const e2 = f * (2 - f);
  const arc = (phi: number): number => {
    const n = 2000;
    let s = 0;
    for (let i = 0; i <= n; i++) {
      const t = (i * phi) / n;
      const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
      s += w * (1 - e2 * Math.sin(t) ** 2) ** -1.5;
    }
    return a * (1 - e2) * s * (phi / n / 3);
  };
  let lo = 0;
  let hi = 89 * DEG;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (k0 * arc(mid) < northing) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2 / DEG;
}

function convert(epsg: number, x: number, y: number): [number, number] {
  const fn = toLonLatFn(epsg);
  if (!fn) throw new Error(`no converter for EPSG:${epsg}`);
  return fn(x, y);
}

describe('toLonLatFn', () => {
  it('maps UTM 50N easting 500000 onto the 117°E central meridian', () => {
    const [lon] = convert(32650, 500_000, 5_300_000);
    expect(lon).toBeCloseTo(117, 10);
  });

  it('gives the meridian-arc latitude for UTM 50N northing 5300000 (≈ 47.8533°N)', () => {
    const [, lat] = convert(32650, 500_000, 5_300_000);
    const expected = latitudeOnCentralMeridian(5_300_000, 0.9996, 6378137, 298.257223563);
    expect(lat).toBeCloseTo(expected, 7);
    expect(lat).toBeCloseTo(47.8533, 4);
  });

  it('round-trips a UTM 50N point off the central meridian to within a millimetre', () => {
    const x = 412_345.678;
    const y = 5_301_234.567;
    const [lon, lat] = convert(32650, x, y);
    const back = proj4('EPSG:4326', proj4Definition(32650)!).forward([lon, lat]) as [number, number];
    expect(Math.abs(back[0] - x)).toBeLessThan(1e-3);
    expect(Math.abs(back[1] - y)).toBeLessThan(1e-3);
  });

  it('puts UTM 50S northing 10000000 on the equator', () => {
    const [lon, lat] = convert(32750, 500_000, 10_000_000);
    expect(lon).toBeCloseTo(117, 10);
    expect(lat).toBeCloseTo(0, 9);
  });

  it('treats EPSG:4326 as identity', () => {
    expect(convert(4326, 119.75, 49.2)).toEqual([119.75, 49.2]);
  });

  it('treats EPSG:4490 (CGCS2000 geographic) as identity', () => {
    expect(convert(4490, 119.75, 49.2)).toEqual([119.75, 49.2]);
  });

  it('maps EPSG:4547 (CGCS2000 GK CM 114E) x=500000 onto 114°E', () => {
    const [lon, lat] = convert(4547, 500_000, 5_000_000);
    expect(lon).toBeCloseTo(114, 10);
    expect(lat).toBeCloseTo(latitudeOnCentralMeridian(5_000_000, 1, 6378137, 298.257222101), 7);
  });

  it('maps EPSG:4526 (CGCS2000 GK zone 38) x=38500000 onto 114°E', () => {
    const [lon] = convert(4526, 38_500_000, 5_000_000);
    expect(lon).toBeCloseTo(114, 10);
  });

  it('maps the ends of the CGCS2000 GK ranges onto 75°E and 135°E', () => {
    expect(convert(4513, 25_500_000, 4_000_000)[0]).toBeCloseTo(75, 10);
    expect(convert(4533, 45_500_000, 4_000_000)[0]).toBeCloseTo(135, 10);
    expect(convert(4534, 500_000, 4_000_000)[0]).toBeCloseTo(75, 10);
    expect(convert(4554, 500_000, 4_000_000)[0]).toBeCloseTo(135, 10);
  });

  it('returns null for an unknown EPSG code', () => {
    for (const epsg of [3395, 4512, 4555, 32600, 32661, 32700, 32761, 0]) {
      expect(toLonLatFn(epsg)).toBeNull();
    }
  });
});

describe('proj4Definition', () => {
  it('returns null for an unknown EPSG code', () => {
    expect(proj4Definition(3395)).toBeNull();
  });

  it('describes UTM south zones with +south', () => {
    expect(proj4Definition(32750)).toContain('+south');
    expect(proj4Definition(32650)).not.toContain('+south');
  });
});

describe('isGeographic', () => {
  it('is true only for EPSG:4326 and EPSG:4490', () => {
    expect(isGeographic(4326)).toBe(true);
    expect(isGeographic(4490)).toBe(true);
    expect(isGeographic(32650)).toBe(false);
    expect(isGeographic(4547)).toBe(false);
  });
});
