import type pg from 'pg';
import type { TileCoord } from '../../domain/geo/webmercator.ts';

/**
 * Mapbox Vector Tiles straight from PostGIS (ST_AsMVT). Geometries are stored in EPSG:4326:
 * rows are pre-selected with `&&` against the tile envelope (plus the buffer) transformed to
 * 4326, so the GiST index on `geom` is used, and only those rows are transformed to 3857.
 * Every filter value travels as a bind parameter; no caller text is ever spliced into SQL.
 */

export const MVT_EXTENT = 4096;
export const MVT_BUFFER = 64;

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

function clueTileSql(f: ClueFilter, args: SqlArgs): string {
  const where = ['c.geom && bounds.env4326', ...clueConditions(f, args)];
  return finish(
    'clues',
    `SELECT c.id, c.scenario, c.status, c.confidence::float8 AS confidence, round(c.area_mu::numeric, 3)::float8 AS area_mu,
            c.priority::int AS priority, c.last_seen::text AS last_seen, ${mvtGeom('c.geom')} AS geom
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

/** One layer's tile as MVT bytes and its feature count (0 features → empty buffer). */
export async function vectorTile(
  pool: pg.Pool,
  layer: VectorLayer,
  tile: TileCoord,
  filter: ClueFilter | CoverageFilter | ZoneFilter,
): Promise<{ mvt: Buffer; features: number }> {
  const args = new SqlArgs([tile.z, tile.x, tile.y]);
  const sql =
    layer === 'clues'
      ? clueTileSql(filter as ClueFilter, args)
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
