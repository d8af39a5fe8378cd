import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { polygonAreaM2 } from '../../services/domain/geo/area.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildTestApp } from '../support/test-app.ts';

let db: TestDatabase;
let app: FastifyInstance;

const CONFIRMED = ['confirmed', 'case_filed', 'remediation_check', 'closed'];
const FILED = ['case_filed', 'remediation_check', 'closed'];

// scenario, status, first_seen, lon, lat, size (deg), county_adcode (null → found spatially)
const CLUES: [string, string, string, number, number, number, string | null][] = [
  ['black-soil', 'new', '2025-06-03', 119.01, 49.01, 0.002, '150725'],
  ['black-soil', 'confirmed', '2025-06-20', 119.02, 49.01, 0.003, '150725'],
  ['black-soil', 'case_filed', '2025-07-02', 119.03, 49.01, 0.004, null],
  ['mine', 'closed', '2025-07-15', 119.04, 49.01, 0.005, '150725'],
  ['mine', 'dismissed', '2025-07-16', 119.05, 49.01, 0.006, '150725'],
  ['mine', 'remediation_check', '2025-08-01', 117.01, 48.01, 0.002, null],
  ['grassland', 'in_review', '2025-08-09', 117.02, 48.01, 0.003, '150727'],
  ['grassland', 'new', '2024-12-31', 117.03, 48.01, 0.003, '150727'],
  ['wetland', 'new', '2025-07-05', 125, 45, 0.001, null], // outside every county
];

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(
    `INSERT INTO zones (kind, properties, geom) VALUES
       ('admin_division', '{"name":"陈巴尔虎旗","adcode":"150725","level":"county"}', ST_Multi(ST_MakeEnvelope(118, 48, 120, 50, 4326))),
       ('admin_division', '{"name":"新巴尔虎右旗","adcode":"150727","level":"county"}', ST_Multi(ST_MakeEnvelope(116, 47, 118, 50, 4326)))`,
  );
  for (const [scenario, status, date, x, y, d, county] of CLUES) {
    await db.pool.query(
      `INSERT INTO clues (scenario, status, dismiss_reason, confidence, geom, area_m2, first_seen, last_seen, county_adcode, detector, model_version)
       SELECT $1, $2, CASE WHEN $2 = 'dismissed' THEN 'false_detection' END, 0.8, g, ST_Area(g::geography), $3::date, $3::date, $7, 'test', '0.1.0'
         FROM (SELECT ST_Multi(ST_MakeEnvelope($4::float8, $5::float8, $4::float8 + $6::float8, $5::float8 + $6::float8, 4326)) AS g) s`,
      [scenario, status, date, x, y, d, county],
    );
  }
  const run = await db.pool.query<{ id: string }>(
    `INSERT INTO patrol_runs (aoi, before_from, before_to, after_from, after_to, scenarios, status)
     VALUES (ST_Multi(ST_MakeEnvelope(119, 49, 119.2, 49.2, 4326)), '2024-06-01', '2024-06-30', '2025-06-01', '2025-08-31', '{black-soil}', 'done')
     RETURNING id`,
  );
  const tiles: [string, string, number, number, number, string][] = [
    ['A', 'done', 119, 49, 0.1, '2025-07-10T05:00:00Z'],
    ['B', 'done', 119.05, 49.05, 0.1, '2025-07-11T05:00:00Z'], // overlaps A: counted once
    ['C', 'failed', 119.3, 49.3, 0.1, '2025-07-11T05:00:00Z'], // not patrolled
    ['D', 'done', 119.5, 49.5, 0.1, '2024-07-11T05:00:00Z'], // before the window
  ];
  for (const [id, status, x, y, d, at] of tiles) {
    await db.pool.query(
      `INSERT INTO patrol_tiles (run_id, tile_id, bounds, status, coverage, finished_at)
       VALUES ($1, $2, ST_MakeEnvelope($3::float8, $4::float8, $3::float8 + $5::float8, $4::float8 + $5::float8, 4326), $6,
               CASE WHEN $6::text = 'done' THEN ST_Multi(ST_MakeEnvelope($3::float8, $4::float8, $3::float8 + $5::float8, $4::float8 + $5::float8, 4326)) END, $7)`,
      [run.rows[0]!.id, id, x, y, d, status, at],
    );
  }
  app = await buildTestApp(db.url, db.pool);
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

