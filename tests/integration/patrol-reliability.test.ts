import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '../../services/adapters/postgis/patrol-store.ts';
import { patrolQueue } from '../../services/adapters/redis/patrol-queue.ts';
import { startPatrolWorker } from '../../services/apps/worker/patrol-worker.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { planPatrol } from '../../services/usecases/patrol.ts';
import { ROOT } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { loadRegion, type Region, smallRegion } from '../support/region.ts';

/**
 * Reliability of patrols: a worker killed with SIGKILL mid-tile, Redis restarted (empty) mid-run
 * and PostgreSQL connections dropped mid-run must each end with exactly the clues of an
 * undisturbed run — nothing lost, nothing duplicated. Every service a test disturbs is its own
 * (a worker process, a redis-server on a spare port) or its own database's connections.
 */
let region: Region;
const dbs: TestDatabase[] = [];
const children: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function freshDb(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  dbs.push(db);
  await loadRegion(db.pool, region);
  return db;
}

function configFor(db: TestDatabase, redisUrl = testRedisUrl()): Config {
  return {
    ...loadConfig({ SKYPATROL_LOG_LEVEL: 'silent' }),
    databaseUrl: db.url,
    redisUrl,
    queuePrefix: `sp-rel-${randomBytes(4).toString('hex')}`,
    onnxThreads: 1,
    reconcileMs: 1000,
    jobLockMs: 3000,
  };
}

const request = () => ({
  aoi: region.aoi,
  before: region.before,
  after: region.after,
  scenarios: ['change'],
  sensors: ['sentinel-2-l2a'],
  actor: 'test',
});

async function waitUntil(
  db: TestDatabase,
  runId: string,
  cond: (r: { status: string; tilesDone: number }) => boolean,
  timeoutMs = 240_000,
) {
  const t0 = Date.now();
  for (;;) {
    const run = await getRun(db.pool, runId).catch(() => null);
    if (run && cond(run)) return run;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`run ${runId}: condition not met (${JSON.stringify(run)})`);
    await sleep(150);
  }
}

/** What a run produced, independent of ids and timing. */
async function outcome(db: TestDatabase, runId: string) {
  const clues = await db.pool.query<{ sig: string }>(
    `SELECT scenario || ' ' || round(area_m2) || ' ' || round(ST_X(ST_Centroid(geom))::numeric, 5) || ' ' ||
            round(ST_Y(ST_Centroid(geom))::numeric, 5) AS sig
       FROM clues WHERE merged_into IS NULL ORDER BY 1`,
  );
  const det = await db.pool.query<{ tile_id: string; n: number }>(
    'SELECT tile_id, count(*)::int AS n FROM detections WHERE run_id = $1 GROUP BY 1 ORDER BY 1',
    [runId],
  );
  const tiles = await db.pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM patrol_tiles WHERE run_id = $1 GROUP BY 1',
    [runId],
  );
  return { clues: clues.rows.map((r) => r.sig), detections: det.rows, tiles: tiles.rows };
}

let reference: Awaited<ReturnType<typeof outcome>>;

beforeAll(async () => {
  region = await smallRegion(7);
  // The undisturbed run every disturbed one must equal.
  const db = await freshDb();
  const config = configFor(db);
  const w = startPatrolWorker(config, db.pool);
  try {
    const run = await planPatrol(
      { pool: db.pool, queue: w.queue, detectorsDir: config.detectorsDir, maxTiles: 10 },
      request(),
    );
    await waitUntil(db, run.id, (r) => r.status === 'done');
    reference = await outcome(db, run.id);
  } finally {
    await w.queue.obliterate({ force: true }).catch(() => {});
    await w.close();
  }
  expect(reference.clues.length).toBeGreaterThan(5);
}, 400_000);

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null || !c.pid) continue;
    try {
      process.kill(c.pid, 'SIGKILL'); // only processes this file started, by pid
    } catch {}
  }
  for (const db of dbs) await db.drop().catch(() => {});
});

