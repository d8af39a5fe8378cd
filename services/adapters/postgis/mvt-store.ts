import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { TileCoord } from '../../domain/geo/webmercator.ts';
import { Lru } from '../cache/lru.ts';

/**
 * Mapbox Vector Tiles straight from PostGIS (ST_AsMVT). Geometries are stored in EPSG:4326:
 * rows are pre-selected with `&&` against the tile envelope (plus the buffer) transformed to
 * 4326, so the GiST index on `geom` is used, and only those rows are transformed to 3857.
 * Every filter value travels as a bind parameter; no caller text is ever spliced into SQL.
 *
 * Clues are 20–400 m across, a few pixels or less below z12, and there can be 10,000 of them
 * in one z8 tile; drawing each polygon there is slow and shows nothing useful. So the clue
 * layer is generalised by zoom, as tile servers do:
 * - z ≤ CLUSTER_MAX_ZOOM: clusters, one point per grid cell of CLUSTER_CELL_PX pixels with
 *   the number of clues, the highest priority and confidence (`cluster: true`);
 * - z ≤ POINT_MAX_ZOOM: one point per clue (its point on surface) with the clue's properties;
 * - above: the polygons.
 * Points and clusters come from `clues.tile_point` (EPSG:3857, kept by trigger, GiST-indexed),
 * so no geometry is transformed per request. Filters apply before clustering. Rendered tiles
 * are cached in-process under the layer's data version (a sequence every write to the table
 * advances), so a change is never hidden behind the cache.
 */

export const MVT_EXTENT = 4096;
export const MVT_BUFFER = 64;
/** Clue tiles at or below this zoom carry clusters. */
export const CLUSTER_MAX_ZOOM = 10;
/** Clue tiles at or below this zoom (above CLUSTER_MAX_ZOOM) carry one point per clue. */
export const POINT_MAX_ZOOM = 11;
/** Side of a cluster cell in screen pixels (of a 256 px tile). */
export const CLUSTER_CELL_PX = 8;

export type VectorLayer = 'clues' | 'coverage' | 'zones';

/** Filters shared by clue tiles, exports and statistics. */
export interface ClueFilter {
  scenario?: string[];
  /** Clues of one of these scenarios or that also concern one of them (`also_scenarios`). */
  concerns?: string[];
  status?: string[];
  minConfidence?: number;
  /** Clues whose [first_seen, last_seen] intersects [from, to] (either end may be open). */
  from?: string;
  to?: string;
  /** County adcode (clues.county_adcode). */
  county?: string;
  /** Only clues of these counties (the reader's scope; clues with no county are left out). */
  counties?: string[];
  bbox?: [number, number, number, number];
}

export interface CoverageFilter {
  runId?: string;
  from?: string;
  to?: string;
}

export interface ZoneFilter {
  kind?: string[];
}