/** Independent figures for one group of clues, from plain SQL. */
async function expected(where: string, args: unknown[]) {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS clues,
            count(*) FILTER (WHERE status = 'dismissed')::int AS dismissed,
            count(*) FILTER (WHERE status IN ('confirmed','case_filed','remediation_check','closed'))::int AS confirmed,
            count(*) FILTER (WHERE status IN ('case_filed','remediation_check','closed'))::int AS cases_filed,
            COALESCE(sum(area_m2) FILTER (WHERE status <> 'dismissed'), 0) / 10000 AS area_ha,
            COALESCE(sum(area_m2) FILTER (WHERE status <> 'dismissed'), 0) * 15 / 10000 AS area_mu
       FROM clues WHERE ${where}`,
    args,
  );
  return rows[0];
}

function expectGroup(got: Record<string, number>, want: Record<string, number>) {
  expect(got.clues).toBe(want.clues);
  expect(got.dismissed).toBe(want.dismissed);
  expect(got.confirmed).toBe(want.confirmed);
  expect(got.cases_filed).toBe(want.cases_filed);
  expect(got.area_ha).toBeCloseTo(want.area_ha!, 6);
  expect(got.area_mu).toBeCloseTo(want.area_mu!, 6);
}

describe('statistics', () => {
  it('patrolled km² is the ellipsoidal area of the union of done coverage in the window', async () => {
    const r = await app.inject('/stats?from=2025-01-01&to=2025-12-31');
    expect(r.statusCode).toBe(200);
    // Union of A and B drawn by hand (an L-shaped octagon), area by Karney's geodesics.
    const union: [number, number][] = [
      [119, 49],
      [119.1, 49],
      [119.1, 49.05],
      [119.15, 49.05],
      [119.15, 49.15],
      [119.05, 49.15],
      [119.05, 49.1],
      [119, 49.1],
      [119, 49],
    ];
    const km2 = polygonAreaM2([union]) / 1e6;
    expect(r.json().patrolled_km2).toBeCloseTo(km2, 3);
    // Without a window, D (2024) counts too.
    const all = (await app.inject('/stats')).json();
    const d =
      polygonAreaM2([
        [
          [119.5, 49.5],
          [119.6, 49.5],
          [119.6, 49.6],
          [119.5, 49.6],
          [119.5, 49.5],
        ],
      ]) / 1e6;
    expect(all.patrolled_km2).toBeCloseTo(km2 + d, 3);
    // A county without patrols: 0, not null.
    expect((await app.inject('/stats?county=150727')).json().patrolled_km2).toBe(0);
    // Clipped to a county.
    expect((await app.inject('/stats?county=150725&from=2025-01-01')).json().patrolled_km2).toBeCloseTo(
      km2,
      3,
    );
  });

  it('totals and groups by scenario, status, county and month equal independent SQL', async () => {
    const s = (await app.inject('/stats?from=2025-01-01&to=2025-12-31')).json();
    const win = "first_seen BETWEEN '2025-01-01' AND '2025-12-31'";
    expectGroup(s.totals, await expected(win, []));
    expect(s.totals.clues).toBe(8);
    expect(s.totals.confirmed).toBe(4);
    expect(s.totals.cases_filed).toBe(3);
    for (const g of s.by_scenario) expectGroup(g, await expected(`${win} AND scenario = $1`, [g.key]));
    expect(s.by_scenario.map((g: { key: string }) => g.key)).toEqual([
      'black-soil',
      'grassland',
      'mine',
      'wetland',
    ]);
    for (const g of s.by_status) expectGroup(g, await expected(`${win} AND status = $1`, [g.key]));
    for (const g of s.by_month)
      expectGroup(g, await expected(`${win} AND to_char(first_seen, 'YYYY-MM') = $1`, [g.key]));
    expect(s.by_month.map((g: { key: string }) => g.key)).toEqual(['2025-06', '2025-07', '2025-08']);
    const chen = s.by_county.find((g: { key: string }) => g.key === '150725');
    expect(chen.name).toBe('陈巴尔虎旗');
    // 150725: four with the adcode recorded plus one found inside its boundary.
    expectGroup(
      chen,
      await expected(
        `${win} AND (county_adcode = '150725' OR (county_adcode IS NULL AND ST_Intersects(geom, ST_MakeEnvelope(118, 48, 120, 50, 4326))))`,
        [],
      ),
    );
    expect(chen.clues).toBe(5);
    const xin = s.by_county.find((g: { key: string }) => g.key === '150727');
    expect(xin).toMatchObject({ name: '新巴尔虎右旗', clues: 2, cases_filed: 1 });
    expect(s.by_county.find((g: { key: string }) => g.key === 'unknown')).toMatchObject({ clues: 1 });
    expect(CONFIRMED).toContain('closed');
    expect(FILED).not.toContain('confirmed');
  });

  it('filters by county', async () => {
    const s = (await app.inject('/stats?county=150727')).json();
    expect(s.totals.clues).toBe(3);
    expect(s.by_county).toHaveLength(1);
    expect(s.by_month.map((g: { key: string }) => g.key)).toEqual(['2024-12', '2025-08']);
    expect(s.totals.area_mu).toBeCloseTo(s.totals.area_ha * 15, 9);
  });

  it('rejects bad input with 400 and a code', async () => {
    for (const u of [
      '/stats?from=yesterday',
      '/stats?from=2025-02-30',
      '/stats?from=2025-08-01&to=2025-07-01',
      `/stats?county=${encodeURIComponent("150725' OR '1'='1")}`,
    ]) {
      const r = await app.inject(u);
      expect(r.statusCode, u).toBe(400);
      expect(r.json().code, u).toBe('VALIDATION');
    }
  });
});
