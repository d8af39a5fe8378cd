import type pg from 'pg';
import { type ClueFilter, clueConditions, countyAdcodeSql, SqlArgs } from './mvt-store.ts';

/**
 * Reporting queries: the figures a procuratorate reports (patrolled area, clues, confirmed,
 * cases filed, damage area) and the rows of clue exports. Parameters only, never spliced text.
 */

/** Statuses counted as confirmed damage (confirmed and every later step). */
export const CONFIRMED_STATUSES = ['confirmed', 'case_filed', 'remediation_check', 'closed'] as const;
/** Statuses counted as a case filed (立案) and every later step. */
export const CASE_FILED_STATUSES = ['case_filed', 'remediation_check', 'closed'] as const;

const COUNTY_ADCODE = countyAdcodeSql('c');

const COUNTY_NAME = (adcode: string) => `(
    SELECT z.properties->>'name' FROM zones z
     WHERE z.kind = 'admin_division' AND z.properties->>'adcode' = ${adcode}
     ORDER BY z.id LIMIT 1)`;

export interface StatsQuery {
  /** Clues first seen on or after / before (inclusive); patrol tiles finished in the same window. */
  from?: string;
  to?: string;
  /** County adcode: clues of that county, patrolled area clipped to its admin division. */
  county?: string;
}

export interface StatsGroup {
  key: string;
  name?: string | null;
  clues: number;
  dismissed: number;
  confirmed: number;
  cases_filed: number;
  /** Area of clues not dismissed (suspected damage). */
  area_m2: number;
  area_ha: number;
  area_mu: number;
  /** Area of confirmed clues (confirmed and later). */
  confirmed_area_ha: number;
  confirmed_area_mu: number;
}

export interface Stats {
  from: string | null;
  to: string | null;
  county: string | null;
  patrolled_km2: number;
  totals: Omit<StatsGroup, 'key' | 'name'>;
  by_scenario: StatsGroup[];
  by_status: StatsGroup[];
  by_county: StatsGroup[];
  by_month: StatsGroup[];
}

const AGGREGATES = `count(*)::int AS clues,
  count(*) FILTER (WHERE status = 'dismissed')::int AS dismissed,
  count(*) FILTER (WHERE status = ANY($CONF::text[]))::int AS confirmed,
  count(*) FILTER (WHERE status = ANY($CASE::text[]))::int AS cases_filed,
  COALESCE(sum(area_m2) FILTER (WHERE status <> 'dismissed'), 0)::float8 AS area_m2,
  COALESCE(sum(area_ha) FILTER (WHERE status <> 'dismissed'), 0)::float8 AS area_ha,
  COALESCE(sum(area_mu) FILTER (WHERE status <> 'dismissed'), 0)::float8 AS area_mu,
  COALESCE(sum(area_ha) FILTER (WHERE status = ANY($CONF::text[])), 0)::float8 AS confirmed_area_ha,
  COALESCE(sum(area_mu) FILTER (WHERE status = ANY($CONF::text[])), 0)::float8 AS confirmed_area_mu`;

export async function clueStats(pool: pg.Pool, q: StatsQuery): Promise<Stats> {
  const args = new SqlArgs();
  const conf = args.add([...CONFIRMED_STATUSES]);
  const cases = args.add([...CASE_FILED_STATUSES]);
  const where: string[] = [];
  if (q.from) where.push(`c.first_seen >= ${args.add(q.from)}::date`);
  if (q.to) where.push(`c.first_seen <= ${args.add(q.to)}::date`);
  const countyArg = q.county ? args.add(q.county) : null;
  const aggregates = AGGREGATES.replaceAll('$CONF', conf).replaceAll('$CASE', cases);
  // One scan: the filtered clues with their county, grouped four ways by GROUPING SETS.
  const sql = `
    WITH f AS (
      SELECT c.scenario, c.status, c.area_m2, c.area_ha, c.area_mu,
             to_char(c.first_seen, 'YYYY-MM') AS month, ${COUNTY_ADCODE} AS county
        FROM clues c ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ), g AS (
      SELECT * FROM f ${countyArg ? `WHERE county = ${countyArg}` : ''}
    )
    SELECT CASE WHEN GROUPING(scenario) = 0 THEN 'scenario'
                WHEN GROUPING(status) = 0 THEN 'status'
                WHEN GROUPING(county) = 0 THEN 'county'
                WHEN GROUPING(month) = 0 THEN 'month' ELSE 'total' END AS dim,
           COALESCE(scenario, status, county, month) AS key,
           CASE WHEN GROUPING(county) = 0 THEN ${COUNTY_NAME('county')} END AS name,
           ${aggregates}
      FROM g GROUP BY GROUPING SETS ((scenario), (status), (county), (month), ())`;
  const { rows } = await pool.query<StatsGroup & { dim: string }>(sql, args.values);

  const groups = (dim: string) =>
    rows
      .filter((r) => r.dim === dim)
      .map(({ dim: _d, name, ...g }) => (dim === 'county' ? { ...g, name } : g))
      .sort((a, b) => String(a.key).localeCompare(String(b.key)));
  const total = rows.find((r) => r.dim === 'total');
  const {
    dim: _d,
    key: _k,
    name: _n,
    ...totals
  } = total ?? {
    dim: 'total',
    key: '',
    name: null,
    clues: 0,
    dismissed: 0,
    confirmed: 0,
    cases_filed: 0,
    area_m2: 0,
    area_ha: 0,
    area_mu: 0,
    confirmed_area_ha: 0,
    confirmed_area_mu: 0,
  };
  return {
    from: q.from ?? null,
    to: q.to ?? null,
    county: q.county ?? null,
    patrolled_km2: await patrolledKm2(pool, q),
    totals,
    by_scenario: groups('scenario'),
    by_status: groups('status'),
    by_county: groups('county').map((g) => ({ ...g, key: g.key ?? 'unknown' })),
    by_month: groups('month'),
  };
}

