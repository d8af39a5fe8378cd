import type pg from 'pg';
import { insertClues } from '../adapters/postgis/clue-store.ts';
import { withTransaction } from '../adapters/postgis/pool.ts';
import { upsertScene } from '../adapters/postgis/scene-store.ts';
import type { SceneAsset, SceneFolder } from '../adapters/raster/scene-folder.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { gridBounds } from '../domain/geo/grid.ts';
import type { DetectionResult } from './detect-pair.ts';

function lonLatBounds(epsg: number, b: [number, number, number, number]): [number, number, number, number] {
  const f = toLonLatFn(epsg)!;
  const corners = [f(b[0], b[1]), f(b[0], b[3]), f(b[2], b[1]), f(b[2], b[3])];
  return [
    Math.min(...corners.map((c) => c[0])),
    Math.min(...corners.map((c) => c[1])),
    Math.max(...corners.map((c) => c[0])),
    Math.max(...corners.map((c) => c[1])),
  ];
}

function sceneRecord(
  scene: SceneFolder,
  assets: SceneAsset[],
  bbox: [number, number, number, number],
  epsg: number,
) {
  return {
    id: scene.id,
    sensor: `${scene.sensor}-${scene.level.toLowerCase()}`,
    platform: scene.platform,
    datetime: scene.datetime,
    epsg,
    bbox,
    assets: Object.fromEntries(assets.map((a) => [a.band, { href: a.path, sha256: a.sha256 }])),
    source: scene.dir,
  };
}

/**
 * Persist a detection: both scenes in the catalog and every polygon as a clue, in one
 * transaction, so a failure leaves nothing half-written. Returns the new clue ids.
 */
export async function storeDetection(
  pool: pg.Pool,
  result: DetectionResult,
  actor: string,
  idempotencyKey?: string,
): Promise<number[]> {
  const { pair } = result;
  const grid = pair.before.stack.grid;
  const bbox = lonLatBounds(grid.epsg, gridBounds(grid));
  return withTransaction(pool, async (client) => {
    if (idempotencyKey) {
      // A retried job must not store its clues twice: serialise on the key, then look.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [idempotencyKey]);
      const done = await client.query<{ id: number }>(
        "SELECT id FROM clues WHERE inputs->>'idempotency_key' = $1 ORDER BY id",
        [idempotencyKey],
      );
      if (done.rowCount) return done.rows.map((r) => r.id);
    }
    await upsertScene(client, sceneRecord(pair.before.scene, pair.before.stack.assets, bbox, grid.epsg));
    await upsertScene(client, sceneRecord(pair.after.scene, pair.after.stack.assets, bbox, grid.epsg));
    return insertClues(client, result.features, {
      actor,
      inputs: {
        ...(idempotencyKey ? { idempotency_key: idempotencyKey } : {}),
        before: Object.fromEntries(pair.before.stack.assets.map((a) => [a.band, a.sha256])),
        after: Object.fromEntries(pair.after.stack.assets.map((a) => [a.band, a.sha256])),
      },
    });
  });
}
