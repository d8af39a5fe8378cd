import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type pg from 'pg';
import { type LoadedDetector, loadDetector } from '../../adapters/files/detector-registry.ts';
import { createRedis } from '../../adapters/redis/connection.ts';
import type { Config } from '../../core/config.ts';
import { isSkypatrolError } from '../../core/errors.ts';
import { detectPair } from '../../usecases/detect-pair.ts';
import { storeDetection } from '../../usecases/store-detection.ts';

/** A detection job: a scene pair, the detector to run, and who asked. */
export interface DetectJobData {
  before: string;
  after: string;
  detector: string;
  actor: string;
}

export interface DetectJobResult {
  clueIds: number[];
  polygons: number;
  elapsedMs: number;
}

export const DETECT_QUEUE = 'detect';

export function detectQueue(config: Config): Queue<DetectJobData, DetectJobResult> {
  const connection = createRedis(config.redisUrl, { forWorker: true });
  const queue = new Queue<DetectJobData, DetectJobResult>(DETECT_QUEUE, {
    connection,
    prefix: config.queuePrefix,
    defaultJobOptions: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: 1000,
      removeOnFail: 5000,
    },
  });
  // BullMQ does not end a connection it was given: close it with the queue.
  const close = queue.close.bind(queue);
  queue.close = async () => {
    await close();
    connection.disconnect();
  };
  return queue;
}

/**
 * The queue worker: thin — parse the job, run the use case, map errors. Bad input
 * (a broken scene, an unknown detector) fails the job at once; anything retryable
 * (database or network down) is retried with back-off.
 */
export function startDetectWorker(config: Config, pool: pg.Pool): Worker<DetectJobData, DetectJobResult> {
  const detectors = new Map<string, Promise<LoadedDetector>>();
  const detectorFor = (id: string) => {
    let d = detectors.get(id);
    if (!d) {
      d = loadDetector(config.detectorsDir, id, config.onnxThreads);
      d.catch(() => detectors.delete(id));
      detectors.set(id, d);
    }
    return d;
  };
  const connection = createRedis(config.redisUrl, { forWorker: true });
  const worker = new Worker<DetectJobData, DetectJobResult>(
    DETECT_QUEUE,
    async (job: Job<DetectJobData, DetectJobResult>) => {
      try {
        const detector = await detectorFor(job.data.detector);
        const result = await detectPair({ before: job.data.before, after: job.data.after, detector });
        const clueIds = await storeDetection(pool, result, job.data.actor, `job:${job.queueName}:${job.id}`);
        return { clueIds, polygons: result.features.length, elapsedMs: Math.round(result.stats.elapsedMs) };
      } catch (err) {
        if (isSkypatrolError(err) && !err.retryable)
          throw new UnrecoverableError(`${err.code}: ${err.message}`);
        throw err;
      }
    },
    {
      connection,
      prefix: config.queuePrefix,
      concurrency: config.workerConcurrency,
    },
  );
  worker.on('error', () => {}); // connection errors: BullMQ reconnects by itself
  // BullMQ does not end a connection it was given: end it once the worker has closed.
  worker.on('closed', () => connection.disconnect());
  return worker;
}
