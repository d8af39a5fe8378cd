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
  return new Queue<PatrolJobData>(PATROL_QUEUE, {
    connection: createRedis(config.redisUrl, { forWorker: true }),
    prefix: config.queuePrefix,
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: { count: 2000 },
      removeOnFail: { count: 10_000 },
    },
  });
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
  for (const tileId of tileIds) {
    const job = await queue.getJob(tileJobId(runId, tileId));
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      await job.remove().catch(() => {});
    }
    missing.push(tileId);
  }
  await enqueueTiles(queue, runId, missing);
  return missing.length;
}

/** Waiting and delayed jobs of a run, removed (cancel). Returns how many. */
export async function removeRunJobs(queue: Queue<PatrolJobData>, runId: string): Promise<number> {
  let removed = 0;
  const PAGE = 1000;
  for (let start = 0; ; start += PAGE) {
    const jobs = await queue.getJobs(
      ['waiting', 'delayed', 'prioritized', 'paused'],
      start,
      start + PAGE - 1,
    );
    if (!jobs.length) break;
    for (const job of jobs) {
      if (job && (job.data as TileJobData).runId === runId) {
        await job.remove().catch(() => {});
        removed++;
      }
    }
    if (jobs.length < PAGE) break;
  }
  return removed;
}

export async function queueCounts(queue: Queue<PatrolJobData>): Promise<Record<string, number>> {
  return queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
}
