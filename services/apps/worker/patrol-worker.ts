import { type Job, type Queue, UnrecoverableError, Worker } from 'bullmq';
import type pg from 'pg';
import {
  type LoadedDetector,
  loadDetector,
  releaseDetector,
} from '../../adapters/files/detector-registry.ts';
import { createRedis } from '../../adapters/redis/connection.ts';
import {
  PATROL_QUEUE,
  type PatrolJobData,
  patrolQueue,
  type ScheduleJobData,
  type TileJobData,
} from '../../adapters/redis/patrol-queue.ts';
import type { Config } from '../../core/config.ts';
import { isSkypatrolError } from '../../core/errors.ts';
import { recurringWindows } from '../../domain/patrols/patrol.ts';
import { custodyFor } from '../../usecases/custody.ts';
import { failTile, planPatrol, processTile, reconcile, type TileOutcome } from '../../usecases/patrol.ts';

export interface PatrolWorker {
  worker: Worker<PatrolJobData>;
  queue: Queue<PatrolJobData>;
  /** Runs one reconcile pass now (it also runs every `reconcileMs` and on Redis reconnects). */
  reconcileNow: () => Promise<{ requeued: number; closed: number }>;
  close: () => Promise<void>;
}

export interface PatrolWorkerOptions {
  log?: (line: Record<string, unknown>) => void;
  /** Chain of custody for new clues; see usecases/custody. */
  custody?: (sceneIds: string[]) => Promise<unknown>;
}

/**
 * The patrol worker: tile jobs and schedule jobs from the `patrol` queue. Detector sessions
 * are loaded once per process and shared by every job. A job failing with bad input (a
 * SkypatrolError that is not retryable) is not retried; others are retried with back-off; a
 * tile whose last attempt failed is recorded failed in PostGIS with its reason, and the run
 * goes on. A reconcile pass at start, on a timer and after Redis reconnects re-creates jobs
 * lost with Redis and closes runs whose last tile finished while no worker could close them.
 */
export function startPatrolWorker(
  config: Config,
  pool: pg.Pool,
  opts: PatrolWorkerOptions = {},
): PatrolWorker {
  const log = opts.log ?? (() => {});
  const loaded = new Map<string, Promise<LoadedDetector>>();
  const detectors = (ids: string[]) =>
    Promise.all(
      ids.map((id) => {
        let d = loaded.get(id);
        if (!d) {
          d = loadDetector(config.detectorsDir, id, config.onnxThreads);
          d.catch(() => loaded.delete(id));
          loaded.set(id, d);
        }
        return d;
      }),
    );
  const queue = patrolQueue(config);
  // Chain of custody: the SHA-256 of every input scene asset, recorded with each new clue.
  const deps = {
    pool,
    detectors,
    custody: opts.custody ?? ((ids: string[]) => custodyFor(pool, ids)),
    zoneGate: config.zoneGate,
  };

  const connection = createRedis(config.redisUrl, { forWorker: true });
  const worker = new Worker<PatrolJobData>(
    PATROL_QUEUE,
    async (job: Job<PatrolJobData>) => {
      if (job.name === 'schedule') {
        const s = job.data as ScheduleJobData;
        const windows = recurringWindows(s.cadence, new Date());
        const run = await planPatrol(
          { pool, queue, detectorsDir: config.detectorsDir, maxTiles: config.maxTiles },
          {
            name: `${s.scheduleId} ${windows.after.from}`,
            ...(s.county ? { county: s.county } : { aoi: s.aoi }),
            ...windows,
            ...(s.scenarios ? { scenarios: s.scenarios } : {}),
            ...(s.sensors ? { sensors: s.sensors } : {}),
            actor: s.actor,
            scheduleId: s.scheduleId,
          },
        );
        log({ msg: 'scheduled patrol planned', schedule: s.scheduleId, run: run.id, tiles: run.tilesTotal });
        return { runId: run.id };
      }
      const data = job.data as TileJobData;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      try {
        const r: TileOutcome = await processTile(deps, data);
        const cpu = process.cpuUsage(cpu0);
        log({
          msg: 'tile',
          run: data.runId,
          tile: data.tileId,
          status: r.status,
          ...(r.reason ? { reason: r.reason } : {}),
          detections: r.detections,
          ms: Math.round(performance.now() - t0),
          // The process's CPU time during the job (every thread; with concurrency 1, the tile's).
          cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          stages: Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, Math.round(v)])),
          ...(r.skippedDetectors?.length ? { skippedDetectors: r.skippedDetectors } : {}),
          ...(r.clueWrite ? { clueWrite: r.clueWrite } : {}),
        });
        return r;
      } catch (err) {
        const permanent = isSkypatrolError(err) && !err.retryable;
        const last = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        const code = isSkypatrolError(err) ? err.code : 'TILE_FAILED';
        const message = (err as Error).message;
        log({ msg: 'tile failed', run: data.runId, tile: data.tileId, code, error: message, final: last });
        if (last) await failTile(deps, data, code, message).catch(() => {});
        if (permanent) throw new UnrecoverableError(`${code}: ${message}`);
        throw err;
      }
    },
    {
      connection,
      prefix: config.queuePrefix,
      concurrency: config.workerConcurrency,
      lockDuration: config.jobLockMs,
      stalledInterval: config.jobLockMs,
      maxStalledCount: 2,
    },
  );
  worker.on('error', () => {}); // connection errors: BullMQ reconnects by itself

  let reconciling: Promise<{ requeued: number; closed: number }> | null = null;
  const reconcileNow = () => {
    reconciling ??= reconcile({ ...deps, queue })
      .then((r) => {
        if (r.requeued || r.closed) log({ msg: 'reconciled', ...r });
        return r;
      })
      .catch((err) => {
        log({ msg: 'reconcile failed', error: (err as Error).message });
        return { requeued: 0, closed: 0 };
      })
      .finally(() => {
        reconciling = null;
      });
    return reconciling;
  };
  const timer = setInterval(() => void reconcileNow(), config.reconcileMs);
  timer.unref();
  // After a Redis restart the queue may have lost its jobs: rebuild them from PostGIS.
  void worker.client.then((c) => c.on('ready', () => void reconcileNow())).catch(() => {});
  void reconcileNow();

  return {
    worker,
    queue,
    reconcileNow,
    close: async () => {
      clearInterval(timer);
      // Closing a worker still connecting makes BullMQ emit an error nobody listens to any more
      // (the process then dies of it): let it finish connecting first (as patrolQueue does).
      await Promise.race([
        worker.waitUntilReady().catch(() => {}),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      await worker.close();
      connection.disconnect(); // BullMQ does not end a connection it was given
      await reconciling;
      await queue.close();
      for (const d of loaded.values()) await d.then(releaseDetector).catch(() => {});
    },
  };
}
