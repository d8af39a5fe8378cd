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

function clueTileSql(z: number, f: ClueFilter, args: SqlArgs): string {
  const conditions = clueConditions(f, args);
  if (z <= CLUSTER_MAX_ZOOM) {
    // Cells of CLUSTER_CELL_PX screen pixels: plain arithmetic on the stored 3857 points, then
    // one point per non-empty cell at the mean position of its clues.
    const cells = 256 / CLUSTER_CELL_PX;
    const where = ['c.tile_point && bounds.env', ...conditions];
    return `WITH bounds AS (SELECT ST_TileEnvelope($1, $2, $3) AS env),
      cell AS (SELECT (ST_XMax(env) - ST_XMin(env)) / ${cells} AS size, ST_XMin(env) AS x0, ST_YMax(env) AS y1, env FROM bounds),
      grouped AS (
        SELECT min(c.id) AS id, count(*)::int AS count, max(c.priority)::int AS max_priority,
               max(c.confidence)::real AS max_confidence, true AS cluster,
               avg(ST_X(c.tile_point)) AS x, avg(ST_Y(c.tile_point)) AS y
          FROM clues c, cell AS bounds
         WHERE ${where.join(' AND ')}
         GROUP BY floor((ST_X(c.tile_point) - bounds.x0) / bounds.size), floor((bounds.y1 - ST_Y(c.tile_point)) / bounds.size)),
      features AS (
        SELECT g.id, g.count, g.max_priority, g.max_confidence, g.cluster,
               ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(g.x, g.y), 3857), cell.env, ${MVT_EXTENT}, 0, false) AS geom
          FROM grouped g, cell)
    SELECT ST_AsMVT(features.*, 'clues', ${MVT_EXTENT}, 'geom', 'id') AS mvt, count(*)::int AS n
      FROM features WHERE geom IS NOT NULL`;
  }
  if (z <= POINT_MAX_ZOOM) {
    const where = ['c.tile_point && bounds.env', ...conditions];
    return `WITH bounds AS (SELECT ST_TileEnvelope($1, $2, $3) AS env),
      features AS (
        SELECT c.id, ${CLUE_PROPS}, ST_AsMVTGeom(c.tile_point, bounds.env, ${MVT_EXTENT}, 0, false) AS geom
          FROM clues c, bounds WHERE ${where.join(' AND ')})
    SELECT ST_AsMVT(features.*, 'clues', ${MVT_EXTENT}, 'geom', 'id') AS mvt, count(*)::int AS n
      FROM features WHERE geom IS NOT NULL`;
  }
  const where = ['c.geom && bounds.env4326', ...conditions];
  return finish(
    'clues',
    `SELECT c.id, ${CLUE_PROPS}, ${mvtGeom('c.geom')} AS geom
       FROM clues c, bounds WHERE ${where.join(' AND ')}`,
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

/** Rendered tiles by layer, data version, tile and filter; a minute at most (see the migration). */
const cache = new Lru<{ mvt: Buffer; features: number }>(20_000, 128 * 1024 * 1024, () => {}, 60_000);
let cacheEnabled = true;
/** Renders under way, by cache key, so concurrent requests for one tile share one query. */
const inflight = new Map<string, Promise<{ mvt: Buffer; features: number }>>();

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
): Promise<{ mvt: Buffer; features: number; cached: boolean }> {
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
): Promise<{ mvt: Buffer; features: number }> {
  const args = new SqlArgs([tile.z, tile.x, tile.y]);
  const sql =
    layer === 'clues'
      ? clueTileSql(tile.z, filter as ClueFilter, args)
      : layer === 'coverage'
        ? coverageTileSql(filter as CoverageFilter, args)
        : zoneTileSql(filter as ZoneFilter, args);
  const { rows } = await pool.query<{ mvt: Buffer | null; n: number }>(sql, args.values);
  const r = rows[0];
  return { mvt: r?.mvt ?? Buffer.alloc(0), features: r?.n ?? 0 };
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
