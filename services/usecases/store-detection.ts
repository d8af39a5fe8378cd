import type pg from 'pg';
import { insertClues } from '../adapters/postgis/clue-store.ts';
import { withTransaction } from '../adapters/postgis/pool.ts';
import { upsertScene } from '../adapters/postgis/scene-store.ts';
import { sceneFolderRecord } from './catalog.ts';
import type { DetectionResult } from './detect-pair.ts';

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
    await upsertScene(client, sceneFolderRecord(pair.before.scene, pair.before.stack.assets, grid));
    await upsertScene(client, sceneFolderRecord(pair.after.scene, pair.after.stack.assets, grid));
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
