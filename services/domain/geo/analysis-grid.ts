import { clipSegment } from './clip.ts';
import { fromLonLatFn, toLonLatFn, utmZoneOf } from './crs.ts';
import type { Grid } from './grid.ts';

/**
 * The analysis grid every tile job uses: 10 m pixels in the WGS84 UTM zone of the tile, square
 * tiles of `tileSizePx` pixels (default 1024 = 10,240 m) aligned on multiples of the tile span
 * in easting/northing, so tiles of one zone tessellate exactly and their ids are deterministic.
 *
 * Tile id: `ZZH-CCCC-RRRR`, e.g. `50N-0048-0517`.
 * - `ZZ` UTM zone 01–60, `H` hemisphere `N` (EPSG:326ZZ) or `S` (EPSG:327ZZ, false northing 10,000 km);
 * - `CCCC` column = floor(easting / span), `RRRR` row = floor(northing / span), zero-padded to at
 *   least 4 digits; larger values are written in full (no truncation), and only the canonical
 *   spelling is accepted back. The tile covers easting [col·span, (col+1)·span) and northing
 *   [row·span, (row+1)·span). Columns and rows are never negative: every point the rule below
 *   assigns to a zone has easting > 0 and, in its hemisphere, northing ≥ 0 (UTM is only used
 *   between 80°S and 84°N), and negative indices are rejected.
 * The id does not carry the tile size: ids are only comparable under the same options.
 *
 * Zone rule: a point belongs to the zone whose central meridian is nearest (boundaries at
 * multiples of 6°, a point exactly on a boundary goes east) and to hemisphere N when lat ≥ 0.
 * A zone's tiles are those whose UTM square intersects the part of the AOI the zone owns; a
 * square straddling the zone boundary stays in that zone (it overhangs into the next one, whose
 * own tiles cover its part of the AOI). Every AOI point is thus covered by a tile of its own zone,
 * and ids (which include the zone) are unique.
 */

export const ANALYSIS_PIXEL_M = 10;
export const DEFAULT_TILE_SIZE_PX = 1024;

export interface AnalysisGridOptions {
  /** Tile width and height in 10 m pixels (default 1024). */
  tileSizePx?: number;
  /**
   * Segments per tile edge in `polygonLonLat` (default 8, a vertex every 1,280 m for 1024 px
   * tiles): the lon/lat chords then stray ≤ 0.2 m from the UTM square anywhere in a zone.
   */
  edgeSegments?: number;
}

export interface AnalysisTile {
  id: string;
  epsg: number;
  zone: number;
  hemisphere: 'N' | 'S';
  col: number;
  row: number;
  /** North-up, origin at the tile's top-left corner, 10 m pixels. */
  grid: Grid;
  /** [west, south, east, north] in degrees, enclosing the whole UTM square. */
  boundsLonLat: [number, number, number, number];
  /** Closed counter-clockwise ring of the UTM square in lon/lat, densified along its edges. */
  polygonLonLat: [number, number][];
}

export type AoiGeometry =
  | { type: 'Polygon'; coordinates: number[][][] }
  | { type: 'MultiPolygon'; coordinates: number[][][][] };

type Ring = [number, number][];
type XY = (a: number, b: number) => [number, number];

// proj4 parses its definition on every converter creation; tiles reuse one pair per zone.
const converters = new Map<number, { toLonLat: XY; fromLonLat: XY }>();
function utmConverters(epsg: number): { toLonLat: XY; fromLonLat: XY } {
  let c = converters.get(epsg);
  if (!c) {
    c = { toLonLat: toLonLatFn(epsg)!, fromLonLat: fromLonLatFn(epsg)! };
    converters.set(epsg, c);
  }
  return c;
}

/** UTM is not defined beyond these latitudes. */
const MIN_LAT = -80;
const MAX_LAT = 84;

function tileSizeOf(opts: AnalysisGridOptions): number {
  const n = opts.tileSizePx ?? DEFAULT_TILE_SIZE_PX;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`tileSizePx must be a positive integer, got ${n}`);
  return n;
}

/** Tile span in metres (tile size × 10 m). */
export function tileSpanM(opts: AnalysisGridOptions = {}): number {
  return tileSizeOf(opts) * ANALYSIS_PIXEL_M;
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}

