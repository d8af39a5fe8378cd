import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { sha256File } from '../adapters/files/hash.ts';
import { recordFailedScene, upsertDescriptor, upsertScene } from '../adapters/postgis/scene-store.ts';
import { openGeoTiff } from '../adapters/raster/geotiff-file.ts';
import { openSceneFolder, type SceneAsset, type SceneFolder } from '../adapters/raster/scene-folder.ts';
import { type LoadedItem, loadStac, type SearchParams, searchStacApi } from '../adapters/stac/client.ts';
import { isSkypatrolError, SkypatrolError } from '../core/errors.ts';
import { describeItem } from '../domain/catalog/stac.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { type Grid, gridBounds } from '../domain/geo/grid.ts';

export interface ImportReport {
  added: string[];
  failed: { id: string; code: string; message: string }[];
}

/** [west, south, east, north] in lon/lat of a grid in any supported CRS. */
export function lonLatBounds(grid: Grid): [number, number, number, number] {
  const f = toLonLatFn(grid.epsg);
  if (!f) throw new SkypatrolError('SCENE_CRS_UNSUPPORTED', `EPSG:${grid.epsg} is not a supported CRS`);
  const [x0, y0, x1, y1] = gridBounds(grid);
  const corners = [f(x0, y0), f(x0, y1), f(x1, y0), f(x1, y1)];
  return [
    Math.min(...corners.map((c) => c[0])),
    Math.min(...corners.map((c) => c[1])),
    Math.max(...corners.map((c) => c[0])),
    Math.max(...corners.map((c) => c[1])),
  ];
}

/** The catalog record of a scene folder (per-band GeoTIFFs). */
export function sceneFolderRecord(scene: SceneFolder, assets: SceneAsset[], grid: Grid) {
  return {
    id: scene.id,
    sensor: `${scene.sensor}-${scene.level.toLowerCase()}`,
    platform: scene.platform,
    datetime: scene.datetime,
    epsg: grid.epsg,
    bbox: lonLatBounds(grid),
    assets: Object.fromEntries(assets.map((a) => [a.band, { href: a.path, sha256: a.sha256 }])),
    source: scene.dir,
  };
}

/** HEAD a remote asset: 404 → missing band; network trouble is left for read time. */
async function remoteAssetMissing(href: string): Promise<boolean> {
  try {
    const res = await fetch(href, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    return res.status === 404 || res.status === 410;
  } catch {
    return false;
  }
}

async function importItems(
  pool: pg.Pool,
  loaded: LoadedItem[],
  source: string,
  verifyRemote = false,
): Promise<ImportReport> {
  const report: ImportReport = { added: [], failed: [] };
  // Each item stands alone: one bad item is recorded as failed and the rest go on.
  for (const { item, base } of loaded) {
    const id =
      typeof item?.id === 'string' ? item.id : `${source}#${report.added.length + report.failed.length}`;
    try {
      const d = describeItem(item, base);
      const sha: Record<string, string> = {};
      const hashed = new Map<string, string>(); // a multi-band file is hashed once
      for (const [band, a] of Object.entries(d.bands)) {
        if (!a!.href.startsWith('file:')) {
          if (verifyRemote && (await remoteAssetMissing(a!.href))) {
            throw new SkypatrolError(
              'SCENE_MISSING_BAND',
              `STAC item ${d.id}: asset "${a!.key}" (${band}) not found at ${a!.href}`,
            );
          }
          continue;
        }
        const path = fileURLToPath(a!.href);
        try {
          await access(path);
        } catch {
          throw new SkypatrolError(
            'SCENE_MISSING_BAND',
            `STAC item ${d.id}: asset "${a!.key}" (${band}) not found at ${path}`,
          );
        }
        sha[band] = hashed.get(path) ?? (await sha256File(path));
        hashed.set(path, sha[band]!);
      }
      if (d.mask.href?.startsWith('file:')) {
        try {
          await access(fileURLToPath(d.mask.href));
        } catch {
          throw new SkypatrolError(
            'SCENE_MISSING_BAND',
            `STAC item ${d.id}: mask asset "${d.mask.key}" not found`,
          );
        }
      }
      await upsertDescriptor(pool, d, base, item, sha);
      report.added.push(d.id);
    } catch (err) {
      if (!isSkypatrolError(err)) throw err;
      await recordFailedScene(pool, id, base, err.code, err.message);
      report.failed.push({ id, code: err.code, message: err.message });
    }
  }
  return report;
}

/**
 * `scenes add`: an Item, ItemCollection, or static Catalog/Collection (file or URL). Local
 * assets are always checked and hashed; remote ones are checked with HEAD when `verify`.
 */
export async function addStac(
  pool: pg.Pool,
  source: string,
  options: { verify?: boolean } = {},
): Promise<ImportReport> {
  return importItems(pool, await loadStac(source), source, options.verify);
}

/** Search a STAC API and catalogue what it returns. */
export async function addFromStacApi(
  pool: pg.Pool,
  api: string,
  params: SearchParams,
): Promise<ImportReport> {
  return importItems(pool, await searchStacApi(api, params), api);
}

/** `scenes import-folder`: a folder of per-band GeoTIFFs (e.g. OSCD imgs_1/). */
export async function importFolder(pool: pg.Pool, dir: string, sensor?: string): Promise<ImportReport> {
  const scene = await openSceneFolder(dir);
  if (sensor) {
    const m = /^sentinel-2-(l1c|l2a)$/.exec(sensor);
    if (!m)
      throw new SkypatrolError(
        'VALIDATION',
        `--sensor ${sensor}: folders of band files are read as sentinel-2-l1c or sentinel-2-l2a`,
      );
    scene.level = m[1]!.toUpperCase() as 'L1C' | 'L2A';
  }
  const assets: SceneAsset[] = [];
  let finest: Grid | null = null;
  for (const [band, path] of scene.files) {
    const r = await openGeoTiff(path);
    await r.close();
    if (!finest || r.grid.resX < finest.resX) finest = r.grid;
    assets.push({ band, path, sha256: await sha256File(path) });
  }
  await upsertScene(pool, sceneFolderRecord(scene, assets, finest!));
  return { added: [scene.id], failed: [] };
}
