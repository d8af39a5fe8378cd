import pino from 'pino';
import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { startNotifier } from '../../../usecases/notify.ts';
import { startDetectWorker } from '../../worker/detect-worker.ts';
import { startPatrolWorker } from '../../worker/patrol-worker.ts';

/**
 * A worker process: patrol tile jobs (and recurring-patrol schedules), single-pair detection
 * jobs, and the notifier. Logs are structured JSON lines (pino). Scale out by starting more
 * of these, on this machine or others (`docker compose up --scale worker=N`).
 */
export async function workerCommand(
  config: Config,
  opts: { concurrency?: number; notifier?: boolean },
): Promise<void> {
  const log = pino({ level: config.logLevel, base: { pid: process.pid, role: 'worker' } });
  const cfg = { ...config, workerConcurrency: opts.concurrency ?? config.workerConcurrency };
  const pool = createPool(config.databaseUrl);
  const detect = startDetectWorker(cfg, pool);
  detect.on('completed', (job, r) =>
    log.info({ job: job.id, polygons: r.polygons, clues: r.clueIds, ms: r.elapsedMs }, 'detect job done'),
  );
  detect.on('failed', (job, err) => log.warn({ job: job?.id, err: err.message }, 'detect job failed'));
  const patrol = startPatrolWorker(cfg, pool, {
    log: (l) => {
      const { msg, ...rest } = l as { msg: string };
      if (msg === 'tile failed' || msg === 'reconcile failed') log.warn(rest, msg);
      else log.info(rest, msg);
    },
  });
  const notifier =
    opts.notifier === false
      ? null
      : startNotifier(config, pool, {
          onPass: (r) => {
            if (r.notify.sent || r.notify.failed) log.info(r, 'notifications');
          },
          onError: (err) => log.warn({ err: (err as Error).message }, 'notifier pass failed'),
        });
  log.info(
    {
      queues: [`${config.queuePrefix}:patrol`, `${config.queuePrefix}:detect`],
      concurrency: cfg.workerConcurrency,
      // See bin/skypatrol.mjs: without it, V8's concurrent marking costs a fifth more CPU per tile.
      gc: process.execArgv.includes('--single-threaded-gc') ? 'single-threaded' : 'concurrent',
    },
    'worker started',
  );
  const stop = async () => {
    log.info('worker stopping');
    await Promise.all([patrol.close(), detect.close(), notifier?.stop()]);
    await pool.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
