import type pg from 'pg';
import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { insertClues } from '../adapters/postgis/clue-store.ts';
import { withTransaction } from '../adapters/postgis/pool.ts';
import { polygonize } from '../domain/detectors/polygonize.ts';
import type { AoiGeometry } from '../domain/geo/analysis-grid.ts';
import { tilesForAoi } from '../domain/geo/analysis-grid.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { pixelToMap } from '../domain/geo/grid.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { matchMeanStd } from '../domain/imagery/radiometry.ts';
import { type ClueFeature, toClueFeature } from './detect-pair.ts';
import type { AlignedPair } from './read-pair.ts';
import { compositeTile } from './read-tile.ts';
import { runTiled } from './run-model.ts';

/**
 * A patrol run without the queue: every analysis-grid tile of an area, before and after
 * windows composited from the catalog, the detector run, polygons stored as clues and the
 * clear-observed area stored as coverage, tile by tile (each tile in one transaction). The
 * BullMQ patrol (issue "Patrols") distributes exactly this per-tile work.
 */
export interface PatrolOptions {
  aoi: AoiGeometry;
  before: { from: string; to: string };
  after: { from: string; to: string };
  detector: LoadedDetector;
  sensors?: string[];
  actor: string;
  onTile?: (done: number, total: number, tileId: string) => void;
}

export interface PatrolReport {
  runId: string;
  tiles: number;
  tilesWithData: number;
  clueIds: number[];
  coveredKm2: number;
  failedScenes: { sceneId: string; code: string; message: string }[];
}

export async function patrolDirect(pool: pg.Pool, o: PatrolOptions): Promise<PatrolReport> {
  const { manifest, runner } = o.detector;
  const tiles = tilesForAoi(o.aoi);
  const run = await pool.query<{ id: string }>(
    `INSERT INTO patrol_runs (aoi, before_from, before_to, after_from, after_to, scenarios, sensors, status, tiles_total, started_at, created_by)
     VALUES (ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)), $2, $3, $4, $5, $6, $7, 'running', $8, now(), $9) RETURNING id`,
    [
      JSON.stringify(o.aoi),
      o.before.from,
      o.before.to,
      o.after.from,
      o.after.to,
      [manifest.id],
      o.sensors ?? [],
      tiles.length,
      o.actor,
    ],
  );
  const runId = run.rows[0]!.id;
  const bands = manifest.inputs.bands as CanonicalBand[];
  const report: PatrolReport = {
    runId,
    tiles: tiles.length,
    tilesWithData: 0,
    clueIds: [],
    coveredKm2: 0,
    failedScenes: [],
  };
  let done = 0;
  for (const tile of tiles) {
    const opts = o.sensors?.length ? { sensors: o.sensors } : {};
    const before = await compositeTile(pool, tile, o.before, bands, opts);
    const after = await compositeTile(pool, tile, o.after, bands, opts);
    report.failedScenes.push(...(before?.failed ?? []), ...(after?.failed ?? []));
    const toLonLat = toLonLatFn(tile.epsg)!;
    const lonLat = (x: number, y: number) => {
      const [mx, my] = pixelToMap(tile.grid, x, y);
      return toLonLat(mx, my);
    };
    let features: ClueFeature[] = [];
    let coverage: number[][][][] = [];
    if (before && after) {
      report.tilesWithData++;
      const n = tile.grid.width * tile.grid.height;
      const valid = new Uint8Array(n);
      for (let i = 0; i < n; i++) valid[i] = before.valid[i]! & after.valid[i]!;
      const beforeBands = new Map(bands.map((b) => [b, before.bands[b]!]));
      const afterBands = new Map(
        bands.map((b) => [
          b,
          manifest.inputs.radiometricMatch === 'mean-std'
            ? matchMeanStd(before.bands[b]!, after.bands[b]!)
            : after.bands[b]!,
        ]),
      );
      const pair = {
        before: {
          scene: { id: before.scenes.join('+') },
          stack: { grid: tile.grid, bands: beforeBands, valid: before.valid, assets: [] },
        },
        after: {
          scene: { id: after.scenes.join('+') },
          stack: { grid: tile.grid, bands: afterBands, valid: after.valid, assets: [] },
        },
        valid,
      } as unknown as AlignedPair;
      const probability = await runTiled(runner, manifest, pair);
      const polygons = polygonize({
        width: tile.grid.width,
        height: tile.grid.height,
        probability,
        valid,
        threshold: manifest.threshold,
        minAreaM2: manifest.minAreaM2,
        toLonLat: lonLat,
      });
      let newest = -1;
      for (const d of after.date) if (d > newest) newest = d;
      const lastSeen = new Date(Math.max(newest, 0) * 86_400_000).toISOString().slice(0, 10);
      features = polygons.map((p) =>
        toClueFeature(p, manifest, {
          beforeDate: o.before.to,
          afterDate: lastSeen,
          beforeScene: before.scenes[0]!,
          afterScene: after.scenes.at(-1)!,
        }),
      );
      // The clear-observed area of both windows is what this tile actually patrolled.
      const cov = polygonize({
        width: tile.grid.width,
        height: tile.grid.height,
        probability: Float32Array.from(valid),
        threshold: 0.5,
        minAreaM2: 0,
        toLonLat: lonLat,
      });
      coverage = cov.flatMap((c) => c.coordinates);
      report.coveredKm2 += cov.reduce((s, c) => s + c.areaM2, 0) / 1e6;
    }
    const ids = await withTransaction(pool, async (client) => {
      const clueIds = await insertClues(client, features, {
        actor: o.actor,
        runId,
        inputs: { tile: tile.id, before: before?.scenes ?? [], after: after?.scenes ?? [] },
      });
      await client.query(
        `INSERT INTO patrol_tiles (run_id, tile_id, bounds, status, attempts, coverage, started_at, finished_at)
         VALUES ($1, $2, ST_SetSRID(ST_GeomFromGeoJSON($3), 4326), 'done', 1,
                 CASE WHEN $4::text IS NULL THEN NULL
                      ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON($4), 4326)), 3)) END,
                 now(), now())`,
        [
          runId,
          tile.id,
          JSON.stringify({ type: 'Polygon', coordinates: [tile.polygonLonLat] }),
          coverage.length ? JSON.stringify({ type: 'MultiPolygon', coordinates: coverage }) : null,
        ],
      );
      await client.query('UPDATE patrol_runs SET tiles_done = tiles_done + 1 WHERE id = $1', [runId]);
      return clueIds;
    });
    report.clueIds.push(...ids);
    o.onTile?.(++done, tiles.length, tile.id);
  }
  await pool.query("UPDATE patrol_runs SET status = 'done', finished_at = now() WHERE id = $1", [runId]);
  return report;
}
