import { fromLonLatFn, toLonLatFn, utmZoneEpsg } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';

/**
 * The simulated region: a square of `sizeKm` in the UTM zone of its centre, 10 m analysis
 * pixels. The side is a multiple of 240 m so that 20 m (Sentinel-2), 30 m (Landsat) and
 * 16 m (GF WFV) pixels tile it exactly.
 */

/**
 * Default centre: 1.5 km north-east of the northern tip of Hulun Nuur (Natural Earth lake
 * vertex 117.7011°E 49.3776°N), on the line to the head of the Argun' (Natural Earth river
 * vertex 117.8735°E 49.5135°N): a 6 km square holds the lake shore, the outflow channel and
 * steppe; a 38 km square adds the Hailar bend, the Argun' head and Zhalainuoer.
 */
export const DEFAULT_CENTER: [number, number] = [117.714, 49.388];

export const SIZES = { small: 6, demo: 38 } as const;
export const ALIGN_M = 240;
export const PIXEL_M = 10;

export interface Region {
  center: [number, number];
  sizeKm: number;
  epsg: number;
  /** The 10 m analysis grid. */
  grid: Grid;
  toLonLat: (x: number, y: number) => [number, number];
  fromLonLat: (lon: number, lat: number) => [number, number];
  /** Map → pixel coordinates of the 10 m grid (fractional; pixel centres at +0.5). */
  toPx: (x: number, y: number) => [number, number];
  /** Closed counter-clockwise ring of the square in lon/lat, densified (RFC 7946). */
  ringLonLat: [number, number][];
  bboxLonLat: [number, number, number, number];
}

/** Parses `small`, `demo` or a number of kilometres. */
export function parseSize(size: string | number | undefined): number {
  if (size === undefined) return SIZES.small;
  if (typeof size === 'number') return size;
  if (size in SIZES) return SIZES[size as keyof typeof SIZES];
  const km = Number(size.replace(/km$/i, ''));
  if (!Number.isFinite(km) || km < 1 || km > 200) {
    throw new RangeError(`--size must be small, demo or a number of km between 1 and 200, got ${size}`);
  }
  return km;
}

/** Parses `lon,lat`. */
export function parseCenter(s: string | undefined): [number, number] {
  if (!s) return DEFAULT_CENTER;
  const parts = s.split(',').map((v) => Number(v.trim()));
  const [lon, lat] = parts;
  if (
    parts.length !== 2 ||
    lon === undefined ||
    lat === undefined ||
    !Number.isFinite(lon) ||
    !Number.isFinite(lat)
  )
    throw new RangeError(`--center must be lon,lat, got ${s}`);
  if (lon < -180 || lon > 180 || lat < -80 || lat > 84) throw new RangeError(`--center out of range: ${s}`);
  return [lon, lat];
}

/** Builds the region square around `center`. */
export function makeRegion(center: [number, number], sizeKm: number): Region {
  const epsg = utmZoneEpsg(center[0], center[1]);
  const fromLonLat = fromLonLatFn(epsg)!;
  const toLonLat = toLonLatFn(epsg)!;
  const [cx, cy] = fromLonLat(center[0], center[1]);
  const side = Math.max(ALIGN_M, Math.round((sizeKm * 1000) / ALIGN_M) * ALIGN_M);
  const originX = Math.round((cx - side / 2) / ALIGN_M) * ALIGN_M;
  const originY = Math.round((cy + side / 2) / ALIGN_M) * ALIGN_M;
  const n = side / PIXEL_M;
  const grid: Grid = { epsg, width: n, height: n, originX, originY, resX: PIXEL_M, resY: PIXEL_M };
  const ring: [number, number][] = [];
  const seg = 16;
  const corners: [number, number][] = [
    [originX, originY - side],
    [originX + side, originY - side],
    [originX + side, originY],
    [originX, originY],
  ];
  for (let c = 0; c < 4; c++) {
    const [ax, ay] = corners[c]!;
    const [bx, by] = corners[(c + 1) % 4]!;
    for (let k = 0; k < seg; k++)
      ring.push(lonLat7(toLonLat(ax + ((bx - ax) * k) / seg, ay + ((by - ay) * k) / seg)));
  }
  ring.push([ring[0]![0], ring[0]![1]]);
  const lons = ring.map((p) => p[0]);
  const lats = ring.map((p) => p[1]);
  return {
    center,
    sizeKm: side / 1000,
    epsg,
    grid,
    toLonLat,
    fromLonLat,
    toPx: (x, y) => [(x - originX) / PIXEL_M, (originY - y) / PIXEL_M],
    ringLonLat: ring,
    bboxLonLat: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
  };
}

/** Rounds lon/lat to 7 decimals (≈1 cm): stable, compact output. */
export function lonLat7(p: [number, number]): [number, number] {
  return [Math.round(p[0] * 1e7) / 1e7, Math.round(p[1] * 1e7) / 1e7];
}

/** Pixel (fractional) → lon/lat on the region grid. */
export function pxToLonLat(region: Region, x: number, y: number): [number, number] {
  const g = region.grid;
  return lonLat7(region.toLonLat(g.originX + x * g.resX, g.originY - y * g.resY));
}
