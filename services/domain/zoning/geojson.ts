import { SkypatrolError } from '../../core/errors.ts';
import type { RawFeature } from './features.ts';
import { type CrsMember, crsFromGeoJsonMember } from './srs.ts';

export interface GeoJsonLayer {
  features: RawFeature[];
  /** The legacy `crs` member, when present. */
  crs: CrsMember | undefined;
}

/** Text of a GeoJSON file: UTF-8 per RFC 7946 (BOM tolerated); GB18030 when the bytes are not UTF-8. */
export function decodeJsonText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return new TextDecoder('gb18030').decode(bytes);
  }
}

/**
 * A GeoJSON FeatureCollection (or a single Feature) as raw features. Throws ZONES_INVALID_FILE
 * when the bytes are not JSON or not GeoJSON features; feature-level checks come later.
 */
export function parseGeoJson(bytes: Uint8Array, label: string): GeoJsonLayer {
  const invalid = (why: string, cause?: unknown) =>
    new SkypatrolError('ZONES_INVALID_FILE', `${label}: ${why}`, cause === undefined ? {} : { cause });
  let doc: unknown;
  try {
    doc = JSON.parse(decodeJsonText(bytes));
  } catch (err) {
    // JSON.parse quotes the offending text, which may span lines: keep the message on one.
    const why = (err as Error).message.replace(/\s+/g, ' ');
    throw invalid(`not JSON (${why}); expected GeoJSON or a zipped Shapefile`, err);
  }
  const d = doc as { type?: unknown; features?: unknown; crs?: unknown };
  if (d === null || typeof d !== 'object' || Array.isArray(d))
    throw invalid('not a GeoJSON object; expected a FeatureCollection');
  let items: unknown[];
  if (d.type === 'FeatureCollection') {
    if (!Array.isArray(d.features)) throw invalid('FeatureCollection without a "features" array');
    items = d.features;
  } else if (d.type === 'Feature') {
    items = [d];
  } else {
    throw invalid(`GeoJSON type ${JSON.stringify(d.type)} is not a FeatureCollection or Feature`);
  }
  const features = items.map((item, index): RawFeature => {
    const f = item as { type?: unknown; properties?: unknown; geometry?: unknown } | null;
    if (f === null || typeof f !== 'object' || f.type !== 'Feature')
      throw invalid(`feature ${index} is not a GeoJSON Feature`);
    const props = f.properties;
    if (props !== null && props !== undefined && (typeof props !== 'object' || Array.isArray(props)))
      throw invalid(`feature ${index} has "properties" that are not an object`);
    return { index, properties: (props ?? {}) as Record<string, unknown>, geometry: f.geometry ?? null };
  });
  return { features, crs: crsFromGeoJsonMember(d.crs) };
}