/** Collects bind parameters and hands out their placeholders. */
export class SqlArgs {
  readonly values: unknown[] = [];
  constructor(start: unknown[] = []) {
    this.values.push(...start);
  }
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/**
 * The county adcode of a clue: the one recorded on it, else that of the county admin division
 * its point on surface falls in.
 */
export function countyAdcodeSql(t = 'c'): string {
  return `COALESCE(${t}.county_adcode, (
    SELECT z.properties->>'adcode' FROM zones z
     WHERE z.kind = 'admin_division' AND COALESCE(z.properties->>'level', 'county') = 'county'
       AND ST_Intersects(z.geom, ST_PointOnSurface(${t}.geom))
     ORDER BY z.id LIMIT 1))`;
}

/** WHERE conditions (ANDed) for a clue filter; `t` is the clues table alias. */
export function clueConditions(f: ClueFilter, args: SqlArgs, t = 'c'): string[] {
  const w: string[] = [];
  if (f.scenario?.length) w.push(`${t}.scenario = ANY(${args.add(f.scenario)}::text[])`);
  if (f.concerns?.length) {
    const c = args.add(f.concerns);
    w.push(`(${t}.scenario = ANY(${c}::text[]) OR ${t}.also_scenarios && ${c}::text[])`);
  }
  if (f.status?.length) w.push(`${t}.status = ANY(${args.add(f.status)}::text[])`);
  if (f.minConfidence !== undefined) w.push(`${t}.confidence >= ${args.add(f.minConfidence)}::real`);
  if (f.from) w.push(`${t}.last_seen >= ${args.add(f.from)}::date`);
  if (f.to) w.push(`${t}.first_seen <= ${args.add(f.to)}::date`);
  if (f.county) w.push(`${countyAdcodeSql(t)} = ${args.add(f.county)}`);
  if (f.counties) w.push(`${t}.county_adcode = ANY(${args.add(f.counties)}::text[])`);
  if (f.bbox) w.push(`${t}.geom && ST_MakeEnvelope(${f.bbox.map((v) => args.add(v)).join(', ')}, 4326)`);
  return w;
}

/** The envelope CTE for tile z/x/y: $1..$3 are z, x, y. */
const BOUNDS = `bounds AS (
  SELECT ST_TileEnvelope($1, $2, $3) AS env,
         ST_Transform(ST_TileEnvelope($1, $2, $3, margin => ${MVT_BUFFER / MVT_EXTENT}), 4326) AS env4326
)`;

function mvtGeom(column: string): string {
  return `ST_AsMVTGeom(ST_Transform(${column}, 3857), bounds.env, ${MVT_EXTENT}, ${MVT_BUFFER}, true)`;
}

function finish(layer: string, inner: string): string {
  return `WITH ${BOUNDS}, features AS (${inner})
    SELECT ST_AsMVT(features.*, '${layer}', ${MVT_EXTENT}, 'geom', 'id') AS mvt, count(*)::int AS n
      FROM features WHERE geom IS NOT NULL`;
}

const CLUE_PROPS = `c.scenario, c.status, c.confidence::float8 AS confidence, round(c.area_mu::numeric, 3)::float8 AS area_mu,
            c.priority::int AS priority, c.last_seen::text AS last_seen`;

/** Bits per axis of the integer pixel grid of `clues.tile_ix/tile_iy` (zoom 23 of 256 px tiles). */
export const KEY_BITS = 31;

function spread(v: bigint): bigint {
  let x = v & 0x7fffffffn;
  x = (x | (x << 16n)) & 0x0000ffff0000ffffn;
  x = (x | (x << 8n)) & 0x00ff00ff00ff00ffn;
  x = (x | (x << 4n)) & 0x0f0f0f0f0f0f0f0fn;
  x = (x | (x << 2n)) & 0x3333333333333333n;
  x = (x | (x << 1n)) & 0x5555555555555555n;
  return x;
}

/** Morton code of the zoom-23 pixel (ix, iy), as `skypatrol_morton` in the database computes it. */
export function mortonKey(ix: number, iy: number): bigint {
  return spread(BigInt(ix)) | (spread(BigInt(iy)) << 1n);
}

/**
 * The `clues.tile_key` range [lo, hi) of a tile: the codes of its pixels are contiguous, so a
 * tile is one index range scan. Also the tile's origin in zoom-23 pixels.
 */
export function tileKeyRange(t: TileCoord): { lo: bigint; hi: bigint; x0: number; y0: number } {
  const shift = KEY_BITS - t.z;
  const x0 = t.x * 2 ** shift;
  const y0 = t.y * 2 ** shift;
  const lo = mortonKey(x0, y0);
  return { lo, hi: lo + (1n << BigInt(2 * shift)), x0, y0 };
}

/**
 * Clusters and points select clues by their Morton code range: with the covering index
 * `clues_tile_key_idx` that is an index-only scan (no heap, no geometry) when the filters use
 * only the columns it carries. Placeholders $1..$5: z, x0, y0 (tile origin in zoom-23 pixels),
 * lo, hi. Positions are integer arithmetic on the zoom-23 pixels straight into the tile's 4096
 * extent (one unit = 2^(19−z) pixels), so no geometry is built per clue.
 */
function clueTileSql(z: number, f: ClueFilter, args: SqlArgs): string {
  const conditions = clueConditions(f, args);
  const where = ['c.tile_key >= $4::bigint', 'c.tile_key < $5::bigint', ...conditions].join(' AND ');
  // One MVT unit in zoom-23 pixels: 2^(KEY_BITS − 12 − z) (z ≤ POINT_MAX_ZOOM < 19).
  const unit = `(1 << (${KEY_BITS - Math.log2(MVT_EXTENT)} - $1::int))::float8`;
  if (z <= CLUSTER_MAX_ZOOM) {
    // A cell of CLUSTER_CELL_PX screen pixels is 2^(KEY_BITS − z − log2(256 / cell)) zoom-23
    // pixels a side: its clues share the code's high bits. One point per non-empty cell at
    // the mean position of its clues.
    const cellBits = Math.log2(256 / CLUSTER_CELL_PX);
    return `WITH grouped AS (
        SELECT min(c.id) AS id, count(*)::int AS count, max(c.priority)::int AS max_priority,
               max(c.confidence)::real AS max_confidence, true AS cluster,
               avg(c.tile_ix::float8) AS ix, avg(c.tile_iy::float8) AS iy
          FROM clues c
         WHERE ${where}
         GROUP BY c.tile_key >> (2 * (${KEY_BITS - cellBits} - $1::int))),
      features AS (
        SELECT g.id, g.count, g.max_priority, g.max_confidence, g.cluster,
               ST_MakePoint(floor((g.ix - $2::float8) / ${unit} + 0.5), floor((g.iy - $3::float8) / ${unit} + 0.5)) AS geom
          FROM grouped g)
    SELECT ST_AsMVT(features.*, 'clues', ${MVT_EXTENT}, 'geom', 'id') AS mvt, count(*)::int AS n
      FROM features`;
  }
  if (z <= POINT_MAX_ZOOM) {
    return `WITH features AS (
        SELECT c.id, ${CLUE_PROPS},
               ST_MakePoint(floor((c.tile_ix - $2::float8) / ${unit} + 0.5), floor((c.tile_iy - $3::float8) / ${unit} + 0.5)) AS geom
          FROM clues c WHERE ${where})
    SELECT ST_AsMVT(features.*, 'clues', ${MVT_EXTENT}, 'geom', 'id') AS mvt, count(*)::int AS n
      FROM features`;
  }
  const whereGeom = ['c.geom && bounds.env4326', ...conditions];
  return finish(
    'clues',
    `SELECT c.id, ${CLUE_PROPS}, ${mvtGeom('c.geom')} AS geom
       FROM clues c, bounds WHERE ${whereGeom.join(' AND ')}`,
  );
}

function coverageTileSql(f: CoverageFilter, args: SqlArgs): string {
  const where = ['t.coverage && bounds.env4326'];
  if (f.runId) where.push(`t.run_id = ${args.add(f.runId)}::uuid`);
  if (f.from) where.push(`t.finished_at >= ${args.add(f.from)}::date`);
  if (f.to) where.push(`t.finished_at < ${args.add(f.to)}::date + 1`);
  return finish(
    'coverage',
    `SELECT row_number() OVER () AS id, t.run_id::text AS run_id, t.tile_id, t.status,
            to_char(t.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS finished, ${mvtGeom('t.coverage')} AS geom
       FROM patrol_tiles t, bounds WHERE ${where.join(' AND ')}`,
  );
}

function zoneTileSql(f: ZoneFilter, args: SqlArgs): string {
  const where = ['z.geom && bounds.env4326'];
  if (f.kind?.length) where.push(`z.kind = ANY(${args.add(f.kind)}::text[])`);
  return finish(
    'zones',
    `SELECT z.id, z.kind, z.properties->>'name' AS name,
            COALESCE(z.properties->>'adcode', z.properties->>'code', z.properties->>'permit_no') AS code,
            ${mvtGeom('z.geom')} AS geom
       FROM zones z, bounds WHERE ${where.join(' AND ')}`,
  );
}

const VERSION_SEQUENCE: Record<VectorLayer, string> = {
  clues: 'tile_version_clues',
  coverage: 'tile_version_coverage',
  zones: 'tile_version_zones',
};

export interface RenderedVectorTile {
  mvt: Buffer;
  features: number;
  /** Strong ETag of the bytes, computed once per render (a cached tile is not hashed again). */
  etag: string;
}

/** Rendered tiles by layer, data version, tile and filter; a minute at most (see the migration). */
const cache = new Lru<RenderedVectorTile>(20_000, 128 * 1024 * 1024, () => {}, 60_000);
let cacheEnabled = true;
/** Renders under way, by cache key, so concurrent requests for one tile share one query. */
const inflight = new Map<string, Promise<RenderedVectorTile>>();

/** Turn the rendered-tile cache off (benchmarks of the uncached path) or on. */
export function setMvtCacheEnabled(on: boolean): void {
  cacheEnabled = on;
  if (!on) cache.clear();
}

export function clearMvtCache(): void {
  cache.clear();
}

/** The layer's data version: changes with every statement that writes its table. */
async function dataVersion(pool: pg.Pool, layer: VectorLayer): Promise<string> {
  const { rows } = await pool.query<{ v: string }>(
    `SELECT last_value::text || '.' || is_called::text AS v FROM ${VERSION_SEQUENCE[layer]}`,
  );
  return rows[0]!.v;
}

/** One layer's tile as MVT bytes and its feature count (0 features → empty buffer). */
export async function vectorTile(
  pool: pg.Pool,
  layer: VectorLayer,
  tile: TileCoord,
  filter: ClueFilter | CoverageFilter | ZoneFilter,
): Promise<RenderedVectorTile & { cached: boolean }> {
  if (cacheEnabled) {
    const key = `${layer}|${await dataVersion(pool, layer)}|${tile.z}/${tile.x}/${tile.y}|${JSON.stringify(filter)}`;
    const hit = cache.get(key);
    if (hit) return { ...hit, cached: true };
    // A map opening on many screens asks for the same tiles at once: render each once.
    const pending = inflight.get(key);
    if (pending) return { ...(await pending), cached: true };
    const p = renderTile(pool, layer, tile, filter);
    inflight.set(key, p);
    try {
      const result = await p;
      cache.set(key, result, result.mvt.byteLength + 200);
      return { ...result, cached: false };
    } finally {
      inflight.delete(key);
    }
  }
  return { ...(await renderTile(pool, layer, tile, filter)), cached: false };
}

async function renderTile(
  pool: pg.Pool,
  layer: VectorLayer,
  tile: TileCoord,
  filter: ClueFilter | CoverageFilter | ZoneFilter,
): Promise<RenderedVectorTile> {
  let args: SqlArgs;
  if (layer === 'clues' && tile.z <= POINT_MAX_ZOOM) {
    const r = tileKeyRange(tile);
    args = new SqlArgs([tile.z, r.x0, r.y0, r.lo.toString(), r.hi.toString()]);
  } else {
    args = new SqlArgs([tile.z, tile.x, tile.y]);
  }
  const sql =
    layer === 'clues'
      ? clueTileSql(tile.z, filter as ClueFilter, args)
      : layer === 'coverage'
        ? coverageTileSql(filter as CoverageFilter, args)
        : zoneTileSql(filter as ZoneFilter, args);
  // Named (prepared once per connection): a tile query is planned once, not per tile. The
  // text depends only on the zoom class and which filters are set, so there are few of them.
  const { rows } = await pool.query<{ mvt: Buffer | null; n: number }>({
    name: statementName(sql),
    text: sql,
    values: args.values,
  });
  const r = rows[0];
  const mvt = r?.mvt ?? Buffer.alloc(0);
  return { mvt, features: r?.n ?? 0, etag: `"${createHash('sha1').update(mvt).digest('base64url')}"` };
}

const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `mvt_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return name;
}

/** [west, south, east, north] of a layer's data, or null when it is empty. */
export async function layerBounds(
  pool: pg.Pool,
  layer: VectorLayer,
): Promise<[number, number, number, number] | null> {
  const source =
    layer === 'clues'
      ? 'SELECT ST_Extent(geom) AS e FROM clues'
      : layer === 'coverage'
        ? 'SELECT ST_Extent(coverage) AS e FROM patrol_tiles'
        : 'SELECT ST_Extent(geom) AS e FROM zones';
  const { rows } = await pool.query<{ w: number | null; s: number; e: number; n: number }>(
    `SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n FROM (${source}) x`,
  );
  const r = rows[0];
  return !r || r.w === null ? null : [r.w, r.s, r.e, r.n];
}
