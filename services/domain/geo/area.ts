import geodesic from 'geographiclib-geodesic';

/**
 * Areas on the WGS84 ellipsoid (Karney's algorithm, the same family PostGIS uses for
 * `ST_Area(geography)`), so printed areas agree with the database to well under 0.1 %.
 */
const WGS84 = geodesic.Geodesic.WGS84;

/** 1 亩 (mu) = 10000/15 m² ≈ 666.67 m². */
export const M2_PER_MU = 10000 / 15;

export type Ring = [number, number][];
export type PolygonCoords = Ring[];

function ringArea(ring: Ring): number {
  const poly = WGS84.Polygon(false);
  // A closed GeoJSON ring repeats its first vertex; the polygon closes itself.
  const n =
    ring.length > 1 && ring[0]![0] === ring.at(-1)![0] && ring[0]![1] === ring.at(-1)![1]
      ? ring.length - 1
      : ring.length;
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