/** The canonical id of a tile, e.g. `formatTileId(50, 'N', 48, 517)` → `50N-0048-0517`. */
export function formatTileId(zone: number, hemisphere: 'N' | 'S', col: number, row: number): string {
  if (!Number.isInteger(zone) || zone < 1 || zone > 60)
    throw new RangeError(`UTM zone out of range: ${zone}`);
  if (!Number.isInteger(col) || !Number.isInteger(row) || col < 0 || row < 0) {
    throw new RangeError(`tile column/row must be non-negative integers, got ${col}/${row}`);
  }
  return `${String(zone).padStart(2, '0')}${hemisphere}-${pad4(col)}-${pad4(row)}`;
}

/** Parses a canonical tile id; throws on anything else. */
export function parseTileId(id: string): { zone: number; hemisphere: 'N' | 'S'; col: number; row: number } {
  const m = /^(\d{2})([NS])-(\d{4,})-(\d{4,})$/.exec(id);
  if (!m) throw new RangeError(`not a tile id: ${JSON.stringify(id)}`);
  const zone = Number(m[1]);
  const hemisphere = m[2] as 'N' | 'S';
  const col = Number(m[3]);
  const row = Number(m[4]);
  if (
    !Number.isSafeInteger(col) ||
    !Number.isSafeInteger(row) ||
    formatTileId(zone, hemisphere, col, row) !== id
  ) {
    throw new RangeError(`not a canonical tile id: ${JSON.stringify(id)}`);
  }
  return { zone, hemisphere, col, row };
}

/** The tile of `epsg` (326zz/327zz) at column `col`, row `row`. */
export function tileAt(epsg: number, col: number, row: number, opts: AnalysisGridOptions = {}): AnalysisTile {
  const north = epsg >= 32601 && epsg <= 32660;
  if (!north && !(epsg >= 32701 && epsg <= 32760)) throw new RangeError(`not a WGS84 UTM EPSG code: ${epsg}`);
  const zone = epsg - (north ? 32600 : 32700);
  const hemisphere = north ? 'N' : 'S';
  const id = formatTileId(zone, hemisphere, col, row);
  const size = tileSizeOf(opts);
  const span = size * ANALYSIS_PIXEL_M;
  const segments = opts.edgeSegments ?? 8;
  if (!Number.isInteger(segments) || segments < 1)
    throw new RangeError(`edgeSegments must be ≥ 1, got ${segments}`);
  const { toLonLat } = utmConverters(epsg);

  // Vertices are computed from integer multiples so that neighbours produce bit-identical points.
  const x0 = col * span;
  const x1 = (col + 1) * span;
  const y0 = row * span;
  const y1 = (row + 1) * span;
  const along = (k: number, start: number): number => start + (k * span) / segments;
  // The central meridian is where a grid row reaches its highest |latitude|: keep it as a vertex.
  const cm = 500_000;
  const bottom: [number, number][] = [];
  const top: [number, number][] = [];
  for (let k = 0; k < segments; k++) {
    const x = along(k, x0);
    const xNext = along(k + 1, x0);
    bottom.push([x, y0]);
    if (cm > x && cm < xNext) bottom.push([cm, y0]);
  }
  for (let k = segments; k > 0; k--) {
    const x = along(k, x0);
    const xPrev = along(k - 1, x0);
    top.push([x, y1]);
    if (cm < x && cm > xPrev) top.push([cm, y1]);
  }
  const utmRing: [number, number][] = [...bottom];
  for (let k = 0; k < segments; k++) utmRing.push([x1, along(k, y0)]);
  utmRing.push(...top);
  for (let k = segments; k > 0; k--) utmRing.push([x0, along(k, y0)]);

  const ring: Ring = utmRing.map(([x, y]) => toLonLat(x, y));
  ring.push([ring[0]![0], ring[0]![1]]);
  let w = Number.POSITIVE_INFINITY;
  let s = Number.POSITIVE_INFINITY;
  let e = Number.NEGATIVE_INFINITY;
  let n = Number.NEGATIVE_INFINITY;
  for (const [lon, lat] of ring) {
    if (lon < w) w = lon;
    if (lon > e) e = lon;
    if (lat < s) s = lat;
    if (lat > n) n = lat;
  }
  return {
    id,
    epsg,
    zone,
    hemisphere,
    col,
    row,
    grid: {
      epsg,
      width: size,
      height: size,
      originX: x0,
      originY: y1,
      resX: ANALYSIS_PIXEL_M,
      resY: ANALYSIS_PIXEL_M,
    },
    boundsLonLat: [w, s, e, n],
    polygonLonLat: ring,
  };
}

