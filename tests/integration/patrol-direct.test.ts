import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDetector } from '../../services/adapters/files/detector-registry.ts';
import { simulate } from '../../services/simulator/simulate.ts';
import { addStac } from '../../services/usecases/catalog.ts';
import { importZones } from '../../services/usecases/import-zones.ts';
import { patrolDirect } from '../../services/usecases/patrol-direct.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The demo path end to end on the small simulated region: simulate → catalogue → zones →
 * patrol every tile (composites of both windows, the change model, polygons, coverage).
 */
let db: TestDatabase;
let dir: string;
let aoi: { type: 'Polygon'; coordinates: number[][][] };

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-patrol-'));
  await simulate({ out: dir, size: 'small', seed: 7 });
  const col = JSON.parse(await readFile(join(dir, 'sentinel-2-l2a', 'collection.json'), 'utf8'));
  const [w, s, e, n] = col.extent.spatial.bbox[0];
  aoi = {
    type: 'Polygon',
    coordinates: [
      [
        [w, s],
        [e, s],
        [e, n],
        [w, n],
        [w, s],
      ],
    ],
  };
}, 120_000);
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describe('patrol of the simulated region (direct, without the queue)', () => {
  it('catalogues, imports zones, patrols every tile, stores clues in their county and the coverage', async () => {
    const cat = await addStac(db.pool, join(dir, 'catalog.json'));
    expect(cat.failed).toEqual([]);
    await importZones(db.pool, {
      file: join(dir, 'zoning', 'admin_division.geojson'),
      kind: 'admin_division',
    });
    const detector = await loadDetector('detectors', 'change', 1);
    const progress: number[] = [];
    try {
      const r = await patrolDirect(db.pool, {
        aoi,
        before: { from: '2024-06-01', to: '2024-06-30' },
        after: { from: '2025-06-01', to: '2025-08-31' },
        detector,
        sensors: ['sentinel-2-l2a'],
        actor: 'test',
        onTile: (done) => progress.push(done),
      });
      expect(r.tiles).toBeGreaterThan(0);
      expect(progress).toEqual(Array.from({ length: r.tiles }, (_, i) => i + 1));
      expect(r.tilesWithData).toBe(r.tiles);
      expect(r.failedScenes).toEqual([]);
      // About the 6 km × 6 km square is clear-observed in both windows.
      expect(r.coveredKm2).toBeGreaterThan(25);
      expect(r.coveredKm2).toBeLessThan(40);
      const run = await db.pool.query(
        'SELECT status, tiles_total, tiles_done FROM patrol_runs WHERE id = $1',
        [r.runId],
      );
      expect(run.rows[0]).toEqual({ status: 'done', tiles_total: r.tiles, tiles_done: r.tiles });
      const cov = await db.pool.query<{ km2: number }>(
        'SELECT ST_Area(ST_Union(coverage)::geography) / 1e6 AS km2 FROM patrol_tiles WHERE run_id = $1',
        [r.runId],
      );
      expect(cov.rows[0]!.km2).toBeCloseTo(r.coveredKm2, 0);
      expect(r.clueIds.length).toBeGreaterThan(0);
      const clues = await db.pool.query(
        'SELECT count(*)::int AS n, count(county_adcode)::int AS with_county, bool_and(ST_IsValid(geom)) AS valid FROM clues WHERE run_id = $1',
        [r.runId],
      );
      expect(clues.rows[0]).toEqual({ n: r.clueIds.length, with_county: r.clueIds.length, valid: true });
      // Planted damage found: truth events overlapped by a clue (reported, the floor is loose).
      const truth = JSON.parse(await readFile(join(dir, 'truth.geojson'), 'utf8'));
      const hits = await db.pool.query<{ hit: number; total: number }>(
        `SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM clues c WHERE c.run_id = $2 AND ST_Intersects(c.geom, t.g)))::int AS hit,
                count(*)::int AS total
           FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326) AS g
                   FROM jsonb_array_elements($1::jsonb->'features') f WHERE f->'properties'->>'expected' = 'clue') t`,
        [JSON.stringify(truth), r.runId],
      );
      expect(hits.rows[0]!.hit).toBeGreaterThan(0);
      console.log(
        `planted events found by the change detector: ${hits.rows[0]!.hit}/${hits.rows[0]!.total}; clues ${r.clueIds.length}`,
      );
    } finally {
      await detector.runner.release();
    }
  });
});
