import { createPool } from '../../../adapters/postgis/pool.ts';
import { type SceneRow, searchScenes } from '../../../adapters/postgis/scene-store.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { addFromStacApi, addStac, type ImportReport, importFolder } from '../../../usecases/catalog.ts';
import { parseBbox } from '../../api/routes/params.ts';

async function withPool<T>(
  config: Config,
  fn: (pool: ReturnType<typeof createPool>) => Promise<T>,
): Promise<T> {
  const pool = createPool(config.databaseUrl, 2);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

function printReport(r: ImportReport): void {
  for (const f of r.failed) console.error(`failed ${f.id}: ${f.code}: ${f.message}`);
  console.log(
    `${r.added.length} scene(s) catalogued${r.failed.length ? `, ${r.failed.length} failed (recorded with their reason)` : ''}`,
  );
  if (r.failed.length && !r.added.length) process.exitCode = 1;
}

export async function scenesAddCommand(
  config: Config,
  source: string,
  opts: { verify?: boolean } = {},
): Promise<void> {
  printReport(await withPool(config, (pool) => addStac(pool, source, { verify: !!opts.verify })));
}

export async function scenesImportFolderCommand(
  config: Config,
  dir: string,
  opts: { sensor?: string },
): Promise<void> {
  printReport(await withPool(config, (pool) => importFolder(pool, dir, opts.sensor)));
}

export async function scenesSearchApiCommand(
  config: Config,
  api: string,
  opts: { bbox?: string; datetime?: string; collections?: string; limit?: number; max?: number },
): Promise<void> {
  const report = await withPool(config, (pool) =>
    addFromStacApi(pool, api, {
      ...(opts.bbox ? { bbox: parseBbox(opts.bbox) } : {}),
      ...(opts.datetime ? { datetime: opts.datetime } : {}),
      ...(opts.collections ? { collections: opts.collections.split(',') } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
      ...(opts.max ? { maxItems: opts.max } : {}),
    }),
  );
  printReport(report);
}

function printRows(rows: SceneRow[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  for (const r of rows) {
    const when = r.datetime ? new Date(r.datetime).toISOString().slice(0, 19).replace('T', ' ') : '-';
    const cloud = r.cloud_cover === null ? '   -' : `${r.cloud_cover.toFixed(0).padStart(3)}%`;
    const state = r.status === 'ready' ? `${r.bands.length} bands` : `FAILED ${r.error_code}: ${r.error}`;
    console.log(`${r.id}\t${r.sensor ?? '-'}\t${when}\t${cloud}\tEPSG:${r.epsg ?? '-'}\t${state}`);
  }
  console.log(`${rows.length} scene(s)`);
}

export async function scenesListCommand(
  config: Config,
  opts: { failed?: boolean; json?: boolean },
): Promise<void> {
  printRows(
    await withPool(config, (pool) => searchScenes(pool, { status: opts.failed ? 'failed' : 'ready' })),
    !!opts.json,
  );
}

export async function scenesSearchCommand(
  config: Config,
  opts: { bbox?: string; from?: string; to?: string; sensor?: string; maxCloud?: number; json?: boolean },
): Promise<void> {
  for (const d of [opts.from, opts.to]) {
    if (d && Number.isNaN(new Date(d).getTime()))
      throw new SkypatrolError('VALIDATION', `"${d}" is not an ISO 8601 date`);
  }
  const rows = await withPool(config, (pool) =>
    searchScenes(pool, {
      ...(opts.bbox ? { bbox: parseBbox(opts.bbox) } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
      ...(opts.sensor ? { sensor: opts.sensor } : {}),
      ...(opts.maxCloud !== undefined ? { maxCloud: opts.maxCloud } : {}),
    }),
  );
  printRows(rows, !!opts.json);
}
