/**
 * Coordinates as a field team reads them: decimal degrees and degrees-minutes-seconds, and the
 * vertices of a clue polygon. Pure. Coordinates are WGS84 lon/lat; CGCS2000 differs from
 * WGS84 by well under 1 m (the two datums' ellipsoids and frames agree to centimetres to
 * decimetres), so the same numbers serve for CGCS2000 in the field.
 */

export type LonLat = [number, number];

/** Digits of decimal degrees printed: 1e-6° ≈ 0.1 m. */
export const DECIMAL_DIGITS = 6;
/** Decimals of DMS seconds printed: 0.01″ ≈ 0.3 m. */
export const DMS_SECOND_DIGITS = 2;

export const DATUM_NOTE = {
  zh: '坐标系：WGS84（与 CGCS2000 2000国家大地坐标系相差小于 1 米，现场核查可视为相同）',
  en: 'Datum: WGS84 (differs from CGCS2000 by less than 1 m; for field purposes they are the same)',
} as const;

/**
 * Degrees-minutes-seconds with the hemisphere letter, e.g. 49°23′17.35″N. Seconds are
 * rounded once, carrying into minutes and degrees, so 59.999″ never prints as 60.00″.
 */
export function toDms(deg: number, axis: 'lat' | 'lon', secondDigits = DMS_SECOND_DIGITS): string {
  if (!Number.isFinite(deg)) throw new RangeError(`not a coordinate: ${deg}`);
  const limit = axis === 'lat' ? 90 : 180;
  if (Math.abs(deg) > limit) throw new RangeError(`${axis} ${deg} is outside ±${limit}°`);
  const hemi = axis === 'lat' ? (deg < 0 ? 'S' : 'N') : deg < 0 ? 'W' : 'E';
  const scale = 10 ** secondDigits;
  // Work in integer units of the last printed second digit.
  let units = Math.round(Math.abs(deg) * 3600 * scale);
  const perMinute = 60 * scale;
  const perDegree = 3600 * scale;
  const d = Math.floor(units / perDegree);
  units -= d * perDegree;
  const m = Math.floor(units / perMinute);
  units -= m * perMinute;
  const s = (units / scale).toFixed(secondDigits);
  const sPadded = Number(s) < 10 ? `0${s}` : s;
  return `${d}°${String(m).padStart(2, '0')}′${sPadded}″${hemi}`;
}

/** Parse what `toDms` prints back to decimal degrees (tests, and typed-in field notes). */
export function parseDms(text: string): number {
  const m = /^\s*(\d+)°\s*(\d+)′\s*(\d+(?:\.\d+)?)″\s*([NSEW])\s*$/.exec(text);
  if (!m) throw new RangeError(`not a DMS coordinate: "${text}"`);
  const v = Number(m[1]) + Number(m[2]) / 60 + Number(m[3]) / 3600;
  return m[4] === 'S' || m[4] === 'W' ? -v : v;
}

/** Decimal degrees with a fixed number of digits (no hemisphere letter; sign for S/W). */
export function toDecimal(deg: number, digits = DECIMAL_DIGITS): string {
  return deg.toFixed(digits);
}

/** "49.388123°N, 117.714567°E" */
export function formatLatLon([lon, lat]: LonLat, digits = DECIMAL_DIGITS): string {
  return `${Math.abs(lat).toFixed(digits)}°${lat < 0 ? 'S' : 'N'}, ${Math.abs(lon).toFixed(digits)}°${lon < 0 ? 'W' : 'E'}`;
}

/** "49°23′17.35″N, 117°42′52.44″E" */
export function formatLatLonDms([lon, lat]: LonLat): string {
  return `${toDms(lat, 'lat')}, ${toDms(lon, 'lon')}`;
}

export interface Vertex {
  /** 1-based number within the whole listing. */
  no: number;
  /** 1-based part (polygon) and ring (1 = exterior, 2… = holes). */
  part: number;
  ring: number;
  lon: number;
  lat: number;
}

/**
 * The vertices of a (Multi)Polygon as a numbered list, each ring without its closing repeat
 * of the first vertex.
 */
export function polygonVertices(coords: number[][][][]): Vertex[] {
  const out: Vertex[] = [];
  coords.forEach((poly, p) => {
    poly.forEach((ring, r) => {
      const closed = ring.length > 1 && ring[0]![0] === ring.at(-1)![0] && ring[0]![1] === ring.at(-1)![1];
      const n = closed ? ring.length - 1 : ring.length;
      for (let i = 0; i < n; i++)
        out.push({ no: out.length + 1, part: p + 1, ring: r + 1, lon: ring[i]![0]!, lat: ring[i]![1]! });
    });
  });
  return out;
}

/** [west, south, east, north] of a MultiPolygon's coordinates. */
export function coordsBounds(coords: number[][][][]): [number, number, number, number] {
  let w = Number.POSITIVE_INFINITY;
  let s = Number.POSITIVE_INFINITY;
  let e = Number.NEGATIVE_INFINITY;
  let n = Number.NEGATIVE_INFINITY;
  for (const poly of coords)
    for (const ring of poly)
      for (const [x, y] of ring) {
        if (x! < w) w = x!;
        if (x! > e) e = x!;
        if (y! < s) s = y!;
        if (y! > n) n = y!;
      }
  return [w, s, e, n];
}
