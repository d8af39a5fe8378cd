import proj4 from 'proj4';

/**
 * CRS handling for the CRSs Skypatrol meets: WGS84 / CGCS2000 geographic (EPSG:4326, 4490,
 * treated as identical: they differ by centimetres), UTM north/south on WGS84
 * (EPSG:326xx/327xx) and CGCS2000 3-degree Gauss-Krüger zones (EPSG:4513–4554).
 */
export function proj4Definition(epsg: number): string | null {
  if (epsg === 4326 || epsg === 4490) return '+proj=longlat +datum=WGS84 +no_defs';
  if (epsg === 3857)
    return '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs';
  if (epsg >= 32601 && epsg <= 32660) return `+proj=utm +zone=${epsg - 32600} +datum=WGS84 +units=m +no_defs`;
  if (epsg >= 32701 && epsg <= 32760)
    return `+proj=utm +zone=${epsg - 32700} +south +datum=WGS84 +units=m +no_defs`;
  if (epsg >= 4513 && epsg <= 4533) {
    // CGCS2000 / 3-degree Gauss-Kruger zone 25..45 (false easting carries the zone number).
    const zone = epsg - 4488;
    return `+proj=tmerc +lat_0=0 +lon_0=${zone * 3} +k=1 +x_0=${zone * 1000000 + 500000} +y_0=0 +ellps=GRS80 +units=m +no_defs`;
  }
  if (epsg >= 4534 && epsg <= 4554) {
    // CGCS2000 / 3-degree Gauss-Kruger CM 75E..135E (no zone prefix).
    const cm = 75 + (epsg - 4534) * 3;
    return `+proj=tmerc +lat_0=0 +lon_0=${cm} +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs`;
  }
  return null;
}

export function isGeographic(epsg: number): boolean {
  return epsg === 4326 || epsg === 4490;
}

/** A function from map coordinates in `epsg` to [lon, lat]; null when the CRS is unknown. */
export function toLonLatFn(epsg: number): ((x: number, y: number) => [number, number]) | null {
  if (isGeographic(epsg)) return (x, y) => [x, y];
  const def = proj4Definition(epsg);
  if (!def) return null;
  const converter = proj4(def, 'EPSG:4326');
  return (x, y) => converter.forward([x, y]) as [number, number];
}

/** A function from [lon, lat] to map coordinates in `epsg` (inverse of `toLonLatFn`); null when unknown. */
export function fromLonLatFn(epsg: number): ((lon: number, lat: number) => [number, number]) | null {
  if (isGeographic(epsg)) return (lon, lat) => [lon, lat];
  const def = proj4Definition(epsg);
  if (!def) return null;
  const converter = proj4(def, 'EPSG:4326');
  return (lon, lat) => converter.inverse([lon, lat]) as [number, number];
}

/**
 * A function from map coordinates in `fromEpsg` to map coordinates in `toEpsg`; null when either
 * CRS is unknown. One proj4 pipeline instead of two calls through lon/lat; the datum handling is
 * the same as `toLonLatFn`/`fromLonLatFn` (CGCS2000 ≡ WGS84).
 */
export function transformFn(
  fromEpsg: number,
  toEpsg: number,
): ((x: number, y: number) => [number, number]) | null {
  const from = proj4Definition(fromEpsg);
  const to = proj4Definition(toEpsg);
  if (!from || !to) return null;
  if (sameCrs(fromEpsg, toEpsg)) return (x, y) => [x, y];
  const key = `${fromEpsg}>${toEpsg}`;
  let fn = transforms.get(key);
  if (!fn) {
    const converter = proj4(from, to);
    fn = (x, y) => converter.forward([x, y]) as [number, number];
    transforms.set(key, fn);
  }
  return fn;
}

/**
 * proj4 pipelines by EPSG pair, built once: parsing the definitions and setting up a pipeline
 * cost more than the few dozen transforms a map tile's warp lattice needs. A few dozen CRSs
 * at most are defined, so the map stays small.
 */
const transforms = new Map<string, (x: number, y: number) => [number, number]>();

/** True when the two EPSG codes denote the same coordinates (4326 and 4490 are treated as one). */
export function sameCrs(a: number, b: number): boolean {
  return a === b || (isGeographic(a) && isGeographic(b));
}

/** Standard 6° UTM zone number (1–60) of a longitude; 180°E belongs to zone 60. */
export function utmZoneOf(lon: number): number {
  return Math.min(60, Math.max(1, Math.floor((lon + 180) / 6) + 1));
}

/**
 * EPSG code of the WGS84 UTM zone of a point: 326zz north of the equator (lat ≥ 0), 327zz south.
 * Standard 6° zones only: the Norway (32V) and Svalbard (31X–37X) exceptions are deliberately
 * ignored so that the zone depends on longitude alone.
 */
export function utmZoneEpsg(lon: number, lat: number): number {
  return (lat >= 0 ? 32600 : 32700) + utmZoneOf(lon);
}
