import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LoadedDetector,
  listDetectorIds,
  loadDetector,
  releaseDetector,
} from '../../services/adapters/files/detector-registry.ts';
import { type AnalysisTile, tileForLonLat } from '../../services/domain/geo/analysis-grid.ts';
import { DEFAULT_CENTER } from '../../services/simulator/region.ts';
import { simulate } from '../../services/simulator/simulate.ts';
import { addStac } from '../../services/usecases/catalog.ts';
import {
  bandsFor,
  detectTile,
  probabilitiesFor,
  requiredBandsFor,
  zonesForTile,
} from '../../services/usecases/detect-tile.ts';
import { importZones } from '../../services/usecases/import-zones.ts';
import { compositeTile, type TileComposite } from '../../services/usecases/read-tile.ts';
import { ROOT } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/**
 * The patrol's multi-detector runtime on a simulated region in a real PostGIS: zoning imported
 * with the project's importer, scenes catalogued from the STAC the simulator writes, one
 * composite per window for all nine detectors, zoning rules applied from `zones`.
 */
const WINDOWS = {
  before: { from: '2024-06-01', to: '2024-06-30' },
  after: { from: '2025-06-01', to: '2025-08-31' },
};

let db: TestDatabase;
let dir: string;
let detectors: LoadedDetector[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-detect-tile-'));
  await simulate({ out: dir, seed: 7, size: 'small' });
  for (const f of (await readdir(join(dir, 'zoning'))).filter((n) => n.endsWith('.geojson'))) {
    await importZones(db.pool, { file: join(dir, 'zoning', f), kind: f.replace('.geojson', '') });
  }
  await addStac(db.pool, join(dir, 'catalog.json'));
  const ids = await listDetectorIds(join(ROOT, 'detectors'));
  for (const id of ids) detectors.push(await loadDetector(join(ROOT, 'detectors'), id, 1));
}, 120_000);

