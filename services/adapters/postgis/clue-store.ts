import type pg from 'pg';
import type { ClueFeature } from '../../usecases/detect-pair.ts';

/** Provenance recorded with each stored clue (chain of custody). */
export interface ClueProvenance {
  actor: string;
  runId?: string | null;
  inputs: Record<string, unknown>;
}

/**
 * Store detected polygons as clues with a `created` event each (caller owns the transaction). Geometry is
 * made valid by PostGIS and the area recomputed on the ellipsoid, so the database is the
 * reference for what a packet or the API reports.
 */
export async function insertClues(
  client: pg.PoolClient,
  features: ClueFeature[],
  provenance: ClueProvenance,
): Promise<number[]> {
  const ids: number[] = [];
  for (const f of features) {
    const p = f.properties;
    const { rows } = await client.query<{ id: number }>(
      `INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, detector, model_version,
                            model_sha256, run_id, before_scene, after_scene, inputs)
         SELECT $1, $2, g, ST_Area(g::geography), $4, $5, $6, $7, $8, $9, $10, $11, $12
           FROM (SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($3), 4326)), 3)) AS g) s
         RETURNING id`,
      [
        p.scenario,
        p.confidence,
        JSON.stringify(f.geometry),
        p.first_seen,
        p.last_seen,
        p.detector,
        p.model_version,
        p.model_sha256,
        provenance.runId ?? null,
        p.before_scene,
        p.after_scene,
        JSON.stringify(provenance.inputs),
      ],
    );
    const id = rows[0]!.id;
    await client.query(
      `INSERT INTO clue_events (clue_id, actor, kind, to_status, data) VALUES ($1, $2, 'created', 'new', $3)`,
      [
        id,
        provenance.actor,
        JSON.stringify({ confidence: p.confidence, detector: p.detector, model_version: p.model_version }),
      ],
    );
    ids.push(id);
  }
  return ids;
}

export interface ClueQuery {
  bbox?: [number, number, number, number];
  scenario?: string;
  /** Clues of this scenario or that also concern it (`also_scenarios`). */
  concerns?: string;
  status?: string;
  /** Clues whose [first_seen, last_seen] intersects this interval (open ends allowed). */
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

export interface ClueRow {
  id: number;
  geometry: unknown;
  properties: Record<string, unknown>;
}

/**
 * A clue's columns. `also_scenarios`: the other scenarios whose detectors found the same site and
 * were folded into this clue (a wetland filled inside a river management area is a river clue
 * that also concerns the wetland reserve), sorted, once each; kept from its detections'
 * properties by the trigger of migration 1765200000000.
 */
const CLUE_COLUMNS = `id, scenario, status, dismiss_reason, confidence, priority, area_m2, area_ha, area_mu,
  first_seen, last_seen, county_adcode, detector, model_version, model_sha256, before_scene, after_scene,
  created_at, updated_at, also_scenarios`;

function toRow(r: Record<string, unknown>): ClueRow {
  const { geojson, ...props } = r;
  return { id: r.id as number, geometry: JSON.parse(geojson as string), properties: props };
}

/**
 * An optional extra condition on clues (e.g. a reader's county scope): given `arg`, which
 * appends a query parameter and returns its placeholder, it returns SQL or null for none.
 */
export type ClueScope = (arg: (v: unknown) => string) => string | null;

/** Clues matching a query (within `scope`), newest first, with the total count for paging. */
export async function queryClues(
  pool: pg.Pool,
  q: ClueQuery,
  scope?: ClueScope,
): Promise<{ total: number; rows: ClueRow[] }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  const scoped = scope?.(arg);
  if (scoped) where.push(scoped);
  if (q.bbox) where.push(`geom && ST_MakeEnvelope(${q.bbox.map(arg).join(', ')}, 4326)`);
  if (q.scenario) where.push(`scenario = ${arg(q.scenario)}`);
  if (q.concerns) {
    const c = arg(q.concerns);
    where.push(`(scenario = ${c} OR also_scenarios @> ARRAY[${c}::text])`);
  }
  if (q.status) where.push(`status = ${arg(q.status)}`);
  if (q.from) where.push(`last_seen >= ${arg(q.from)}::date`);
  if (q.to) where.push(`first_seen <= ${arg(q.to)}::date`);
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM clues ${clause}`, args);
  const { rows } = await pool.query(
    `SELECT ${CLUE_COLUMNS}, ST_AsGeoJSON(geom, 7) AS geojson FROM clues ${clause}
      ORDER BY last_seen DESC, id DESC LIMIT ${arg(q.limit)} OFFSET ${arg(q.offset)}`,
    args,
  );
  return { total: total.rows[0]!.n, rows: rows.map(toRow) };
}

/** A clue's append-only history, oldest first. */
export async function listClueEvents(pool: pg.Pool, clueId: number): Promise<unknown[]> {
  const { rows } = await pool.query(
    `SELECT id, at, actor, actor_user_id, kind, from_status, to_status, reason, comment, data
       FROM clue_events WHERE clue_id = $1 ORDER BY at, id`,
    [clueId],
  );
  return rows;
}

/** One clue with its history; null when missing or outside `scope` (both → 404). */
export async function getClue(
  pool: pg.Pool,
  id: number,
  scope?: ClueScope,
): Promise<(ClueRow & { events: unknown[] }) | null> {
  const args: unknown[] = [id];
  const scoped = scope?.((v) => {
    args.push(v);
    return `$${args.length}`;
  });
  const { rows } = await pool.query(
    `SELECT ${CLUE_COLUMNS}, ST_AsGeoJSON(geom, 7) AS geojson FROM clues WHERE id = $1${scoped ? ` AND ${scoped}` : ''}`,
    args,
  );
  if (!rows[0]) return null;
  return { ...toRow(rows[0]), events: await listClueEvents(pool, id) };
}

/** [west, south, east, north] of the clues within `scope`, or null when there are none. */
export async function cluesExtent(
  pool: pg.Pool,
  scope?: ClueScope,
): Promise<[number, number, number, number] | null> {
  const args: unknown[] = [];
  const scoped = scope?.((v) => {
    args.push(v);
    return `$${args.length}`;
  });
  const { rows } = await pool.query<{ w: number | null; s: number; e: number; n: number }>(
    `SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n
       FROM (SELECT ST_Extent(geom) AS e FROM clues ${scoped ? `WHERE ${scoped}` : ''}) x`,
    args,
  );
  const r = rows[0]!;
  return r.w === null ? null : [r.w, r.s, r.e, r.n];
}
