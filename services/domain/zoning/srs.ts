import { proj4Definition } from '../geo/crs.ts';

/** The CRSs a zoning layer may come in: those crs.ts knows. */
export const SUPPORTED_SRS_TEXT =
  'EPSG:4326 (WGS 84), EPSG:4490 (CGCS2000), EPSG:32601–32660/32701–32760 (WGS 84 / UTM), ' +
  'EPSG:4513–4554 (CGCS2000 3-degree Gauss-Krüger)';

/** True when crs.ts can project the code (and so PostGIS's ST_Transform result is one we test). */
export function isSupportedEpsg(epsg: number): boolean {
  return Number.isInteger(epsg) && proj4Definition(epsg) !== null;
}

/**
 * EPSG code of a CRS reference: `EPSG:4547`, `4547`, `urn:ogc:def:crs:EPSG::4547` (any version),
 * `http(s)://www.opengis.net/def/crs/EPSG/0/4547`, or OGC CRS84 (→ 4326). Null when unrecognised;
 * says nothing about support (see `isSupportedEpsg`).
 */
export function parseSrsReference(ref: string): number | null {
  const s = ref.trim();
  if (
    /^(?:urn:ogc:def:crs:OGC:[0-9.]*:CRS84|https?:\/\/www\.opengis\.net\/def\/crs\/OGC\/[0-9.]+\/CRS84|CRS:?84)$/i.test(
      s,
    )
  )
    return 4326;
  const m =
    /^(?:EPSG:)?(\d{4,6})$/i.exec(s) ??
    /^urn:(?:x-)?ogc:def:crs:EPSG:[0-9.]*:(\d{4,6})$/i.exec(s) ??
    /^https?:\/\/www\.opengis\.net\/def\/crs\/EPSG\/[0-9.]+\/(\d{4,6})$/i.exec(s);
  return m ? Number(m[1]) : null;
}

export type CrsMember = { epsg: number; text: string } | { error: string };

/**
 * The legacy GeoJSON (2008) `crs` member: `{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4490"}}`
 * or `{"type":"EPSG","properties":{"code":4490}}`. Undefined/null → undefined (RFC 7946: WGS 84).
 */
export function crsFromGeoJsonMember(crs: unknown): CrsMember | undefined {
  if (crs === undefined || crs === null) return undefined;
  const c = crs as { type?: unknown; properties?: { name?: unknown; code?: unknown } };
  let text: string | undefined;
  if (c.type === 'name' && typeof c.properties?.name === 'string') text = c.properties.name;
  else if (
    c.type === 'EPSG' &&
    (typeof c.properties?.code === 'number' || typeof c.properties?.code === 'string')
  )
    text = `EPSG:${c.properties.code}`;
  if (text === undefined) return { error: `unsupported "crs" member ${JSON.stringify(crs).slice(0, 200)}` };
  const epsg = parseSrsReference(text);
  if (epsg === null) return { error: `"crs" member names an unknown CRS "${text}"` };
  return { epsg, text };
}
