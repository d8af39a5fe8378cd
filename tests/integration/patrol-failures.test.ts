import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '../../services/adapters/postgis/patrol-store.ts';
import { type PatrolWorker, startPatrolWorker } from '../../services/apps/worker/patrol-worker.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { planPatrol, resumePatrol } from '../../services/usecases/patrol.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { loadRegion, type Region, smallRegion } from '../support/region.ts';

/**
 * Bad input inside a patrol: a truncated scene fails alone (the catalog records why; its tiles
 * complete from the other scenes); a broken detector fails its tiles with the reason, without
 * retries, and the run ends failed — resumable once the detector is mended.
 */
let work: string;
let region: Region;
const dbs: TestDatabase[] = [];
const workers: PatrolWorker[] = [];

beforeAll(async () => {
  const base = await smallRegion(7);
  work = await mkdtemp(join(tmpdir(), 'skypatrol-fail-'));
  await cp(base.dir, join(work, 'region'), { recursive: true });
  region = { ...base, dir: join(work, 'region') };
  await cp('detectors/change', join(work, 'detectors/change'), { recursive: true });
}, 180_000);
afterAll(async () => {
  for (const w of workers) {
    await w.queue.obliterate({ force: true }).catch(() => {});
    await w.close();
  }
  for (const db of dbs) await db.drop();
  await rm(work, { recursive: true, force: true });
});

async function setup(detectorsDir = 'detectors') {
  const db = await createTestDatabase();
  dbs.push(db);
  await loadRegion(db.pool, region);
  const config: Config = {
    ...loadConfig({}),
    databaseUrl: db.url,
    redisUrl: testRedisUrl(),
    queuePrefix: `sp-fail-${randomBytes(4).toString('hex')}`,
    onnxThreads: 1,
    reconcileMs: 1000,
    detectorsDir,
  };
  const w = startPatrolWorker(config, db.pool);
  workers.push(w);
  const plan = () =>
    planPatrol(
      { pool: db.pool, queue: w.queue, detectorsDir, maxTiles: 10 },
      {
        aoi: region.aoi,
        before: region.before,
        after: region.after,
        scenarios: ['change'],
        sensors: ['sentinel-2-l2a'],
        actor: 'test',
      },
    );
  const wait = async (id: string) => {
    for (let i = 0; i < 1200; i++) {
      const r = (await getRun(db.pool, id))!;
      if (['done', 'failed', 'cancelled'].includes(r.status)) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error('run did not end');
  };
  return { db, w, plan, wait };
}

describe('patrol failures', { timeout: 300_000 }, () => {
  it('a truncated scene fails alone: recorded in the catalog with its reason, the run completes', async () => {
    const { db, plan, wait } = await setup();
    // The newest scene of the after window: composites read newest first, so it is always read
    // (older ones only where the newer left pixels unseen).
    const victim = await db.pool.query<{ id: string; href: string }>(
      `SELECT id, assets->'red'->>'href' AS href FROM scenes
        WHERE sensor = 'sentinel-2-l2a' AND datetime >= '2025-06-01' ORDER BY datetime DESC, id DESC LIMIT 1`,
    );
    const file = new URL(victim.rows[0]!.href).pathname;
    const size = (await readFile(file)).length;
    await truncate(file, Math.floor(size / 3));
    const run = await wait((await plan()).id);
    expect(run).toMatchObject({ status: 'done', tilesDone: 4, tilesFailed: 0 });
    const scene = await db.pool.query('SELECT status, error FROM scenes WHERE id = $1', [victim.rows[0]!.id]);
    expect(scene.rows[0].status).toBe('failed');
    expect(scene.rows[0].error).toMatch(/SCENE_CORRUPT|truncated|past the end|unexpected end/i);
    expect(run.clueCount).toBeGreaterThan(0);
  });

  it('a patrol over every sensor never marks scenes without SWIR (GF-1) as failed', async () => {
    const { db, w } = await setup();
    const run = await planPatrol(
      { pool: db.pool, queue: w.queue, detectorsDir: 'detectors', maxTiles: 10 },
      { aoi: region.aoi, before: region.before, after: region.after, scenarios: ['change'], actor: 'test' },
    );
    for (let i = 0; i < 1500; i++) {
      const r = (await getRun(db.pool, run.id))!;
      if (r.status !== 'running' && r.status !== 'queued') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect((await getRun(db.pool, run.id))!).toMatchObject({ status: 'done', tilesFailed: 0 });
    const gf = await db.pool.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM scenes WHERE sensor LIKE 'gf-%' GROUP BY status",
    );
    expect(gf.rows).toEqual([{ status: 'ready', n: expect.any(Number) }]);
  });

  it('a broken detector fails every tile with its reason, no retries; resume after mending finishes the run', async () => {
    const dir = join(work, 'detectors');
    const model = join(dir, 'change/model.onnx');
    const good = await readFile(model);
    const bad = Buffer.from(good);
    bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0xff;
    await writeFile(model, bad);
    const { db, plan, wait, w } = await setup(dir);
    const failed = await wait((await plan()).id);
    expect(failed).toMatchObject({ status: 'failed', tilesDone: 0, tilesFailed: 4 });
    const tiles = await db.pool.query<{ error_code: string; error: string; attempts: number }>(
      'SELECT error_code, error, attempts FROM patrol_tiles WHERE run_id = $1',
      [failed.id],
    );
    for (const t of tiles.rows) {
      expect(t.error_code).toBe('DETECTOR_INVALID');
      expect(t.error).toMatch(/sha-?256|hash/i);
      expect(t.attempts).toBe(1);
    }
    await writeFile(model, good);
    const resumed = await resumePatrol(db.pool, w.queue, failed.id);
    expect(resumed).toMatchObject({ status: 'running', tilesFailed: 0 });
    const done = await wait(failed.id);
    expect(done).toMatchObject({ status: 'done', tilesDone: 4, tilesFailed: 0 });
  });
});
