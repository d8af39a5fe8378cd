import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openGeoTiff } from '../../services/adapters/raster/geotiff-file.ts';
import { readPlainTiff } from '../../services/adapters/raster/plain-tiff.ts';
import { polygonize } from '../../services/domain/detectors/polygonize.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, oscd } from '../support/shared-data.ts';

/**
 * The first real slice on real Sentinel-2 pairs: `skypatrol detect` writes valid EPSG:4326
 * polygons that overlap OSCD's labelled change, and `--store` puts them in PostGIS.
 */
let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-detect-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

/** OSCD's label raster as polygons on the 10 m band grid (the mask itself has no georeferencing). */
async function labelPolygons(city: string): Promise<unknown> {
  const cm = await readPlainTiff(join(oscd(city, 'cm'), `${city}-cm.tif`));
  const files = readdirB02(city);
  const ref = await openGeoTiff(files);
  await ref.close();
  const g = ref.grid;
  expect([cm.width, cm.height]).toEqual([g.width, g.height]);
  const probability = Float32Array.from(cm.data as ArrayLike<number>, (v) => (v === 2 ? 1 : 0));
  const polys = polygonize({
    width: g.width,
    height: g.height,
    probability,
    threshold: 0.5,
    minAreaM2: 0,
    toLonLat: (x, y) => [g.originX + x * g.resX, g.originY - y * g.resY],
  });
  return { type: 'MultiPolygon', coordinates: polys.flatMap((p) => p.coordinates) };
}

function readdirB02(city: string): string {
  const name = readdirSync(oscd(city, 'imgs_1')).find((n) => n.endsWith('_B02.tif'))!;
  return join(oscd(city, 'imgs_1'), name);
}

describeShared('skypatrol detect on OSCD pairs', () => {
  for (const city of ['paris', 'bercy']) {
    it(`${city}: writes valid EPSG:4326 polygons that overlap the labelled change, and stores them`, async () => {
      const out = join(dir, `${city}.geojson`);
      const r = await runCli(
        [
          'detect',
          '--before',
          oscd(city, 'imgs_1'),
          '--after',
          oscd(city, 'imgs_2'),
          '--detector',
          'change',
          '--out',
          out,
          '--store',
        ],
        { DATABASE_URL: db.url },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/polygons/);

      const fc = JSON.parse(readFileSync(out, 'utf8'));
      expect(fc.type).toBe('FeatureCollection');
      expect(fc.features.length).toBeGreaterThan(0);
      for (const f of fc.features) {
        expect(f.geometry.type).toBe('MultiPolygon');
        expect(f.properties).toMatchObject({ scenario: 'change', status: 'new', detector: 'change' });
        expect(f.properties.confidence).toBeGreaterThan(0);
        expect(f.properties.confidence).toBeLessThanOrEqual(1);
        expect(f.properties.area_mu).toBeCloseTo(f.properties.area_m2 / 666.6667, 1);
        // EPSG:4326 coordinates inside the scene footprint (Paris/Bercy: ~2.3°E, 48.8°N).
        const [lon, lat] = f.geometry.coordinates[0][0][0];
        expect(lon).toBeGreaterThan(2);
        expect(lon).toBeLessThan(2.6);
        expect(lat).toBeGreaterThan(48.7);
        expect(lat).toBeLessThan(49);
      }

      // Every written polygon is valid for PostGIS, and its printed area matches ST_Area(geography).
      const check = await db.pool.query<{ valid: boolean; area: number; printed: number }>(
        `SELECT ST_IsValid(g) AS valid, ST_Area(g::geography) AS area, (f->'properties'->>'area_m2')::float AS printed
           FROM jsonb_array_elements($1::jsonb->'features') f, LATERAL (SELECT ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326) AS g) x`,
        [JSON.stringify(fc)],
      );
      for (const row of check.rows) {
        expect(row.valid).toBe(true);
        expect(Math.abs(row.area - row.printed) / row.area).toBeLessThan(0.005);
      }

      // Overlap with the labelled change.
      const labels = await labelPolygons(city);
      const overlap = await db.pool.query<{ hits: number }>(
        `SELECT count(*)::int AS hits FROM jsonb_array_elements($1::jsonb->'features') f
          WHERE ST_Intersects(ST_SetSRID(ST_GeomFromGeoJSON(f->'geometry'), 4326), ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)))`,
        [JSON.stringify(fc), JSON.stringify(labels)],
      );
      expect(overlap.rows[0]!.hits).toBeGreaterThan(0);

      // --store: the same polygons are clues with a `created` event and scene provenance.
      const stored = await db.pool.query(
        `SELECT c.id, c.before_scene, c.after_scene, c.inputs, e.kind, e.actor
           FROM clues c JOIN clue_events e ON e.clue_id = c.id
          WHERE c.after_scene = $1`,
        [fc.features[0].properties.after_scene],
      );
      expect(stored.rowCount).toBe(fc.features.length);
      expect(stored.rows[0]).toMatchObject({ kind: 'created', actor: 'cli' });
      expect(Object.keys(stored.rows[0].inputs.after)).toEqual(expect.arrayContaining(['red', 'nir']));
      const scenes = await db.pool.query('SELECT id, sensor, epsg FROM scenes ORDER BY datetime');
      expect(scenes.rows.map((s) => s.sensor)).toContain('sentinel-2-l1c');
      expect(existsSync(`${out}.tmp-${process.pid}`)).toBe(false);
    });
  }
});
