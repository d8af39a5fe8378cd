import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import {
  areaUnits,
  geodesicRingArea,
  lonLatCellAreaM2,
  M2_PER_MU,
  multiPolygonAreaM2,
  polygonAreaM2,
  type Ring,
  SMALL_RING_DEG,
} from '../../services/domain/geo/area.ts';

// WGS84 ellipsoid, for an independent closed-form check.
const A = 6378137;
const F = 1 / 298.257223563;
const B = A * (1 - F);
const E2 = F * (2 - F);
const E = Math.sqrt(E2);
const DEG = Math.PI / 180;

/** Authalic helper: area between the equator and latitude phi per radian of longitude is B²/2·q(phi). */
function q(phi: number): number {
  const s = Math.sin(phi);
  return s / (1 - E2 * s * s) + (1 / (2 * E)) * Math.log((1 + E * s) / (1 - E * s));
}

/**
 * Independent area of the geodesic polygon (0,0) (1,0) (1,1) (0,1): the cell bounded by the
 * parallel at 1°N, plus the thin lune between that parallel and the geodesic top edge
 * (approximated by the great circle through its end points, Simpson's rule).
 */
function equatorCellIndependent(): number {
  const dl = DEG;
  const p0 = DEG;
  const cell = ((dl * B * B) / 2) * (q(p0) - q(0));
  const n = 200;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const l = (i * dl) / n;
    const phi = Math.atan((Math.tan(p0) * Math.cos(l - dl / 2)) / Math.cos(dl / 2));
    const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
    s += w * (q(phi) - q(p0));
  }
  const lune = ((B * B) / 2) * s * (dl / n / 3);
  return cell + lune;
}

function square(lon0: number, lat0: number, size: number): Ring {
  return [
    [lon0, lat0],
    [lon0 + size, lat0],
    [lon0 + size, lat0 + size],
    [lon0, lat0 + size],
    [lon0, lat0],
  ];
}

describe('polygonAreaM2', () => {
  it('gives the GeographicLib area of a 1°×1° cell at the equator', () => {
    const area = polygonAreaM2([square(0, 0, 1)]);
    expect(Math.abs(area / 12_308_778_361.469 - 1)).toBeLessThan(1e-9);
  });

  it('agrees with an independent closed-form ellipsoid computation to 1e-6', () => {
    const area = polygonAreaM2([square(0, 0, 1)]);
    expect(Math.abs(area / equatorCellIndependent() - 1)).toBeLessThan(1e-6);
  });

  it('does not depend on ring orientation', () => {
    const ring = square(116, 45, 0.01);
    const reversed = [...ring].reverse();
    expect(polygonAreaM2([reversed])).toBeCloseTo(polygonAreaM2([ring]), 3);
  });

  it('gives the same area for an open ring and a closed one', () => {
    const closed = square(116, 45, 0.01);
    const open = closed.slice(0, -1);
    expect(polygonAreaM2([open])).toBeCloseTo(polygonAreaM2([closed]), 3);
  });

  it('subtracts holes from the exterior', () => {
    const outer = square(116, 45, 0.01);
    const hole = [...square(116.0025, 45.0025, 0.005)].reverse();
    const expected = polygonAreaM2([outer]) - polygonAreaM2([hole]);
    expect(polygonAreaM2([outer, hole])).toBeCloseTo(expected, 3);
    expect(polygonAreaM2([outer, hole])).toBeLessThan(polygonAreaM2([outer]));
  });

  it('is 0 for an empty polygon', () => {
    expect(polygonAreaM2([])).toBe(0);
  });

  it('is symmetric between the hemispheres and shrinks towards the poles', () => {
    const north = polygonAreaM2([square(10, 45, 1)]);
    const south = polygonAreaM2([square(10, -46, 1)]);
    expect(Math.abs(north / south - 1)).toBeLessThan(1e-12);
    expect(north).toBeLessThan(polygonAreaM2([square(10, 0, 1)]));
  });
});

describe('multiPolygonAreaM2', () => {
  it('sums the areas of its polygons', () => {
    const a = [square(116, 45, 0.01)];
    const b = [square(117, 46, 0.02)];
    expect(multiPolygonAreaM2([a, b])).toBeCloseTo(polygonAreaM2(a) + polygonAreaM2(b), 3);
  });
});

describe('lonLatCellAreaM2', () => {
  it('equals the area of the same cell as a polygon', () => {
    expect(lonLatCellAreaM2(0, 0, 1, 1)).toBeCloseTo(polygonAreaM2([square(0, 0, 1)]), 3);
  });
});

describe('areaUnits', () => {
  it('defines 1 mu as 10000/15 m²', () => {
    expect(M2_PER_MU).toBeCloseTo(666.67, 2);
    expect(areaUnits(M2_PER_MU).mu).toBeCloseTo(1, 12);
  });

  it('converts 10000 m² to 1 ha and 15 mu', () => {
    const u = areaUnits(10_000);
    expect(u.m2).toBe(10_000);
    expect(u.ha).toBe(1);
    expect(u.mu).toBeCloseTo(15, 12);
  });
});

describe('small rings (the authalic-sphere path)', () => {
  /** Seeded star-shaped rings of about `size` degrees at Hulunbuir's latitudes, closed. */
  function rings(seed: number, size: number, count: number): Ring[] {
    const rnd = mulberry32(seed);
    return Array.from({ length: count }, () => {
      const [cx, cy] = [115 + rnd() * 12, 47 + rnd() * 6.5];
      const m = 4 + Math.floor(rnd() * 40);
      const ring: Ring = [];
      for (let j = 0; j < m; j++) {
        const t = (j / m) * 2 * Math.PI;
        const r = (size / 2) * (0.4 + 0.6 * rnd());
        ring.push([cx + r * Math.cos(t), cy + 0.7 * r * Math.sin(t)]);
      }
      ring.push(ring[0]!);
      return ring;
    });
  }

  // geographiclib sums each edge's area to the equator (about 1e10 m² at these latitudes), so its
  // own absolute error is about 1e-5 m²: for rings of a few m² the comparison is absolute.
  it('agrees with geographiclib to 1e-6 relative (or 1 cm²) from a 10 m pixel to the largest small ring', () => {
    for (const size of [0.0001, 0.001, 0.01, 0.1, SMALL_RING_DEG * 0.9]) {
      for (const ring of rings(Math.round(size * 1e6), size, 40)) {
        const want = geodesicRingArea(ring, ring.length - 1);
        const got = polygonAreaM2([ring]);
        expect(Math.abs(got - want), `size ${size}°, ${want} m²`).toBeLessThan(Math.max(1e-6 * want, 1e-4));
      }
    }
  });

  it('gives a 0.0001° cell near Hailar the area between its parallels, either way round', () => {
    // Bounded by parallels the cell's area is closed-form; its geodesic edges differ from the
    // parallels by about 1e-7 of its area.
    const cell = square(119.7, 49.2, 0.0001);
    const between = ((0.0001 * DEG * B * B) / 2) * (q(49.2001 * DEG) - q(49.2 * DEG));
    const a = polygonAreaM2([cell]);
    expect(Math.abs(a / between - 1)).toBeLessThan(1e-8);
    expect(polygonAreaM2([[...cell].reverse()])).toBeCloseTo(a, 9);
  });
});