describe('patrol reliability', () => {
  it('a worker process killed with SIGKILL mid-tile: another worker finishes the run, same clues', async () => {
    const db = await freshDb();
    const config = configFor(db);
    const env = {
      ...process.env,
      DATABASE_URL: config.databaseUrl,
      REDIS_URL: config.redisUrl,
      SKYPATROL_QUEUE_PREFIX: config.queuePrefix,
      SKYPATROL_JOB_LOCK_MS: '3000',
      SKYPATROL_RECONCILE_MS: '1000',
      SKYPATROL_ONNX_THREADS: '1',
      SKYPATROL_LOG_LEVEL: 'warn',
    };
    const startWorker = () => {
      const c = spawn(
        process.execPath,
        ['--single-threaded-gc', 'bin/skypatrol.mjs', 'worker', '--no-notifier'],
        {
          cwd: ROOT,
          env,
          stdio: 'ignore',
        },
      );
      children.push(c);
      return c;
    };
    const queue = patrolQueue(config);
    try {
      const first = startWorker();
      const run = await planPatrol(
        { pool: db.pool, queue, detectorsDir: config.detectorsDir, maxTiles: 10 },
        request(),
      );
      // Kill it while it holds a tile: one done already, another started.
      await waitUntil(db, run.id, (r) => r.tilesDone >= 1);
      for (let i = 0; i < 200; i++) {
        const busy = await db.pool.query(
          "SELECT 1 FROM patrol_tiles WHERE run_id = $1 AND status = 'running'",
          [run.id],
        );
        if (busy.rowCount) break;
        await sleep(50);
      }
      process.kill(first.pid!, 'SIGKILL');
      await new Promise((r) => first.once('exit', r));
      const killedAt = (await getRun(db.pool, run.id))!;
      expect(killedAt.status).toBe('running');
      expect(killedAt.tilesDone).toBeLessThan(4);
      startWorker();
      await waitUntil(db, run.id, (r) => r.status === 'done');
      expect(await outcome(db, run.id)).toEqual(reference);
      const retried = await db.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM patrol_tiles WHERE run_id = $1 AND attempts > 1',
        [run.id],
      );
      expect(retried.rows[0]!.n).toBeGreaterThanOrEqual(1);
    } finally {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  }, 300_000);

  it('Redis restarted empty mid-run: the queue is rebuilt from PostGIS and the run completes, same clues', async () => {
    const port = await sparePort();
    const startRedis = () => {
      const c = spawn(
        'redis-server',
        ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'],
        {
          stdio: 'ignore',
        },
      );
      children.push(c);
      return c;
    };
    const waitRedis = async () => {
      for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = connect(port, '127.0.0.1');
          s.once('connect', () => {
            s.end();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        });
        if (ok) return;
        await sleep(100);
      }
      throw new Error('redis-server did not start');
    };
    let redis = startRedis();
    await waitRedis();
    const db = await freshDb();
    const config = configFor(db, `redis://127.0.0.1:${port}`);
    const w = startPatrolWorker(config, db.pool);
    try {
      const run = await planPatrol(
        { pool: db.pool, queue: w.queue, detectorsDir: config.detectorsDir, maxTiles: 10 },
        request(),
      );
      await waitUntil(db, run.id, (r) => r.tilesDone >= 1);
      process.kill(redis.pid!, 'SIGKILL');
      await new Promise((r) => redis.once('exit', r));
      const mid = (await getRun(db.pool, run.id))!;
      expect(mid.tilesDone).toBeLessThan(4);
      await sleep(1500);
      redis = startRedis();
      await waitRedis();
      await waitUntil(db, run.id, (r) => r.status === 'done');
      expect(await outcome(db, run.id)).toEqual(reference);
    } finally {
      await w.close().catch(() => {});
      if (redis.exitCode === null && redis.signalCode === null) process.kill(redis.pid!, 'SIGKILL');
    }
  }, 300_000);

  it('PostgreSQL connections dropped mid-run: jobs retry and the run completes, same clues', async () => {
    const db = await freshDb();
    const config = configFor(db);
    const w = startPatrolWorker(config, db.pool);
    const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    try {
      const run = await planPatrol(
        { pool: db.pool, queue: w.queue, detectorsDir: config.detectorsDir, maxTiles: 10 },
        request(),
      );
      await waitUntil(db, run.id, (r) => r.tilesDone >= 1);
      const name = new URL(db.url).pathname.slice(1);
      let dropped = 0;
      for (let i = 0; i < 3; i++) {
        const r = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        dropped += r.rowCount ?? 0;
        await sleep(700);
      }
      expect(dropped).toBeGreaterThan(0);
      await waitUntil(db, run.id, (r) => r.status === 'done');
      expect(await outcome(db, run.id)).toEqual(reference);
    } finally {
      await admin.end();
      await w.queue.obliterate({ force: true }).catch(() => {});
      await w.close();
    }
  }, 300_000);
});