/**
 * Area patrolled, in km²: the union of the coverage of done patrol tiles finished in the
 * window, on the ellipsoid (geography), clipped to the county when one is given. 0 if none.
 */
export async function patrolledKm2(pool: pg.Pool, q: StatsQuery): Promise<number> {
  const args = new SqlArgs();
  const where = ["t.status = 'done'", 't.coverage IS NOT NULL'];
  if (q.from) where.push(`t.finished_at >= ${args.add(q.from)}::date`);
  if (q.to) where.push(`t.finished_at < ${args.add(q.to)}::date + 1`);
  let clip = '';
  if (q.county) {
    const a = args.add(q.county);
    clip = `, (SELECT ST_Union(z.geom) AS g FROM zones z
                WHERE z.kind = 'admin_division' AND z.properties->>'adcode' = ${a}) county`;
    where.push('t.coverage && county.g');
  }
  const union = q.county
    ? 'ST_Intersection(ST_Union(t.coverage), ST_Union(county.g))'
    : 'ST_Union(t.coverage)';
  const { rows } = await pool.query<{ km2: number | null }>(
    `SELECT (ST_Area(${union}::geography) / 1e6)::float8 AS km2
       FROM patrol_tiles t ${clip} WHERE ${where.join(' AND ')}`,
    args.values,
  );
  return rows[0]?.km2 ?? 0;
}

export interface ExportRow {
  id: number;
  scenario: string;
  status: string;
  confidence: number;
  priority: number;
  area_m2: number;
  area_ha: number;
  area_mu: number;
  first_seen: string;
  last_seen: string;
  county_adcode: string | null;
  county: string | null;
  centroid_lon: number;
  centroid_lat: number;
  bbox: [number, number, number, number];
  /** GeoJSON geometry (EPSG:4326). */
  geojson: string;
  /** ISO WKB (little endian) of the geometry. */
  wkb: Buffer;
}

/** Clues matching a filter, oldest id first, at most `limit` rows. */
export async function exportClueRows(pool: pg.Pool, f: ClueFilter, limit: number): Promise<ExportRow[]> {
  const args = new SqlArgs();
  const where = clueConditions(f, args);
  const { rows } = await pool.query<ExportRow & { w: number; s: number; e: number; n: number }>(
    `SELECT c.id, c.scenario, c.status, c.confidence::float8 AS confidence, c.priority::int AS priority,
            c.area_m2, c.area_ha, c.area_mu, c.first_seen, c.last_seen, x.county AS county_adcode,
            ${COUNTY_NAME('x.county')} AS county,
            ST_X(ST_Centroid(c.geom)) AS centroid_lon, ST_Y(ST_Centroid(c.geom)) AS centroid_lat,
            ST_XMin(c.geom) AS w, ST_YMin(c.geom) AS s, ST_XMax(c.geom) AS e, ST_YMax(c.geom) AS n,
            ST_AsGeoJSON(c.geom, 8) AS geojson, ST_AsBinary(c.geom, 'NDR') AS wkb
       FROM clues c, LATERAL (SELECT ${COUNTY_ADCODE} AS county) x
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY c.id LIMIT ${args.add(limit)}`,
    args.values,
  );
  return rows.map(({ w, s, e, n, ...r }) => ({ ...r, bbox: [w, s, e, n] }));
}