/** Reconstructs a tile from its id (same options as when the id was made). */
export function tileById(id: string, opts: AnalysisGridOptions = {}): AnalysisTile {
  const { zone, hemisphere, col, row } = parseTileId(id);
  return tileAt((hemisphere === 'N' ? 32600 : 32700) + zone, col, row, opts);
}

/** The tile owning a lon/lat point under the zone rule. */
export function tileForLonLat(lon: number, lat: number, opts: AnalysisGridOptions = {}): AnalysisTile {
  checkLonLat(lon, lat);
  const epsg = (lat >= 0 ? 32600 : 32700) + utmZoneOf(lon);
  const [x, y] = utmConverters(epsg).fromLonLat(lon, lat);
  const span = tileSpanM(opts);
  return tileAt(epsg, Math.floor(x / span), Math.floor(y / span), opts);
}

function checkLonLat(lon: number, lat: number): void {
  if (!(lon >= -180 && lon <= 180 && lat >= MIN_LAT && lat <= MAX_LAT)) {
    throw new RangeError(`point (${lon}, ${lat}) outside the UTM domain (lon −180…180, lat −80…84)`);
  }
}

/**
 * Lon/lat point-in-AOI test with edges bucketed by latitude, so a test costs the edges of one
 * bucket rather than all of them. A point is inside when it is inside some polygon's exterior
 * and none of that polygon's holes (even-odd per ring, union over polygons).
 */
class AoiIndex {
  private readonly minLat: number;
  private readonly bucketH: number;
  private readonly buckets: number[][];
  /** Flat edge table: lon0, lat0, lon1, lat1, ring. */
  private readonly edges: number[] = [];
  private readonly ringPoly: number[] = [];
  private readonly polyRings: number[][] = [];
  private readonly parity: Uint8Array;

  constructor(polygons: Ring[][], bbox: [number, number, number, number]) {
    for (const poly of polygons) {
      const rings: number[] = [];
      for (const ring of poly) {
        const r = this.ringPoly.length;
        this.ringPoly.push(this.polyRings.length);
        rings.push(r);
        for (let i = 0; i < ring.length; i++) {
          const a = ring[i]!;
          const b = ring[(i + 1) % ring.length]!;
          if (a[0] === b[0] && a[1] === b[1]) continue;
          this.edges.push(a[0], a[1], b[0], b[1], r);
        }
      }
      this.polyRings.push(rings);
    }
    this.parity = new Uint8Array(this.ringPoly.length);
    const nEdges = this.edges.length / 5;
    const nb = Math.max(1, Math.min(4096, Math.ceil(nEdges / 4)));
    this.minLat = bbox[1];
    this.bucketH = Math.max(1e-12, (bbox[3] - bbox[1]) / nb);
    this.buckets = Array.from({ length: nb }, () => []);
    for (let k = 0; k < nEdges; k++) {
      const la = this.edges[k * 5 + 1]!;
      const lb = this.edges[k * 5 + 3]!;
      const b0 = this.bucketOf(Math.min(la, lb));
      const b1 = this.bucketOf(Math.max(la, lb));
      for (let b = b0; b <= b1; b++) this.buckets[b]!.push(k);
    }
  }

  private bucketOf(lat: number): number {
    return Math.max(0, Math.min(this.buckets.length - 1, Math.floor((lat - this.minLat) / this.bucketH)));
  }

  contains(lon: number, lat: number): boolean {
    const bucket = this.buckets[this.bucketOf(lat)]!;
    const ed = this.edges;
    const parity = this.parity;
    parity.fill(0);
    for (const k of bucket) {
      const o = k * 5;
      const la = ed[o + 1]!;
      const lb = ed[o + 3]!;
      if (la > lat === lb > lat) continue;
      const xa = ed[o]!;
      const xb = ed[o + 2]!;
      const x = xa + ((lat - la) / (lb - la)) * (xb - xa);
      if (x > lon) parity[ed[o + 4]!]! ^= 1;
    }
    for (const rings of this.polyRings) {
      if (!parity[rings[0]!]) continue;
      let inHole = false;
      for (let i = 1; i < rings.length; i++) if (parity[rings[i]!]) inHole = true;
      if (!inHole) return true;
    }
    return false;
  }
}

