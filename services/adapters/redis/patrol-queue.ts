import { Queue } from 'bullmq';
import type { Config } from '../../core/config.ts';
import { tileJobId } from '../../domain/patrols/patrol.ts';
import { createRedis } from './connection.ts';

/** The patrol queue: one job per analysis tile of a run, and the recurring-patrol schedules. */
export const PATROL_QUEUE = 'patrol';

export interface TileJobData {
  runId: string;
  tileId: string;
}

export interface ScheduleJobData {
  scheduleId: string;
  county?: string;
  aoi?: unknown;
  cadence: 'monthly' | 'quarterly';
  scenarios?: string[];
  sensors?: string[];
  actor: string;
}

export type PatrolJobData = TileJobData | ScheduleJobData;

export function patrolQueue(config: Config): Queue<PatrolJobData> {
  const connection = createRedis(config.redisUrl, { forWorker: true });
  const queue = new Queue<PatrolJobData>(PATROL_QUEUE, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { count: 2000 },
      removeOnFail: { count: 10_000 },
    },
  });
  queue.on('error', () => {}); // connection errors surface on the calls that need Redis
  // BullMQ leaves a connection it was given open on close(); this one is ours to end.
  const close = queue.close.bind(queue);
  queue.close = async () => {
    // Closing a queue still connecting makes BullMQ emit an error nobody listens to any more.
    await Promise.race([
      queue.waitUntilReady().catch(() => {}),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
    await close();
    connection.disconnect();
  };
  return queue;
}

/**
 * Enqueue tiles in batches (bounded memory for a 10,000-tile run). Job ids are derived from
 * the run and tile, so enqueueing a tile that is already waiting is a no-op.
 */
export async function enqueueTiles(
  queue: Queue<PatrolJobData>,
  runId: string,
  tileIds: readonly string[],
): Promise<void> {
  const BATCH = 500;
  for (let i = 0; i < tileIds.length; i += BATCH) {
    await queue.addBulk(
      tileIds.slice(i, i + BATCH).map((tileId) => ({
        name: 'tile',
        data: { runId, tileId },
        opts: { jobId: tileJobId(runId, tileId) },
      })),
    );
  }
}

/**
 * Make sure each tile has a live job: a finished (completed or failed) job under the tile's id
 * is removed first, since BullMQ would silently ignore a new job with that id. Returns how
 * many jobs were added.
 */
export async function ensureTileJobs(
  queue: Queue<PatrolJobData>,
  runId: string,
  tileIds: readonly string[],
): Promise<number> {
  const missing: string[] = [];
  for (let i = 0; i < tileIds.length; i += 200) {
    const batch = tileIds.slice(i, i + 200);
    const live = await Promise.all(
      batch.map(async (tileId) => {
        const job = await queue.getJob(tileJobId(runId, tileId));
        if (!job) return false;
        const state = await job.getState();
        if (state !== 'completed' && state !== 'failed') return true;
        await job.remove().catch(() => {});
        return false;
      }),
    );
    batch.forEach((t, k) => {
      if (!live[k]) missing.push(t);
    });
  }
  await enqueueTiles(queue, runId, missing);
  return missing.length;
}

/** Remove the tiles' jobs that are not running (cancel). Returns how many were removed. */
export async function removeTileJobs(
  queue: Queue<PatrolJobData>,
  runId: string,
  tileIds: readonly string[],
): Promise<number> {
  let removed = 0;
  for (let i = 0; i < tileIds.length; i += 200) {
    const done = await Promise.all(tileIds.slice(i, i + 200).map((t) => queue.remove(tileJobId(runId, t))));
    removed += done.reduce((a, b) => a + b, 0);
  }
  return removed;
}

export async function queueCounts(queue: Queue<PatrolJobData>): Promise<Record<string, number>> {
  return queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
}
