import geodesic from 'geographiclib-geodesic';

/**
 * Areas on the WGS84 ellipsoid, agreeing with Karney's geodesic polygon area (what PostGIS's
 * `ST_Area(geography)` computes) to about 1e-6 relative or better, so printed areas agree with
 * the database.
 *
 * Rings spanning at most SMALL_RING_DEG go through the authalic sphere: latitudes become
 * authalic latitudes (an equal-area map of the ellipsoid onto a sphere of radius R_q) and the
 * ring's area is the sum of its edges' signed spherical trapezoids. Against geographiclib's
 * polygon area this differs by at most 6e-7 relative up to half a degree (2.6e-7 at 10 m,
 * measured on seeded rings at Hulunbuir's latitudes; tests/unit/area.test.ts keeps checking it),
 * allocates nothing and is about 12× faster. A patrol computes the area of every detected
 * polygon and zoning piece, so geographiclib's per-vertex objects had been a large share of
 * the workers' garbage. Larger rings, and rings near a pole, use geographiclib itself.
 */
const WGS84 = geodesic.Geodesic.WGS84;
const A = 6378137;
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const E = Math.sqrt(E2);
const D2R = Math.PI / 180;
/** q(φ) of the authalic latitude (Snyder 1987, eq. 3-12), from sin φ. */
const qOf = (s: number) =>
  (1 - E2) * (s / (1 - E2 * s * s) - (1 / (2 * E)) * Math.log((1 - E * s) / (1 + E * s)));
const Q_POLE = qOf(1);
/** R_q², the square of the authalic sphere's radius. */
const RQ2 = (A * A * Q_POLE) / 2;
/** Rings whose longitude and latitude spans are both at most this take the fast path. */
export const SMALL_RING_DEG = 0.5;

/** tan(β/2) of the authalic latitude β of a geodetic latitude in degrees. */
function tanHalfAuthalic(latDeg: number): number {
  return Math.tan(Math.asin(qOf(Math.sin(latDeg * D2R)) / Q_POLE) / 2);
}

/** 1 亩 (mu) = 10000/15 m² ≈ 666.67 m². */
export const M2_PER_MU = 10000 / 15;

export type Ring = [number, number][];
export type PolygonCoords = Ring[];

function ringArea(ring: Ring): number {
  // A closed GeoJSON ring repeats its first vertex; the polygon closes itself.
  const n =
    ring.length > 1 && ring[0]![0] === ring.at(-1)![0] && ring[0]![1] === ring.at(-1)![1]
      ? ring.length - 1
      : ring.length;
  if (n < 3) return 0;
  let w = Number.POSITIVE_INFINITY;
  let e = Number.NEGATIVE_INFINITY;
  let s = Number.POSITIVE_INFINITY;
  let no = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const [lon, lat] = ring[i]!;
    if (lon < w) w = lon;
    if (lon > e) e = lon;
    if (lat < s) s = lat;
    if (lat > no) no = lat;
  }
  if (e - w <= SMALL_RING_DEG && no - s <= SMALL_RING_DEG && s > -89 && no < 89) {
    // Signed trapezoids between each edge (a great circle on the authalic sphere) and the
    // equator: tan(E/2) = tan(Δλ/2)·(t1 + t2)/(1 + t1·t2), t = tan(β/2).
    let sum = 0;
    let lon0 = ring[n - 1]![0];
    let t0 = tanHalfAuthalic(ring[n - 1]![1]);
    for (let i = 0; i < n; i++) {
      const [lon, lat] = ring[i]!;
      const t = tanHalfAuthalic(lat);
      const dl = (lon - lon0) * D2R;
      sum += 2 * Math.atan((Math.tan(dl / 2) * (t0 + t)) / (1 + t0 * t));
      lon0 = lon;
      t0 = t;
    }
    return Math.abs(sum) * RQ2;
  }
  return geodesicRingArea(ring, n);
}

/** Karney's geodesic polygon area (geographiclib), for rings beyond the fast path. */
export function geodesicRingArea(ring: Ring, n = ring.length): number {
  const poly = WGS84.Polygon(false);
  for (let i = 0; i < n; i++) poly.AddPoint(ring[i]![1], ring[i]![0]);
  return Math.abs(poly.Compute(false, true).area ?? 0);
}

/** Ellipsoidal area in m² of a polygon (exterior minus holes), lon/lat degrees. */
export function polygonAreaM2(polygon: PolygonCoords): number {
  if (polygon.length === 0) return 0;
  let area = ringArea(polygon[0]!);
  for (const hole of polygon.slice(1)) area -= ringArea(hole);
  return Math.max(0, area);
}

export function multiPolygonAreaM2(mp: PolygonCoords[]): number {
  return mp.reduce((sum, p) => sum + polygonAreaM2(p), 0);
}

/** Areas in the three units prosecutors and field teams use. */
export function areaUnits(m2: number): { m2: number; ha: number; mu: number } {
  return { m2, ha: m2 / 10000, mu: m2 / M2_PER_MU };
}

/** Ellipsoidal area of one lon/lat cell (a pixel of an EPSG:4326 grid). */
export function lonLatCellAreaM2(lonW: number, latS: number, dLon: number, dLat: number): number {
  return ringArea([
    [lonW, latS],
    [lonW + dLon, latS],
    [lonW + dLon, latS + dLat],
    [lonW, latS + dLat],
  ]);
}
