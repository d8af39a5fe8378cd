import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../services/adapters/postgis/migrate.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const square = (x: number, y: number, d = 0.001) =>
  JSON.stringify({
    type: 'MultiPolygon',
    coordinates: [
      [
        [
          [x, y],
          [x + d, y],
          [x + d, y + d],
          [x, y + d],
          [x, y],
        ],
      ],
    ],
  });

async function insertClue(geojson: string): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, detector, model_version)
     VALUES ('change', 0.9, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326), 100, '2024-06-01', '2024-06-01', 'change', '0.1.0')
     RETURNING id`,
    [geojson],
  );
  return rows[0]!.id;
}

describe('schema', () => {
  it('has the tables of the first schema with spatial indexes', async () => {
    const { rows } = await db.pool.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    const tables = rows.map((r) => r.tablename);
    for (const t of [
      'scenes',
      'zones',
      'zone_imports',
      'patrol_runs',
      'patrol_tiles',
      'clues',
      'clue_events',
      'pgmigrations',
    ]) {
      expect(tables).toContain(t);
    }
    const gist = await db.pool.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'",
    );
    expect(gist.rows.map((r) => r.indexname)).toEqual(
      expect.arrayContaining([
        'clues_geom_gix',
        'scenes_footprint_gix',
        'zones_geom_gix',
        'patrol_tiles_bounds_gix',
      ]),
    );
  });

  it('records migrations and applies nothing twice', async () => {
    const applied = await migrate(db.url);
    expect(applied).toEqual([]);
    const { rows } = await db.pool.query('SELECT name FROM pgmigrations');
    expect(rows.length).toBeGreaterThanOrEqual(1);
  });

  it('stores clue geometry as MultiPolygon in EPSG:4326 and derives ha and mu from m²', async () => {
    const id = await insertClue(square(120, 49));
    const { rows } = await db.pool.query(
      'SELECT ST_SRID(geom) AS srid, GeometryType(geom) AS type, area_ha, area_mu FROM clues WHERE id = $1',
      [id],
    );
    expect(rows[0]).toMatchObject({ srid: 4326, type: 'MULTIPOLYGON', area_ha: 0.01 });
    expect(rows[0].area_mu).toBeCloseTo(0.15, 10);
  });

  it('refuses an invalid (self-intersecting) clue geometry', async () => {
    const bowtie = JSON.stringify({
      type: 'MultiPolygon',
      coordinates: [
        [
          [
            [0, 0],
            [1, 1],
            [1, 0],
            [0, 1],
            [0, 0],
          ],
        ],
      ],
    });
    await expect(insertClue(bowtie)).rejects.toThrow(/check constraint/);
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the clue event log', async () => {
    const id = await insertClue(square(121, 49));
    await db.pool.query(
      "INSERT INTO clue_events (clue_id, actor, kind, to_status) VALUES ($1, 'test', 'created', 'new')",
      [id],
    );
    await expect(
      db.pool.query("UPDATE clue_events SET actor = 'mallory' WHERE clue_id = $1", [id]),
    ).rejects.toThrow(/append-only/);
    await expect(db.pool.query('DELETE FROM clue_events WHERE clue_id = $1', [id])).rejects.toThrow(
      /append-only/,
    );
    await expect(db.pool.query('TRUNCATE clue_events CASCADE')).rejects.toThrow(/append-only/);
    const { rows } = await db.pool.query('SELECT actor FROM clue_events WHERE clue_id = $1', [id]);
    expect(rows).toEqual([{ actor: 'test' }]);
  });

  it('refuses a dismissal without a reason', async () => {
    const id = await insertClue(square(122, 49));
    await expect(db.pool.query("UPDATE clues SET status = 'dismissed' WHERE id = $1", [id])).rejects.toThrow(
      /check constraint/,
    );
  });
});
