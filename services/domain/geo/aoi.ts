import { booleanValid, kinks } from '@turf/turf';
import { SkypatrolError } from '../../core/errors.ts';
import type { AoiGeometry } from './analysis-grid.ts';

/**
 * An area of interest from user GeoJSON (Feature, FeatureCollection or bare geometry) as
 * one MultiPolygon in lon/lat. Anything else — points, lines, out-of-range coordinates, a
 * self-intersecting ring — is refused with the feature's index and the reason.
 */
export function aoiFromGeoJson(doc: unknown): AoiGeometry & { type: 'MultiPolygon' } {
  const polygons: number[][][][] = [];
  const add = (geom: unknown, where: string) => {
    const g = geom as { type?: string; coordinates?: unknown } | null;
    if (!g || (g.type !== 'Polygon' && g.type !== 'MultiPolygon')) {
      throw new SkypatrolError(
        'VALIDATION',
        `AOI ${where}: geometry must be a Polygon or MultiPolygon, got ${g?.type ?? 'nothing'}`,
      );
    }
    const polys = (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as number[][][][];
    if (!Array.isArray(polys)) throw new SkypatrolError('VALIDATION', `AOI ${where}: coordinates missing`);
    for (const poly of polys) {
      for (const ring of poly) {
        if (!Array.isArray(ring) || ring.length < 4)
          throw new SkypatrolError('VALIDATION', `AOI ${where}: a ring has fewer than 4 positions`);
        for (const p of ring) {
          const [lon, lat] = p as [number, number];
          if (
            !(
              Number.isFinite(lon) &&
              Number.isFinite(lat) &&
              lon >= -180 &&
              lon <= 180 &&
              lat >= -90 &&
              lat <= 90
            )
          ) {
            throw new SkypatrolError(
              'VALIDATION',
              `AOI ${where}: position ${JSON.stringify(p)} is not lon/lat in degrees (EPSG:4326)`,
            );
          }
        }
      }
      const polygon = { type: 'Polygon' as const, coordinates: poly };
      const crossing = kinks(polygon).features[0]?.geometry.coordinates;
      if (crossing) {
        throw new SkypatrolError(
          'VALIDATION',
          `AOI ${where}: invalid polygon (self-intersection at ${crossing[0]!.toFixed(5)}, ${crossing[1]!.toFixed(5)})`,
        );
      }
      if (!booleanValid(polygon)) throw new SkypatrolError('VALIDATION', `AOI ${where}: invalid polygon`);
      polygons.push(poly);
    }
  };
  const d = doc as { type?: string; features?: { geometry: unknown }[]; geometry?: unknown };
  if (d?.type === 'FeatureCollection') {
    if (!Array.isArray(d.features) || d.features.length === 0)
      throw new SkypatrolError('VALIDATION', 'AOI: the FeatureCollection is empty');
    for (const [i, f] of d.features.entries()) add(f?.geometry, `feature ${i}`);
  } else if (d?.type === 'Feature') add(d.geometry, 'feature 0');
  else add(d, 'geometry');
  return { type: 'MultiPolygon', coordinates: polygons };
}
