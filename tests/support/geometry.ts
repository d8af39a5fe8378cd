import type { PolygonCoords, Ring } from '../../services/domain/geo/area.ts';

/**
 * The ring of the axis-aligned rectangle from (w, s) to (e, n): five positions, counter-clockwise
 * from the south-west corner and closed (RFC 7946's exterior winding, x east and y north).
 */
export function rectRing(w: number, s: number, e: number, n: number): Ring {
  return [
    [w, s],
    [e, s],
    [e, n],
    [w, n],
    [w, s],
  ];
}

/** The rectangle from (w, s) to (e, n) as one polygon's coordinates (its one ring). */
export function rectPolygon(w: number, s: number, e: number, n: number): PolygonCoords {
  return [rectRing(w, s, e, n)];
}
