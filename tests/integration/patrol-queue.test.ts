import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun } from '../../services/adapters/postgis/patrol-store.ts';
import { enqueueTiles } from '../../services/adapters/redis/patrol-queue.ts';
import { type PatrolWorker, startPatrolWorker } from '../../services/apps/worker/patrol-worker.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { cancelPatrol, planPatrol, resumePatrol } from '../../services/usecases/patrol.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { loadRegion, type Region, smallRegion } from '../support/region.ts';

/**
 * Patrols through BullMQ on the small simulated region (four analysis tiles): plan → tile
 * jobs → detections → clues as incidents → coverage per county; idempotent re-delivery,
 * re-patrols updating the same clues, cancel and resume.
 */
let db: TestDatabase;
let region: Region;
let config: Config;
let pw: PatrolWorker;

const waitFor = async (runId: string, statuses: string[], timeoutMs = 120_000) => {
  const t0 = Date.now();
  for (;;) {
    const run = await getRun(db.pool, runId);
    if (run && statuses.includes(run.status)) return run;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`run ${runId} still ${run?.status} (${JSON.stringify(run)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const openClues = async () =>
  (
    await db.pool.query<{ id: number; scenario: string; area: number; runs_seen: number; status: string }>(
      `SELECT id, scenario, round(area_m2)::int AS area, runs_seen, status FROM clues
        WHERE merged_into IS NULL ORDER BY id`,
    )
  ).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  region = await smallRegion(7);
  await loadRegion(db.pool, region);
  config = {
    ...loadConfig({}),
    databaseUrl: db.url,
    redisUrl: testRedisUrl(),
    queuePrefix: `sp-test-${randomBytes(4).toString('hex')}`,
    onnxThreads: 1,
    reconcileMs: 1000,
    jobLockMs: 5000,
  };
  pw = startPatrolWorker(
    config,
    db.pool,
    process.env.PATROL_TEST_LOG ? { log: (l) => console.log(JSON.stringify(l)) } : {},
  );
}, 180_000);

afterAll(async () => {
  await pw?.queue.obliterate({ force: true }).catch(() => {});
  await pw?.close();
  await db?.drop();
});

const deps = () => ({ pool: db.pool, queue: pw.queue, detectorsDir: config.detectorsDir, maxTiles: 100 });

describe('patrol runs on the queue', { timeout: 300_000 }, () => {
  let firstRun: string;
  let firstClues: Awaited<ReturnType<typeof openClues>>;

  it('splits the area into tile jobs, stores detections, clues, coverage per county; the run closes itself', async () => {
    const run = await planPatrol(deps(), {
      aoi: region.aoi,
      before: region.before,
      after: region.after,
      scenarios: ['change'],
      sensors: ['sentinel-2-l2a'],
      actor: 'test',
    });
    expect(run.tilesTotal).toBe(4);
    expect(['queued', 'running']).toContain(run.status);
    firstRun = run.id;
    const done = await waitFor(run.id, ['done', 'failed']);
    expect(done.status).toBe('done');
    expect(done.tilesDone).toBe(4);
    expect(done.tilesFailed).toBe(0);
    // About the 6 km × 6 km square is clear-observed in both windows.
    expect(done.coveredKm2).toBeGreaterThan(25);
    expect(done.coveredKm2).toBeLessThan(40);
    firstClues = await openClues();
    expect(firstClues.length).toBeGreaterThan(5);
    expect(firstClues.every((c) => c.runs_seen === 1 && c.status === 'new')).toBe(true);
    // Every detection belongs to a clue; every clue to this run; each has its 'created' event.
    const det = await db.pool.query<{ n: number; orphan: number }>(
      'SELECT count(*)::int AS n, count(*) FILTER (WHERE clue_id IS NULL)::int AS orphan FROM detections WHERE run_id = $1',
      [run.id],
    );
    expect(det.rows[0]!.n).toBeGreaterThanOrEqual(firstClues.length);
    expect(det.rows[0]!.orphan).toBe(0);
    const created = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM clue_events WHERE kind = 'created'",
    );
    expect(created.rows[0]!.n).toBeGreaterThanOrEqual(firstClues.length);
    // Coverage per county sums to (at most) the run's covered area, and is non-trivial.
    const cov = await db.pool.query<{ county_adcode: string; area_km2: number }>(
      "SELECT county_adcode, area_km2 FROM patrol_coverage WHERE run_id = $1 AND scenario = 'change'",
      [run.id],
    );
    expect(cov.rows.length).toBeGreaterThan(0);
    const sum = cov.rows.reduce((s, r) => s + r.area_km2, 0);
    expect(sum).toBeGreaterThan(done.coveredKm2! * 0.5);
    expect(sum).toBeLessThanOrEqual(done.coveredKm2! * 1.001);
    // Every clue is valid and in its county; planted damage is found (the floor is loose: this
    // is the general change detector; scenario accuracy is the detectors' evaluation).
    const clueRows = await db.pool.query(
      `SELECT count(*)::int AS n, count(county_adcode)::int AS with_county, bool_and(ST_IsValid(geom)) AS valid
         FROM clues WHERE merged_into IS NULL`,
    );
    expect(clueRows.rows[0]).toEqual({ n: firstClues.length, with_county: firstClues.length, valid: true });
    const truth = JSON.parse(await readFile(join(region.dir, 'truth.geojson'), 'utf8'));
    const hits = await db.pool.query<{ hit: number }>(
      `SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM clues c WHERE c.merged_into IS NULL AND ST_Intersects(c.geom, t.g)))::int AS hit
         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(f->>'geometry'), 4326) AS g
                 FROM jsonb_array_elements($1::jsonb->'features') f WHERE f->'properties'->>'expected' = 'clue') t`,
      [JSON.stringify(truth)],
    );
    expect(hits.rows[0]!.hit).toBeGreaterThan(0);
    // Chain of custody: every new clue records the SHA-256 of its input scenes' assets.
    const custody = await db.pool.query<{
      inputs: {
        before: string[];
        after: string[];
        custody: Record<string, Record<string, { sha256: string }>>;
      };
    }>('SELECT inputs FROM clues WHERE run_id = $1 ORDER BY id LIMIT 1', [run.id]);
    const inputs = custody.rows[0]!.inputs;
    expect(Object.keys(inputs.custody).sort()).toEqual([...inputs.before, ...inputs.after].sort());
    for (const assets of Object.values(inputs.custody))
      for (const a of Object.values(assets)) expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Per-tile stage timings are recorded for the benchmark breakdown.
    const stages = await db.pool.query<{ stages: Record<string, number> }>(
      'SELECT stages FROM patrol_tiles WHERE run_id = $1',
      [run.id],
    );
    for (const r of stages.rows)
      expect(Object.keys(r.stages).sort()).toEqual([
        'composite',
        'database',
        'decode',
        'inference',
        'polygonize',
        'read',
      ]);
  });

  it('re-delivered tile jobs of a finished run write nothing', async () => {
    const before = await db.pool.query('SELECT count(*)::int AS n FROM detections');
    // Jobs with new ids for the same tiles: BullMQ runs them; the tile rows say "done".
    const tiles = await db.pool.query<{ tile_id: string }>(
      'SELECT tile_id FROM patrol_tiles WHERE run_id = $1',
      [firstRun],
    );
    await pw.queue.addBulk(
      tiles.rows.map((t) => ({
        name: 'tile',
        data: { runId: firstRun, tileId: t.tile_id },
        opts: { jobId: `dup-${firstRun}-${t.tile_id}` },
      })),
    );
    await enqueueTiles(
      pw.queue,
      firstRun,
      tiles.rows.map((t) => t.tile_id),
    );
    const t0 = Date.now();
    const busy = async () => {
      const c = await pw.queue.getJobCounts('waiting', 'active');
      return (c.waiting ?? 0) + (c.active ?? 0) > 0;
    };
    while (await busy()) {
      if (Date.now() - t0 > 30_000) throw new Error('queue did not drain');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 300));
    const after = await db.pool.query('SELECT count(*)::int AS n FROM detections');
    expect(after.rows[0].n).toBe(before.rows[0].n);
    expect(await openClues()).toEqual(firstClues);
  });

  it('a second patrol of the same site updates the same clues (seen again) instead of new ones', async () => {
    // Dismiss one clue and put one under remediation, as prosecutors would have.
    const [dismissed, remediated] = firstClues;
    await db.pool.query(
      "UPDATE clues SET status = 'dismissed', dismiss_reason = 'lawful_or_permitted' WHERE id = $1",
      [dismissed!.id],
    );
    await db.pool.query("UPDATE clues SET status = 'remediation_check' WHERE id = $1", [remediated!.id]);
    const run = await planPatrol(deps(), {
      aoi: region.aoi,
      before: region.before,
      after: region.after,
      scenarios: ['change'],
      sensors: ['sentinel-2-l2a'],
      actor: 'test',
    });
    const done = await waitFor(run.id, ['done', 'failed']);
    expect(done.status).toBe('done');
    const now = await openClues();
    expect(now.map((c) => [c.id, c.scenario, c.area])).toEqual(
      firstClues.map((c) => [c.id, c.scenario, c.area]),
    );
    expect(now.every((c) => c.runs_seen === 2)).toBe(true);
    const again = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM clue_events WHERE kind = 'seen_again' AND data->>'run_id' = $1",
      [run.id],
    );
    expect(again.rows[0]!.n).toBe(firstClues.length);
    // Same size: the dismissed clue stays dismissed; the remediated one is still damaged.
    const d = await db.pool.query('SELECT status FROM clues WHERE id = $1', [dismissed!.id]);
    expect(d.rows[0].status).toBe('dismissed');
    const r = await db.pool.query('SELECT recheck, recheck_at FROM clues WHERE id = $1', [remediated!.id]);
    expect(r.rows[0]).toEqual({ recheck: 'still_damaged', recheck_at: region.after.to });
    const ev = await db.pool.query<{ data: { result: string } }>(
      "SELECT data FROM clue_events WHERE clue_id = $1 AND kind = 'recheck'",
      [remediated!.id],
    );
    expect(ev.rows.map((e) => e.data.result)).toEqual(['still_damaged']);
  });

  it('cancel stops a run; resume finishes it with nothing duplicated', async () => {
    await pw.worker.pause(true);
    try {
      const run = await planPatrol(deps(), {
        aoi: region.aoi,
        before: region.before,
        after: region.after,
        scenarios: ['change'],
        sensors: ['sentinel-2-l2a'],
        actor: 'test',
      });
      const cancelled = await cancelPatrol(db.pool, pw.queue, run.id);
      expect(cancelled.status).toBe('cancelled');
      await expect(cancelPatrol(db.pool, pw.queue, run.id)).rejects.toMatchObject({ code: 'PATROL_STATE' });
      // A job the worker had already fetched when it paused may finish its tile before the
      // cancel lands (it started while the run was running); after it, nothing more is done.
      const doneAtCancel = (await getRun(db.pool, run.id))!.tilesDone;
      expect(doneAtCancel).toBeLessThanOrEqual(1);
      pw.worker.resume();
      await new Promise((r) => setTimeout(r, 1500));
      expect((await getRun(db.pool, run.id))!.tilesDone).toBe(doneAtCancel);
      const resumed = await resumePatrol(db.pool, pw.queue, run.id);
      expect(resumed.status).toBe('running');
      const done = await waitFor(run.id, ['done', 'failed']);
      expect(done).toMatchObject({ status: 'done', tilesDone: 4, tilesFailed: 0 });
      const now = await openClues();
      expect(now.map((c) => c.id)).toEqual(firstClues.map((c) => c.id));
    } finally {
      pw.worker.resume();
    }
  });

  it('refuses bad requests with a code and stores nothing', async () => {
    const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM patrol_runs')).rows[0].n;
    const n0 = await count();
    const base = { before: region.before, after: region.after, actor: 'test' };
    const bowtie = {
      type: 'Polygon',
      coordinates: [
        [
          [117.7, 49.37],
          [117.75, 49.41],
          [117.75, 49.37],
          [117.7, 49.41],
          [117.7, 49.37],
        ],
      ],
    };
    await expect(planPatrol(deps(), { ...base, aoi: bowtie })).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(planPatrol(deps(), { ...base, county: '999999' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(planPatrol(deps(), { ...base, aoi: region.aoi, scenarios: ['nope'] })).rejects.toMatchObject(
      {
        code: 'VALIDATION',
      },
    );
    await expect(
      planPatrol(deps(), { ...base, aoi: region.aoi, before: { from: '2025-07-01', to: '2025-07-30' } }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    await expect(
      planPatrol(deps(), { ...base, aoi: region.aoi, after: { from: '2025-02-30', to: '2025-08-01' } }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    const huge = {
      type: 'Polygon',
      coordinates: [
        [
          [115.5, 47],
          [126, 47],
          [126, 53.3],
          [115.5, 53.3],
          [115.5, 47],
        ],
      ],
    };
    await expect(planPatrol(deps(), { ...base, aoi: huge })).rejects.toMatchObject({ code: 'AOI_TOO_LARGE' });
    expect(await count()).toBe(n0);
  });
});