/** Lat (vertical line) or lon (horizontal line) intervals where a line lies inside a polygon. */
function lineIntervals(poly: Ring[], vertical: boolean, at: number): [number, number][] {
  const u = vertical ? 0 : 1;
  const v = vertical ? 1 : 0;
  const hits: number[] = [];
  for (const ring of poly) {
    for (let i = 0; i < ring.length; i++) {
      const a = ring[i]!;
      const b = ring[(i + 1) % ring.length]!;
      if (a[u] > at === b[u] > at) continue;
      hits.push(a[v] + ((at - a[u]) / (b[u] - a[u])) * (b[v] - a[v]));
    }
  }
  hits.sort((p, q) => p - q);
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < hits.length; i += 2) out.push([hits[i]!, hits[i + 1]!]);
  return out;
}

function normalise(aoi: AoiGeometry): Ring[][] {
  const polys =
    aoi.type === 'Polygon' ? [aoi.coordinates] : aoi.type === 'MultiPolygon' ? aoi.coordinates : null;
  if (!polys) throw new TypeError('AOI must be a GeoJSON Polygon or MultiPolygon');
  const out: Ring[][] = [];
  for (const poly of polys) {
    const rings: Ring[] = [];
    for (const ring of poly) {
      const r: Ring = ring.map((p) => {
        const lon = p[0];
        const lat = p[1];
        if (lon === undefined || lat === undefined) throw new TypeError('AOI position lacks lon/lat');
        checkLonLat(lon, lat);
        return [lon, lat];
      });
      // Drop the closing vertex: rings are treated as closed.
      const first = r[0];
      const last = r.at(-1);
      if (r.length > 1 && first && last && first[0] === last[0] && first[1] === last[1]) r.pop();
      if (r.length >= 3) rings.push(r);
    }
    if (rings.length > 0) out.push(rings);
  }
  if (out.length === 0) throw new RangeError('AOI has no polygon with at least three vertices');
  return out;
}

/**
 * Ids of the analysis tiles intersecting a lon/lat Polygon/MultiPolygon (edges are straight in
 * lon/lat), across UTM zones and hemispheres, ordered by zone, hemisphere (N first), row, column;
 * no id appears twice.
 * Cheap (no tile polygons); `tilesForAoi` builds the full tiles.
 *
 * Per zone piece (AOI ∩ zone band): the tiles touched by the piece's boundary (AOI edges inside
 * the band plus the parts of the band's edges inside the AOI, densified and projected) are found
 * by exact segment/square clipping; any other tile lies wholly inside or outside the piece, so
 * its centre decides. Cost grows with the boundary length plus the piece's bounding box in tiles.
 */
