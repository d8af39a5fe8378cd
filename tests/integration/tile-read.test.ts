import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readPlainTiff } from '../../services/adapters/raster/plain-tiff.ts';
import { tileForLonLat } from '../../services/domain/geo/analysis-grid.ts';
import { importFolder } from '../../services/usecases/catalog.ts';
import { compositeTile, readSceneOnTile, scenesForTile } from '../../services/usecases/read-tile.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, oscd, SHARED_DATA } from '../support/shared-data.ts';

/**
 * A tile of the analysis grid (10 m, UTM) read from a real Sentinel-2 scene folder in
 * EPSG:4326 agrees with GDAL's gdalwarp of the same window.
 */
const HAS_GDAL = (() => {
  try {
    execFileSync('gdalwarp', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-tile-'));
});
afterAll(async () => {
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

const bandFile = (city: string, which: 'imgs_1' | 'imgs_2', id: string) =>
  join(oscd(city, which), readdirSync(oscd(city, which)).find((n) => n.endsWith(`_${id}.tif`))!);

describeShared('reading a tile of the analysis grid', () => {
  it('matches gdalwarp (bilinear, UTM 31N, 10 m) within 1% mean absolute difference', async () => {
    if (!HAS_GDAL) {
      if (process.env.CI === 'true') throw new Error('gdal-bin is missing under CI (npm test installs it)');
      return;
    }
    await importFolder(db.pool, oscd('paris', 'imgs_1'));
    const tile = tileForLonLat(2.333, 48.821);
    expect(tile.epsg).toBe(32631);
    const [scene] = await scenesForTile(db.pool, tile, { from: '2016-11-01', to: '2016-12-31' });
    expect(scene).toBeDefined();
    const read = await readSceneOnTile(scene!, tile, ['red', 'nir', 'swir16']);
    expect(read).not.toBeNull();

    for (const [band, id] of [
      ['red', 'B04'],
      ['swir16', 'B11'],
    ] as const) {
      const g = tile.grid;
      const out = join(dir, `${band}.tif`);
      execFileSync('gdalwarp', [
        '-q',
        '-overwrite',
        '-t_srs',
        `EPSG:${g.epsg}`,
        '-te',
        String(g.originX),
        String(g.originY - g.height * g.resY),
        String(g.originX + g.width * g.resX),
        String(g.originY),
        '-ts',
        String(g.width),
        String(g.height),
        '-r',
        'bilinear',
        '-srcnodata',
        '0',
        '-dstnodata',
        '0',
        '-ot',
        'Float32',
        bandFile('paris', 'imgs_1', id),
        out,
      ]);
      const ref = await readPlainTiff(out);
      expect([ref.width, ref.height]).toEqual([g.width, g.height]);
      const ours = read!.bands[band]!;
      let sumAbs = 0;
      let sumRef = 0;
      let n = 0;
      let onlyOurs = 0;
      let onlyRef = 0;
      for (let i = 0; i < ours.length; i++) {
        const a = ours[i]!;
        const r = ref.data[i]! / 10000;
        const aValid = !Number.isNaN(a);
        const rValid = ref.data[i]! !== 0;
        if (aValid && rValid) {
          sumAbs += Math.abs(a - r);
          sumRef += Math.abs(r);
          n++;
        } else if (aValid) onlyOurs++;
        else if (rValid) onlyRef++;
      }
      expect(n).toBeGreaterThan(50_000);
      // Footprints agree to a thin edge, and values to well under 1 %.
      expect((onlyOurs + onlyRef) / n).toBeLessThan(0.02);
      expect(sumAbs / sumRef).toBeLessThan(0.01);
    }
  });

  it('reads a Landsat scene in UTM 18N (300 m pixels) onto a 10 m tile like gdalwarp, with nodata invalid', async () => {
    if (!HAS_GDAL) {
      if (process.env.CI === 'true') throw new Error('gdal-bin is missing under CI (npm test installs it)');
      return;
    }
    const file = join(SHARED_DATA, 'real/landsat7-rgb-byte-utm18n.tif');
    const tile = tileForLonLat(-77.5, 24.5);
    expect(tile.epsg).toBe(32618);
    const scene = {
      id: 'LE07_TEST',
      sensor: 'landsat-c2-l2' as const,
      datetime: new Date('2001-07-21T15:30:00Z'),
      assets: { red: { href: file, index: 0, declaredBands: 3 } },
      mask: {},
    };
    const read = (await readSceneOnTile(scene, tile, ['red']))!;
    const g = tile.grid;
    const out = join(dir, 'landsat-red.tif');
    execFileSync('gdalwarp', [
      '-q',
      '-overwrite',
      '-t_srs',
      'EPSG:32618',
      '-te',
      String(g.originX),
      String(g.originY - g.height * g.resY),
      String(g.originX + g.width * g.resX),
      String(g.originY),
      '-ts',
      String(g.width),
      String(g.height),
      '-r',
      'bilinear',
      '-ot',
      'Float32',
      file,
      out,
    ]);
    const ref = await readPlainTiff(out);
    let sumAbs = 0;
    let sumRef = 0;
    let n = 0;
    let invalid = 0;
    for (let i = 0; i < g.width * g.height; i++) {
      const ours = read.bands.red![i]!;
      if (Number.isNaN(ours)) {
        invalid++;
        continue;
      }
      const dn = (ours + 0.2) / 0.0000275;
      sumAbs += Math.abs(dn - ref.data[i]!);
      sumRef += ref.data[i]!;
      n++;
    }
    expect(n).toBeGreaterThan(500_000);
    expect(sumAbs / sumRef).toBeLessThan(0.01);
    expect(invalid + n).toBe(g.width * g.height);
  });

  it('composites two dates: clear pixels counted, the newest chosen, unobserved pixels invalid', async () => {
    await importFolder(db.pool, oscd('paris', 'imgs_1'));
    await importFolder(db.pool, oscd('paris', 'imgs_2'));
    const tile = tileForLonLat(2.333, 48.821);
    const c = await compositeTile(db.pool, tile, { from: '2016-01-01', to: '2017-12-31' }, [
      'blue',
      'green',
      'red',
      'nir',
    ]);
    expect(c).not.toBeNull();
    expect(c!.scenes).toHaveLength(2);
    const counts = new Map<number, number>();
    for (const v of c!.count) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect(counts.get(2)).toBeGreaterThan(50_000);
    expect(counts.get(0)).toBeGreaterThan(100_000); // the tile reaches beyond the OSCD crop
    const newest = Math.floor(Date.UTC(2017, 10, 7) / 86_400_000);
    let checked = 0;
    let badUnobserved = 0;
    let badDate = 0;
    for (let i = 0; i < c!.count.length; i++) {
      if (c!.count[i] === 0) {
        if (c!.valid[i] !== 0 || c!.date[i] !== -1 || !Number.isNaN(c!.bands.red![i]!)) badUnobserved++;
      } else if (c!.count[i] === 2) {
        if (c!.date[i] !== newest) badDate++;
        checked++;
      }
    }
    expect(badUnobserved).toBe(0);
    expect(badDate).toBe(0);
    expect(checked).toBeGreaterThan(0);
  });
});
