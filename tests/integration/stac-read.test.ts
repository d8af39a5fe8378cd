import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tileForLonLat } from '../../services/domain/geo/analysis-grid.ts';
import { addStac, importFolder } from '../../services/usecases/catalog.ts';
import { compositeTile, readSceneOnTile, scenesForTile } from '../../services/usecases/read-tile.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, oscd } from '../support/shared-data.ts';

/**
 * Pixels through the whole catalog path: a Sentinel-2 L2A STAC item (raster:bands scaling,
 * an SCL asset with a burned-in cloud), read onto a 10 m UTM tile; a broken scene fails
 * alone and is marked failed in the catalog while the composite goes on.
 */
const HAS_GDAL = (() => {
  try {
    execFileSync('gdal_rasterize', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

let db: TestDatabase;
let dir: string;
const band = (id: string) =>
  join(oscd('paris', 'imgs_1'), readdirSync(oscd('paris', 'imgs_1')).find((n) => n.endsWith(`_${id}.tif`))!);
// A cloud over the part of the Paris crop inside the test tile (lon/lat).
const CLOUD = [2.335, 48.8, 2.35, 48.83];

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-stacread-'));
  if (!HAS_GDAL) return;
  // SCL: class 4 (vegetation) everywhere, class 9 (cloud, high probability) inside CLOUD.
  execFileSync('gdal_translate', [
    '-q',
    '-ot',
    'Byte',
    '-scale',
    '0',
    '65535',
    '4',
    '4',
    band('B04'),
    join(dir, 'scl.tif'),
  ]);
  const [w, s, e, n] = CLOUD;
  await writeFile(
    join(dir, 'cloud.geojson'),
    JSON.stringify({
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
    }),
  );
  execFileSync('gdal_rasterize', [
    '-q',
    '-b',
    '1',
    '-burn',
    '9',
    join(dir, 'cloud.geojson'),
    join(dir, 'scl.tif'),
  ]);
  // A truncated copy of the red band for the broken scene.
  const red = await readFile(band('B04'));
  await writeFile(join(dir, 'red-truncated.tif'), red.subarray(0, Math.floor(red.length / 2)));

  const item = (id: string, datetime: string, red: string) => ({
    type: 'Feature',
    stac_version: '1.0.0',
    id,
    collection: 'sentinel-2-l2a',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [2.31, 48.797],
          [2.356, 48.797],
          [2.356, 48.845],
          [2.31, 48.845],
          [2.31, 48.797],
        ],
      ],
    },
    bbox: [2.31, 48.797, 2.356, 48.845],
    properties: { datetime, platform: 'sentinel-2a', constellation: 'sentinel-2', 'eo:cloud_cover': 30 },
    assets: {
      red: { href: red, type: 'image/tiff', 'raster:bands': [{ scale: 0.0001, offset: -0.1, nodata: 0 }] },
      green: { href: band('B03'), type: 'image/tiff' },
      blue: { href: band('B02'), type: 'image/tiff' },
      nir: { href: band('B08'), type: 'image/tiff' },
      scl: { href: join(dir, 'scl.tif'), type: 'image/tiff' },
    },
  });
  await writeFile(
    join(dir, 'items.json'),
    JSON.stringify({
      type: 'FeatureCollection',
      features: [
        item('S2A_L2A_GOOD', '2023-06-01T10:56:00Z', band('B04')),
        item('S2A_L2A_BROKEN', '2023-06-10T10:56:00Z', join(dir, 'red-truncated.tif')),
      ],
    }),
  );
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describeShared('reading STAC scenes onto the analysis grid', () => {
  it('applies raster:bands scaling and masks the SCL cloud', async () => {
    if (!HAS_GDAL) {
      if (process.env.CI === 'true') throw new Error('gdal-bin is missing under CI (npm test installs it)');
      return;
    }
    const report = await addStac(db.pool, join(dir, 'items.json'));
    expect(report.added.sort()).toEqual(['S2A_L2A_BROKEN', 'S2A_L2A_GOOD']);
    await importFolder(db.pool, oscd('paris', 'imgs_1')); // the same pixels as L1C, offset 0

    const tile = tileForLonLat(2.333, 48.821);
    const scenes = await scenesForTile(db.pool, tile, { from: '2016-01-01', to: '2023-06-05' });
    const l2a = scenes.find((s) => s.id === 'S2A_L2A_GOOD')!;
    const l1c = scenes.find((s) => s.sensor === 'sentinel-2-l1c')!;
    const a = (await readSceneOnTile(l2a, tile, ['red', 'nir']))!;
    const b = (await readSceneOnTile(l1c, tile, ['red', 'nir']))!;

    const g = tile.grid;
    let inCloud = 0;
    let clear = 0;
    for (let row = 0; row < g.height; row += 3) {
      for (let col = 0; col < g.width; col += 3) {
        const i = row * g.width + col;
        if (Number.isNaN(b.bands.red![i]!)) continue; // outside the crop
        // Same DNs: the L2A reading is the L1C reading minus the item's −0.1 offset.
        expect(a.bands.red![i]!).toBeCloseTo(b.bands.red![i]! - 0.1, 5);
        if (a.valid[i]) clear++;
        else inCloud++;
      }
    }
    expect(clear).toBeGreaterThan(1000);
    expect(inCloud).toBeGreaterThan(1000);
  });

  it('a scene outside the tile reads as nothing', async () => {
    const [scene] = await scenesForTile(db.pool, tileForLonLat(2.333, 48.821), {
      from: '2023-06-01',
      to: '2023-06-01',
    });
    expect(await readSceneOnTile(scene!, tileForLonLat(119.5, 49.2), ['red'])).toBeNull();
  });

  it('a broken scene fails alone: the composite uses the rest and the catalog records the reason', async () => {
    const tile = tileForLonLat(2.333, 48.821);
    const c = await compositeTile(db.pool, tile, { from: '2023-05-01', to: '2023-06-30' }, ['red', 'nir']);
    expect(c!.scenes).toEqual(['S2A_L2A_GOOD']);
    expect(c!.failed).toEqual([
      {
        sceneId: 'S2A_L2A_BROKEN',
        code: 'SCENE_CORRUPT',
        message: expect.stringContaining('red-truncated.tif'),
      },
    ]);
    const { rows } = await db.pool.query("SELECT status, error_code FROM scenes WHERE id = 'S2A_L2A_BROKEN'");
    expect(rows[0]).toEqual({ status: 'failed', error_code: 'SCENE_CORRUPT' });
    // A failed scene is no longer offered to later reads.
    const again = await compositeTile(db.pool, tile, { from: '2023-05-01', to: '2023-06-30' }, [
      'red',
      'nir',
    ]);
    expect(again!.failed).toEqual([]);
  });
});
