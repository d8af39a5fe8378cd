import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PatrolJobData, patrolQueue } from '../../services/adapters/redis/patrol-queue.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { tileJobId } from '../../services/domain/patrols/patrol.ts';
import { cancelPatrol, planPatrol } from '../../services/usecases/patrol.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

/**
 * A run of more than 10,000 analysis tiles (≈ 1.1 million km², several UTM zones) is planned:
 * every tile stored in PostGIS and queued on BullMQ, written in batches (memory is measured in
 * `npm run bench`, not asserted here); then cancelled, which empties its jobs from the queue.
 */
let db: TestDatabase;
let config: Config;
let queue: ReturnType<typeof patrolQueue>;

beforeAll(async () => {
  db = await createTestDatabase();
  config = {
    ...loadConfig({}),
    databaseUrl: db.url,
    redisUrl: testRedisUrl(),
    queuePrefix: `sp-scale-${randomBytes(4).toString('hex')}`,
  };
  queue = patrolQueue(config);
});
afterAll(async () => {
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  await db.drop();
});

describe('a 10,000-tile patrol', () => {
  it('stores and enqueues every tile once, across UTM zones, and cancels cleanly', async () => {
    const aoi = {
      type: 'Polygon',
      coordinates: [
        [
          [111, 40],
          [125.5, 40],
          [125.5, 49.6],
          [111, 49.6],
          [111, 40],
        ],
      ],
    };
    const run = await planPatrol(
      { pool: db.pool, queue, detectorsDir: config.detectorsDir, maxTiles: 20_000 },
      {
        aoi,
        before: { from: '2024-06-01', to: '2024-06-30' },
        after: { from: '2025-06-01', to: '2025-08-31' },
        scenarios: ['change'],
        actor: 'test',
      },
    );
    expect(run.tilesTotal).toBeGreaterThan(10_000);
    const rows = await db.pool.query<{ n: number; zones: number; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT split_part(tile_id, '-', 1))::int AS zones,
              count(DISTINCT tile_id)::int AS distinct FROM patrol_tiles WHERE run_id = $1`,
      [run.id],
    );
    expect(rows.rows[0]).toEqual({ n: run.tilesTotal, zones: 3, distinct: run.tilesTotal });
    expect(await queue.getWaitingCount()).toBe(run.tilesTotal);
    const sample = await db.pool.query<{ tile_id: string }>(
      'SELECT tile_id FROM patrol_tiles WHERE run_id = $1 ORDER BY random() LIMIT 5',
      [run.id],
    );
    for (const { tile_id } of sample.rows) {
      const job = await queue.getJob(tileJobId(run.id, tile_id));
      expect(job?.data as PatrolJobData).toEqual({ runId: run.id, tileId: tile_id });
    }
    const cancelled = await cancelPatrol(db.pool, queue, run.id);
    expect(cancelled.status).toBe('cancelled');
    expect(await queue.getWaitingCount()).toBe(0);
  }, 240_000);
});
