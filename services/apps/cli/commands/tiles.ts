import { readFile, writeFile } from 'node:fs/promises';
import { encodePng } from '../../../adapters/image/encode.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { tileById, tileIdsForAoi, tileSpanM } from '../../../domain/geo/analysis-grid.ts';
import { aoiFromGeoJson } from '../../../domain/geo/aoi.ts';
import { CANONICAL_BANDS, type CanonicalBand } from '../../../domain/imagery/bands.ts';
import { stretchToRgba } from '../../../domain/imagery/render.ts';
import { compositeTile } from '../../../usecases/read-tile.ts';

async function readAoi(file: string) {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'not valid JSON';
    throw new SkypatrolError('VALIDATION', `AOI file ${file}: ${code}`);
  }
  return aoiFromGeoJson(doc);
}

/** `tiles list --aoi f.geojson`: the analysis-grid tiles covering an area. */
export async function tilesListCommand(
  _config: Config,
  opts: { aoi: string; json?: boolean },
): Promise<void> {
  const aoi = await readAoi(opts.aoi);
  const ids = tileIdsForAoi(aoi);
  if (opts.json) {
    console.log(JSON.stringify(ids));
    return;
  }
  const zones = new Map<string, number>();
  for (const id of ids) zones.set(id.slice(0, 3), (zones.get(id.slice(0, 3)) ?? 0) + 1);
  for (const id of ids) console.log(id);
  const km2 = (ids.length * tileSpanM() ** 2) / 1e6;
  console.log(
    `${ids.length} tiles (${[...zones].map(([z, n]) => `${z}: ${n}`).join(', ')}), ${km2.toFixed(0)} km² of tile area`,
  );
}

/** `tiles read <id> --from --to`: composite a tile from the catalog, report coverage, optionally a PNG. */
export async function tilesReadCommand(
  config: Config,
  id: string,
  opts: {
    from: string;
    to: string;
    sensors?: string;
    method?: 'best' | 'median';
    png?: string;
    bands?: string;
  },
): Promise<void> {
  let tile: ReturnType<typeof tileById>;
  try {
    tile = tileById(id);
  } catch (err) {
    throw new SkypatrolError('VALIDATION', `tile id "${id}": ${(err as Error).message}`);
  }
  const bands = (opts.bands ?? 'blue,green,red,nir').split(',').map((b) => b.trim());
  for (const b of bands) {
    if (!(CANONICAL_BANDS as readonly string[]).includes(b))
      throw new SkypatrolError('VALIDATION', `unknown band "${b}"`);
  }
  const pool = createPool(config.databaseUrl, 2);
  try {
    const c = await compositeTile(pool, tile, { from: opts.from, to: opts.to }, bands as CanonicalBand[], {
      method: opts.method ?? 'best',
      ...(opts.sensors ? { sensors: opts.sensors.split(',') } : {}),
    });
    if (!c) {
      console.log(`${tile.id}: no catalogued scene covers it between ${opts.from} and ${opts.to}`);
      process.exitCode = 1;
      return;
    }
    let valid = 0;
    for (const v of c.valid) valid += v;
    const n = c.valid.length;
    console.log(`${tile.id} (EPSG:${tile.epsg}, ${tile.grid.width}×${tile.grid.height} px at 10 m)`);
    console.log(`scenes used: ${c.scenes.join(', ')}`);
    for (const f of c.failed) console.log(`scene failed: ${f.sceneId}: ${f.code}: ${f.message}`);
    console.log(
      `clear observed: ${((100 * valid) / n).toFixed(1)} % (${((valid * 100) / 1e6).toFixed(2)} km²)`,
    );
    if (opts.png) {
      const [r, g, b] = ['red', 'green', 'blue'].map((k) => c.bands[k]);
      if (!r || !g || !b) throw new SkypatrolError('VALIDATION', '--png needs the red, green and blue bands');
      await writeFile(opts.png, await encodePng(stretchToRgba(r, g, b), tile.grid.width, tile.grid.height));
      console.log(`true colour → ${opts.png}`);
    }
  } finally {
    await pool.end();
  }
}
