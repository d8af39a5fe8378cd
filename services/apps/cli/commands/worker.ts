import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { startDetectWorker } from '../../worker/detect-worker.ts';

export async function workerCommand(config: Config, opts: { concurrency?: number }): Promise<void> {
  const pool = createPool(config.databaseUrl);
  const worker = startDetectWorker(
    { ...config, workerConcurrency: opts.concurrency ?? config.workerConcurrency },
    pool,
  );
  worker.on('completed', (job, r) =>
    console.log(
      `job ${job.id}: ${r.polygons} polygons, clues ${r.clueIds.join(',') || '-'} (${r.elapsedMs} ms)`,
    ),
  );
  worker.on('failed', (job, err) => console.error(`job ${job?.id} failed: ${err.message}`));
  console.log(`worker listening on queue ${config.queuePrefix}:detect`);
  const stop = async () => {
    await worker.close();
    await pool.end();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
