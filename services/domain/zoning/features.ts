/**
 * Features as read from a zoning file, before validation, and the structural checks that can be
 * made without PostGIS. Pure.
 */

export interface RawFeature {
  /** 0-based position in the file (GeoJSON array index, Shapefile record number − 1). */
  index: number;
  properties: Record<string, unknown>;
  /** A GeoJSON geometry object, or null when the feature has none. */
  geometry: unknown;
}

export interface GeometryProblem {
  index: number;
  code: 'ZONES_INVALID_GEOMETRY';
  message: string;
}

type Position = number[];

function checkRing(ring: unknown, where: string): string | null {
  if (!Array.isArray(ring)) return `${where} is not an array of positions`;
  for (const p of ring) {
    if (!Array.isArray(p) || p.length < 2 || !p.every((c) => typeof c === 'number' && Number.isFinite(c)))
      return `${where} has a position that is not [x, y] numbers`;
  }
  if (ring.length < 4) return `${where} has ${ring.length} positions; a closed ring needs at least 4`;
  const a = ring[0] as Position;
  const b = ring[ring.length - 1] as Position;
  if (a[0] !== b[0] || a[1] !== b[1]) return `${where} is not closed (first and last positions differ)`;
  return null;
}

function checkPolygon(rings: unknown, where: string): string | null {
  if (!Array.isArray(rings) || rings.length === 0) return `${where} has no rings`;
  for (let r = 0; r < rings.length; r++) {
    const problem = checkRing(rings[r], `${where}ring ${r}`);
    if (problem) return problem;
  }
  return null;
}

/**
 * Why `geometry` cannot be a zone (not polygonal, malformed coordinates), or null when it is a
 * well-formed Polygon/MultiPolygon. Validity (self-intersections…) is PostGIS's job.
 */
export function polygonalProblem(geometry: unknown): string | null {
  if (geometry === null || geometry === undefined) return 'feature has no geometry';
  const g = geometry as { type?: unknown; coordinates?: unknown };
  if (g.type === 'Polygon') return checkPolygon(g.coordinates, '');
  if (g.type === 'MultiPolygon') {
    if (!Array.isArray(g.coordinates) || g.coordinates.length === 0) return 'MultiPolygon has no polygons';
    for (let i = 0; i < g.coordinates.length; i++) {
      const problem = checkPolygon(g.coordinates[i], `polygon ${i} `);
      if (problem) return problem;
    }
    return null;
  }
  return `geometry is ${typeof g.type === 'string' ? `a ${g.type}` : 'of no known type'}, not a Polygon or MultiPolygon`;
}

/** [minX, minY, maxX, maxY] of a well-formed Polygon/MultiPolygon. */
export function geometryBounds(geometry: unknown): [number, number, number, number] {
  const g = geometry as { type: 'Polygon' | 'MultiPolygon'; coordinates: unknown };
  const polygons = (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as Position[][][];
  const b: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const poly of polygons)
    for (const ring of poly)
      for (const [x, y] of ring as [number, number][]) {
        if (x < b[0]) b[0] = x;
        if (y < b[1]) b[1] = y;
        if (x > b[2]) b[2] = x;
        if (y > b[3]) b[3] = y;
      }
  return b;
}

/** Check a feature's geometry, adding the lon/lat range check when the source CRS is geographic. */
export function checkFeatureGeometry(
  f: RawFeature,
  geographic: boolean,
  srsText: string,
): GeometryProblem | null {
  const problem = polygonalProblem(f.geometry);
  if (problem)
    return { index: f.index, code: 'ZONES_INVALID_GEOMETRY', message: `feature ${f.index}: ${problem}` };
  if (geographic) {
    const [x0, y0, x1, y1] = geometryBounds(f.geometry);
    if (x0 < -180 || x1 > 180 || y0 < -90 || y1 > 90)
      return {
        index: f.index,
        code: 'ZONES_INVALID_GEOMETRY',
        message: `feature ${f.index}: coordinates (${x0}, ${y0})–(${x1}, ${y1}) are not longitude/latitude in ${srsText}; projected data needs --srs EPSG:n`,
      };
  }
  return null;
}
