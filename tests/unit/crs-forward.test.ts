import { describe, expect, it } from 'vitest';
import {
  fromLonLatFn,
  sameCrs,
  toLonLatFn,
  transformFn,
  utmZoneEpsg,
  utmZoneOf,
} from '../../services/domain/geo/crs.ts';

/** A point well inside each CRS's zone (lon, lat). */
const SAMPLES: Record<number, [number, number]> = {
  4326: [119.75, 49.2],
  4490: [119.75, 49.2],
  32650: [118.3456789, 49.8765432],
  32651: [121.2345678, 48.1234567],
  4547: [113.1234567, 40.7654321],
};

function fns(epsg: number) {
  const fwd = fromLonLatFn(epsg);
  const inv = toLonLatFn(epsg);
  if (!fwd || !inv) throw new Error(`EPSG:${epsg} unsupported`);
  return { fwd, inv };
}

describe('fromLonLatFn', () => {
  for (const [code, [lon, lat]] of Object.entries(SAMPLES)) {
    const epsg = Number(code);
    it(`round-trips lon/lat → EPSG:${epsg} → lon/lat to 1e-9°`, () => {
      const { fwd, inv } = fns(epsg);
      const [x, y] = fwd(lon, lat);
      const [lon2, lat2] = inv(x, y);
      expect(Math.abs(lon2 - lon)).toBeLessThan(1e-9);
      expect(Math.abs(lat2 - lat)).toBeLessThan(1e-9);
    });

    it(`round-trips EPSG:${epsg} → lon/lat → EPSG:${epsg} to a millimetre`, () => {
      const { fwd, inv } = fns(epsg);
      const [x, y] = fwd(lon, lat);
      const [x2, y2] = fwd(...inv(x + 1234.5, y - 987.6));
      const tol = epsg === 4326 || epsg === 4490 ? 1e-9 : 1e-3;
      expect(Math.abs(x2 - (x + 1234.5))).toBeLessThan(tol);
      expect(Math.abs(y2 - (y - 987.6))).toBeLessThan(tol);
    });
  }

  it('maps 117°E on the equator to UTM 50N (500000, 0)', () => {
    const [x, y] = fns(32650).fwd(117, 0);
    expect(x).toBeCloseTo(500_000, 6);
    expect(y).toBeCloseTo(0, 6);
  });

  it('maps 114°E to GK EPSG:4547 easting 500000', () => {
    expect(fns(4547).fwd(114, 40)[0]).toBeCloseTo(500_000, 6);
  });

  it('returns null for an unknown EPSG code', () => {
    expect(fromLonLatFn(3395)).toBeNull();
  });
});

describe('transformFn', () => {
  it('agrees with going through lon/lat (UTM 50N → GK 4547)', () => {
    const direct = transformFn(32650, 4547)!;
    const [lon, lat] = fns(32650).inv(400_000, 5_300_000);
    const via = fns(4547).fwd(lon, lat);
    const [x, y] = direct(400_000, 5_300_000);
    expect(Math.abs(x - via[0])).toBeLessThan(1e-6);
    expect(Math.abs(y - via[1])).toBeLessThan(1e-6);
  });

  it('is the identity between EPSG:4326 and EPSG:4490', () => {
    expect(transformFn(4326, 4490)!(119.5, 49.5)).toEqual([119.5, 49.5]);
    expect(sameCrs(4326, 4490)).toBe(true);
    expect(sameCrs(32650, 32651)).toBe(false);
  });

  it('returns null when either CRS is unknown', () => {
    expect(transformFn(3395, 4326)).toBeNull();
    expect(transformFn(4326, 3395)).toBeNull();
  });
});

describe('utmZoneEpsg', () => {
  it('puts 119.99°E in zone 50 and 120°E (the boundary) in zone 51', () => {
    expect(utmZoneEpsg(119.99, 49)).toBe(32650);
    expect(utmZoneEpsg(120, 49)).toBe(32651);
  });

  it('uses 327xx south of the equator and 326xx on it', () => {
    expect(utmZoneEpsg(117, -10)).toBe(32750);
    expect(utmZoneEpsg(117, 0)).toBe(32650);
  });

  it('maps −180°E to zone 1 and +180°E to zone 60', () => {
    expect(utmZoneEpsg(-180, 10)).toBe(32601);
    expect(utmZoneOf(180)).toBe(60);
  });

  it('ignores the Norway exception (5°E 60°N stays in zone 31)', () => {
    expect(utmZoneEpsg(5, 60)).toBe(32631);
  });
});