export function tileIdsForAoi(aoi: AoiGeometry, opts: AnalysisGridOptions = {}): string[] {
  const span = tileSpanM(opts);
  const polygons = normalise(aoi);
  let minLon = Number.POSITIVE_INFINITY;
  let minLat = Number.POSITIVE_INFINITY;
  let maxLon = Number.NEGATIVE_INFINITY;
  let maxLat = Number.NEGATIVE_INFINITY;
  for (const poly of polygons) {
    for (const [lon, lat] of poly[0]!) {
      minLon = Math.min(minLon, lon);
      maxLon = Math.max(maxLon, lon);
      minLat = Math.min(minLat, lat);
      maxLat = Math.max(maxLat, lat);
    }
  }
  const index = new AoiIndex(polygons, [minLon, minLat, maxLon, maxLat]);
  // Densify so a projected piece is at most a quarter tile long (a degree of latitude is the
  // longest degree, so this is conservative in longitude).
  const stepDeg = span / 4 / 111_000;

  const hemispheres: { north: boolean; lo: number; hi: number }[] = [];
  // A hemisphere the AOI only touches along the equator owns none of it.
  if (maxLat > 0 || minLat >= 0) hemispheres.push({ north: true, lo: 0, hi: MAX_LAT });
  if (minLat < 0) hemispheres.push({ north: false, lo: MIN_LAT, hi: 0 });

  const ids: string[] = [];
  const firstZone = utmZoneOf(minLon);
  for (let zone = firstZone; zone <= utmZoneOf(maxLon); zone++) {
    const west = -180 + (zone - 1) * 6;
    const east = west + 6;
    // A zone the AOI only touches along its western meridian owns none of it.
    if (zone > firstZone && maxLon <= west) continue;
    for (const hemi of hemispheres) {
      const epsg = (hemi.north ? 32600 : 32700) + zone;
      const { fromLonLat: fwd, toLonLat: inv } = utmConverters(epsg);
      const marked = new Set<number>();
      const key = (c: number, r: number): number => r * 1_000_000 + c;
      let cMin = Number.POSITIVE_INFINITY;
      let cMax = Number.NEGATIVE_INFINITY;
      let rMin = Number.POSITIVE_INFINITY;
      let rMax = Number.NEGATIVE_INFINITY;

      const markSegment = (ax: number, ay: number, bx: number, by: number): void => {
        const c0 = Math.floor(Math.min(ax, bx) / span);
        const c1 = Math.floor(Math.max(ax, bx) / span);
        const r0 = Math.floor(Math.min(ay, by) / span);
        const r1 = Math.floor(Math.max(ay, by) / span);
        for (let r = r0; r <= r1; r++) {
          for (let c = c0; c <= c1; c++) {
            const k = key(c, r);
            if (marked.has(k)) continue;
            if (!clipSegment(ax, ay, bx, by, c * span, r * span, (c + 1) * span, (r + 1) * span)) continue;
            marked.add(k);
            if (c < cMin) cMin = c;
            if (c > cMax) cMax = c;
            if (r < rMin) rMin = r;
            if (r > rMax) rMax = r;
          }
        }
      };
      /** Projects a straight lon/lat segment, densified, and marks the tiles it passes. */
      const markLonLatSegment = (lon0: number, lat0: number, lon1: number, lat1: number): void => {
        const n = Math.max(1, Math.ceil(Math.max(Math.abs(lon1 - lon0), Math.abs(lat1 - lat0)) / stepDeg));
        let [px, py] = fwd(lon0, lat0);
        for (let i = 1; i <= n; i++) {
          const t = i / n;
          const [x, y] = i === n ? fwd(lon1, lat1) : fwd(lon0 + t * (lon1 - lon0), lat0 + t * (lat1 - lat0));
          markSegment(px, py, x, y);
          px = x;
          py = y;
        }
      };

      // 1. AOI edges inside the zone band.
      for (const poly of polygons) {
        for (const ring of poly) {
          for (let i = 0; i < ring.length; i++) {
            const a = ring[i]!;
            const b = ring[(i + 1) % ring.length]!;
            const seg = clipSegment(a[0], a[1], b[0], b[1], west, hemi.lo, east, hemi.hi);
            if (seg) markLonLatSegment(seg[0], seg[1], seg[2], seg[3]);
          }
        }
      }
      // 2. The band's edges (zone meridians, equator) where they run inside the AOI.
      for (const poly of polygons) {
        for (const lon of [west, east]) {
          for (const [s, n] of lineIntervals(poly, true, lon)) {
            const lo = Math.max(s, hemi.lo);
            const hi = Math.min(n, hemi.hi);
            if (lo <= hi) markLonLatSegment(lon, lo, lon, hi);
          }
        }
        for (const lat of [hemi.lo, hemi.hi]) {
          for (const [w, e] of lineIntervals(poly, false, lat)) {
            const lo = Math.max(w, west);
            const hi = Math.min(e, east);
            if (lo <= hi) markLonLatSegment(lo, lat, hi, lat);
          }
        }
      }
      if (marked.size === 0) continue;

      // 3. Unmarked tiles inside the boundary's bounding box: the centre decides.
      const inside: number[] = [];
      for (let r = rMin; r <= rMax; r++) {
        for (let c = cMin; c <= cMax; c++) {
          if (marked.has(key(c, r))) {
            inside.push(c, r);
            continue;
          }
          const [lon, lat] = inv((c + 0.5) * span, (r + 0.5) * span);
          const inBand = lon >= west && (lon < east || zone === 60) && (hemi.north ? lat >= 0 : lat < 0);
          if (inBand && index.contains(lon, lat)) inside.push(c, r);
        }
      }
      for (let i = 0; i < inside.length; i += 2) {
        const c = inside[i]!;
        const r = inside[i + 1]!;
        // Row −1 is only ever touched along the equator, which the row-0 tiles cover as well.
        if (c >= 0 && r >= 0) ids.push(formatTileId(zone, hemi.north ? 'N' : 'S', c, r));
      }
    }
  }
  return ids;
}

/** The analysis tiles intersecting an AOI (see `tileIdsForAoi` for the rule and order). */
export function tilesForAoi(aoi: AoiGeometry, opts: AnalysisGridOptions = {}): AnalysisTile[] {
  return tileIdsForAoi(aoi, opts).map((id) => tileById(id, opts));
}
