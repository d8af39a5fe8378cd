import { randomBytes } from 'node:crypto';
import { type Job, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadDetector } from '../../services/adapters/files/detector-registry.ts';
import { createRedis } from '../../services/adapters/redis/connection.ts';
import {
  type DetectJobData,
  type DetectJobResult,
  detectQueue,
  startDetectWorker,
} from '../../services/apps/worker/detect-worker.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { detectPair } from '../../services/usecases/detect-pair.ts';
import { storeDetection } from '../../services/usecases/store-detection.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { describeShared, oscd } from '../support/shared-data.ts';

/** The detection worker on real Redis (a queue prefix of its own) and a database of its own. */
let db: TestDatabase;
let config: Config;
let queue: ReturnType<typeof detectQueue>;
let events: QueueEvents;
let worker: ReturnType<typeof startDetectWorker>;

beforeAll(async () => {
  db = await createTestDatabase();
  config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    SKYPATROL_QUEUE_PREFIX: `sptest-${randomBytes(4).toString('hex')}`,
    SKYPATROL_LOG_LEVEL: 'silent',
  });
  queue = detectQueue(config);
  events = new QueueEvents('detect', {
    connection: createRedis(config.redisUrl, { forWorker: true }),
    prefix: config.queuePrefix,
  });
  await events.waitUntilReady();
  worker = startDetectWorker(config, db.pool);
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await events.close();
  await db.drop();
});

async function settle(job: Job<DetectJobData, DetectJobResult>) {
  try {
    return { ok: true as const, value: await job.waitUntilFinished(events, 60_000) };
  } catch (err) {
    return { ok: false as const, error: err as Error };
  }
}

describeShared('detect worker', () => {
  it('processes a detection job and stores its clues', async () => {
    const job = await queue.add('pair', {
      before: oscd('bercy', 'imgs_1'),
      after: oscd('bercy', 'imgs_2'),
      detector: 'change',
      actor: 'test',
    });
    const r = await settle(job);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.clueIds.length).toBe(r.value.polygons);
    expect(r.value.polygons).toBeGreaterThan(0);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM clues WHERE inputs->>'idempotency_key' = $1",
      [`job:detect:${job.id}`],
    );
    expect(rows[0].n).toBe(r.value.polygons);
  });

  it('fails a job with a bad scene at once (no retries) with the reason, storing nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM clues')).rows[0].n;
    const job = await queue.add('pair', {
      before: '/nonexistent/imgs_1',
      after: oscd('bercy', 'imgs_2'),
      detector: 'change',
      actor: 'test',
    });
    const r = await settle(job);
    expect(r.ok).toBe(false);
    const failed = await queue.getJob(job.id!);
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/^SCENE_NOT_FOUND: /);
    const after = (await db.pool.query('SELECT count(*)::int AS n FROM clues')).rows[0].n;
    expect(after).toBe(before);
  });

  it('stores a retried detection once (idempotency key)', async () => {
    const detector = await loadDetector(config.detectorsDir, 'change');
    try {
      const result = await detectPair({
        before: oscd('paris', 'imgs_1'),
        after: oscd('paris', 'imgs_2'),
        detector,
      });
      const first = await storeDetection(db.pool, result, 'test', 'retry-key');
      const second = await storeDetection(db.pool, result, 'test', 'retry-key');
      expect(second).toEqual(first);
      const { rows } = await db.pool.query(
        "SELECT count(*)::int AS n FROM clues WHERE inputs->>'idempotency_key' = 'retry-key'",
      );
      expect(rows[0].n).toBe(first.length);
    } finally {
      await detector.runner.release();
    }
  });
});

it('closing the detect queue and worker ends their Redis connections (the process can exit by itself)', async () => {
  const { spawn } = await import('node:child_process');
  const code = `
    const { detectQueue, startDetectWorker } = await import('./services/apps/worker/detect-worker.ts');
    const { loadConfig } = await import('./services/core/config.ts');
    const config = loadConfig({ SKYPATROL_QUEUE_PREFIX: process.env.PREFIX, SKYPATROL_LOG_LEVEL: 'silent' });
    const q = detectQueue(config);
    await q.waitUntilReady();
    const w = startDetectWorker(config, { end: async () => {} });
    await w.waitUntilReady();
    await w.close();
    await q.obliterate({ force: true });
    await q.close();
    console.log('closed');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: {
      ...process.env,
      REDIS_URL: testRedisUrl(),
      PREFIX: `sptest-close-${randomBytes(4).toString('hex')}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  const exited = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 20_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(out).toContain('closed');
  expect(exited).toBe(0); // null: still running 20 s after closing, held open by a connection
}, 30_000);