afterAll(async () => {
  for (const d of detectors) await releaseDetector(d);
  detectors = [];
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The default centre's tile and its Sentinel-2 composites of both windows, read once for the tests below. */
let s2Pair:
  | Promise<{ tile: AnalysisTile; before: TileComposite | null; after: TileComposite | null }>
  | undefined;
function sentinel2Pair() {
  s2Pair ??= (async () => {
    const tile = tileForLonLat(DEFAULT_CENTER[0], DEFAULT_CENTER[1]);
    const bands = bandsFor(detectors);
    const opts = { sensors: ['sentinel-2-l2a'] };
    return {
      tile,
      before: await compositeTile(db.pool, tile, WINDOWS.before, bands, opts),
      after: await compositeTile(db.pool, tile, WINDOWS.after, bands, opts),
    };
  })();
  return s2Pair;
}

describe('detectTile', () => {
  it('reads the union of bands once and needs only the required ones', () => {
    expect(bandsFor(detectors)).toEqual(['blue', 'green', 'red', 'nir', 'swir16', 'swir22']);
    expect(requiredBandsFor(detectors)).toEqual(['blue', 'green', 'red', 'nir']);
  });

  it('runs every detector on one tile: valid polygons, scenario, priority, zones; lawful changes dropped', async () => {
    const { tile, before, after } = await sentinel2Pair();
    expect(before && after).toBeTruthy();
    const zones = await zonesForTile(db.pool, tile, detectors);
    const kinds = new Set(zones.features.map((z) => z.kind));
    expect(kinds.has('mining_permit')).toBe(true);
    expect(kinds.has('admin_division')).toBe(false); // no rule uses it
    const { features, dropped } = await detectTile({
      tile,
      before: before!,
      after: after!,
      detectors,
      zones,
      windows: WINDOWS,
    });
    expect(features.length).toBeGreaterThan(3);
    const ids = new Set(detectors.map((d) => d.manifest.id));
    for (const f of features) {
      expect(ids.has(f.properties.scenario)).toBe(true);
      expect(f.properties.priority).toBeGreaterThanOrEqual(0);
      expect(f.properties.priority).toBeLessThanOrEqual(3);
      expect(Array.isArray(f.properties.zones)).toBe(true);
      expect(f.properties.area_m2).toBeGreaterThanOrEqual(
        detectors.find((d) => d.manifest.id === f.properties.scenario)!.manifest.minAreaM2,
      );
    }
    // Scenario clues carry the zoning feature they concern (inside rules: the layer they are in).
    for (const f of features.filter((x) => x.properties.scenario === 'forest-encroachment'))
      expect(
        f.properties.zones!.every((z) => z.kind === 'forest_land') && f.properties.zones!.length > 0,
      ).toBe(true);
    // Every polygon is valid in PostGIS.
    const { rows } = await db.pool.query<{ ok: boolean }>(
      'SELECT bool_and(ST_IsValid(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))) AS ok FROM unnest($1::text[]) g',
      [features.map((f) => JSON.stringify(f.geometry))],
    );
    expect(rows[0]!.ok).toBe(true);
    // Rules removed something (lawful changes inside valid permits, changes outside the layers).
    expect(dropped.reduce((s, d) => s + d.count, 0)).toBeGreaterThan(0);
    // No mine clue lies inside the valid mining permit.
    const { rows: inside } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM unnest($1::text[]) g, zones z
        WHERE z.kind = 'mining_permit' AND ST_Area(ST_Intersection(z.geom, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))::geography) > 50`,
      [features.filter((f) => f.properties.scenario === 'mine').map((f) => JSON.stringify(f.geometry))],
    );
    expect(inside[0]!.n).toBe(0);
  }, 120_000);

  it('skips detectors whose zoning rule can keep nothing on the tile, with the same clues as running them', async () => {
    const pair = await sentinel2Pair();
    const { tile } = pair;
    const before = pair.before!;
    const after = pair.after!;
    const all = await zonesForTile(db.pool, tile, detectors);
    // As on a tile far from the lake, the river and the reserve: only permits and forest around.
    const zones = {
      features: all.features.filter((z) => z.kind === 'mining_permit' || z.kind === 'forest_land'),
    };
    expect(zones.features.some((z) => z.kind === 'forest_land')).toBe(true);
    const run = (gate: boolean) =>
      detectTile({ tile, before, after, detectors, zones, windows: WINDOWS, gate });
    const gated = await run(true);
    const full = await run(false);
    // `inside` rules without their layer, and temporary-land (no farther than 50 m from a
    // permit) without a permit: their models do not run; mine (outside permits), forest
    // (its layer is here) and change (no rule) do.
    expect(gated.skipped.sort()).toEqual(
      ['black-soil', 'grassland', 'hulun-lake', 'river', 'temporary-land', 'wetland'].sort(),
    );
    expect(full.skipped).toEqual([]);
    expect(gated.features.length).toBeGreaterThan(0);
    expect(JSON.stringify(gated.features)).toBe(JSON.stringify(full.features));
    // With the tile's real zones, only detectors whose layer is absent are skipped.
    const present = new Set(all.features.map((z) => z.kind));
    const layerOf = (id: string) => detectors.find((d) => d.manifest.id === id)!.manifest.zoning.layer;
    const real = await detectTile({ tile, before, after, detectors, zones: all, windows: WINDOWS });
    for (const id of real.skipped) expect(present.has(layerOf(id)!), id).toBe(false);
    expect(real.skipped).not.toContain('forest-encroachment');
  }, 120_000);

  it('one fused ONNX session gives exactly the probabilities of nine separate ones, with and without SWIR', async () => {
    const pair = await sentinel2Pair();
    const { tile } = pair;
    const s2Before = pair.before!;
    const s2After = pair.after!;
    // As from a sensor without SWIR (GF-1/6): detectors with a no-SWIR model switch to it.
    const noSwir = (c: typeof s2After) => {
      const { swir16: _a, swir22: _b, ...rest } = c.bands;
      return { ...c, bands: rest };
    };
    const cases = [
      { before: s2Before, after: s2After, fallback: false },
      { before: s2Before, after: noSwir(s2After), fallback: true },
    ];
    let compared = 0;
    for (const { before, after, fallback } of cases) {
      const { width, height } = tile.grid;
      const fused = await probabilitiesFor(detectors, before, after, width, height);
      const alone = await probabilitiesFor(detectors, before, after, width, height, { fuse: false });
      expect([...fused.keys()].sort()).toEqual(detectors.map((d) => d.manifest.id).sort());
      for (const d of detectors) {
        const a = fused.get(d.manifest.id)!;
        const b = alone.get(d.manifest.id)!;
        expect(a.fallback).toBe(b.fallback);
        let maxDiff = 0;
        for (let i = 0; i < a.probability.length; i++)
          maxDiff = Math.max(maxDiff, Math.abs(a.probability[i]! - b.probability[i]!));
        expect(maxDiff, d.manifest.id).toBeLessThan(1e-5);
      }
      expect([...fused.values()].some((p) => p.fallback)).toBe(fallback);
      compared++;
    }
    expect(compared).toBe(2);
  }, 180_000);

  it('composites newest first and stops reading once older scenes cannot add a pixel: the same pixels as reading every scene', async () => {
    const tile = tileForLonLat(DEFAULT_CENTER[0], DEFAULT_CENTER[1]);
    const bands = bandsFor(detectors);
    let skipped = 0;
    for (const window of [WINDOWS.before, WINDOWS.after]) {
      const opts = { sensors: ['sentinel-2-l2a'] };
      const lazy = (await compositeTile(db.pool, tile, window, bands, opts))!;
      const all = (await compositeTile(db.pool, tile, window, bands, { ...opts, readAll: true }))!;
      // Wherever the lazy composite has a pixel, it is the one reading everything gives.
      let validAll = 0;
      let lost = 0;
      for (let p = 0; p < all.valid.length; p++) {
        if (all.valid[p]) validAll++;
        if (!lazy.valid[p]) {
          if (all.valid[p]) lost++;
          continue;
        }
        expect(all.valid[p]).toBe(1);
        expect(lazy.date[p]).toBe(all.date[p]);
        for (const b of bands)
          if (lazy.bands[b]![p] !== all.bands[b]![p]) expect.fail(`${b} differs at ${p}`);
      }
      // At most a rim of a pixel at the edge of older footprints is left unread.
      expect(lost).toBeLessThan(validAll * 0.01);
      // The scenes used are the newest ones, oldest first.
      expect(lazy.scenes).toEqual(all.scenes.slice(all.scenes.length - lazy.scenes.length));
      skipped += all.scenes.length - lazy.scenes.length;
    }
    expect(skipped).toBeGreaterThan(0);
  }, 120_000);
});
