import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type pg from 'pg';
import { simulate } from '../../services/simulator/simulate.ts';
import { addStac } from '../../services/usecases/catalog.ts';
import { importZones } from '../../services/usecases/import-zones.ts';

/**
 * The small simulated region (6 km × 6 km, four analysis tiles) for patrol tests: simulated
 * once per seed and machine into the temp directory (deterministic, so reusing it is safe),
 * then catalogued and zoned into a test's own database.
 */
export interface Region {
  dir: string;
  aoi: { type: 'Polygon'; coordinates: number[][][] };
  before: { from: string; to: string };
  after: { from: string; to: string };
}

export async function smallRegion(seed = 7): Promise<Region> {
  const dir = join(tmpdir(), `skypatrol-region-small-${seed}-v1`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    const tmp = `${dir}.${process.pid}.${Date.now()}`;
    await simulate({ out: tmp, size: 'small', seed });
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir).catch(async () => rm(tmp, { recursive: true, force: true }));
  }
  const col = JSON.parse(await readFile(join(dir, 'sentinel-2-l2a', 'collection.json'), 'utf8'));
  const [w, s, e, n] = col.extent.spatial.bbox[0] as number[];
  return {
    dir,
    aoi: {
      type: 'Polygon',
      coordinates: [
        [
          [w!, s!],
          [e!, s!],
          [e!, n!],
          [w!, n!],
          [w!, s!],
        ],
      ],
    },
    before: { from: '2024-06-01', to: '2024-06-30' },
    after: { from: '2025-06-01', to: '2025-08-31' },
  };
}

/** Catalogue the region's scenes and import every zoning layer into a database. */
export async function loadRegion(pool: pg.Pool, region: Region): Promise<void> {
  const cat = await addStac(pool, join(region.dir, 'catalog.json'));
  if (cat.failed.length) throw new Error(`catalog failed: ${JSON.stringify(cat.failed)}`);
  for (const f of (await readdir(join(region.dir, 'zoning'))).filter((n) => n.endsWith('.geojson')).sort())
    await importZones(pool, { file: join(region.dir, 'zoning', f), kind: basename(f, '.geojson') });
}
