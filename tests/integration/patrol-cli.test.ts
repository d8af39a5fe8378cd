import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { loadRegion, type Region, smallRegion } from '../support/region.ts';

/** `skypatrol patrol` as a process: bad input gets one coded line; a patrol with its own worker runs to the end. */
let db: TestDatabase;
let region: Region;
let env: Record<string, string>;
let aoiFile: string;

beforeAll(async () => {
  db = await createTestDatabase();
  region = await smallRegion(7);
  await loadRegion(db.pool, region);
  env = {
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    SKYPATROL_QUEUE_PREFIX: `sp-cli-${randomBytes(4).toString('hex')}`,
    SKYPATROL_ONNX_THREADS: '1',
  };
  aoiFile = join(tmpdir(), `aoi-${randomBytes(4).toString('hex')}.geojson`);
  // A small square inside one tile of the region.
  await writeFile(
    aoiFile,
    JSON.stringify({
      type: 'Feature',
      properties: {},
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [117.7, 49.38],
            [117.71, 49.38],
            [117.71, 49.39],
            [117.7, 49.39],
            [117.7, 49.38],
          ],
        ],
      },
    }),
  );
}, 180_000);
afterAll(async () => {
  await db.drop();
});

const windows = ['--before', '2024-06-01/2024-06-30', '--after', '2025-06-01/2025-08-31'];

describe('skypatrol patrol', { timeout: 300_000 }, () => {
  it('refuses bad input with one coded line and stores nothing', async () => {
    const missing = await runCli(['patrol', '--aoi', '/nonexistent/aoi.geojson', ...windows], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^skypatrol: VALIDATION: cannot read --aoi \/nonexistent\/aoi.geojson: ENOENT/,
    );
    const window = await runCli(
      ['patrol', '--aoi', aoiFile, '--before', '2024-06', '--after', '2025-06-01/2025-08-31'],
      env,
    );
    expect(window.code).toBe(1);
    expect(window.stderr).toMatch(/a window FROM\/TO/);
    const scenario = await runCli(['patrol', '--aoi', aoiFile, ...windows, '--scenarios', 'nope'], env);
    expect(scenario.stderr).toMatch(/^skypatrol: VALIDATION: unknown scenario nope/);
    const county = await runCli(['patrol', '--aoi', '999999', ...windows], env);
    expect(county.stderr).toMatch(/^skypatrol: NOT_FOUND: county 999999/);
    // With a worker started in the process: still one coded line (closing a worker that was
    // still connecting used to kill the process with BullMQ's "Connection is closed" instead).
    const none = await runCli(['patrol', '--aoi', aoiFile, ...windows, '--with-worker'], {
      ...env,
      SKYPATROL_DETECTORS_DIR: '/nonexistent/detectors',
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(
      /^skypatrol: VALIDATION: no detectors are installed in \/nonexistent\/detectors/,
    );
    expect(none.stderr).not.toMatch(/Connection is closed/);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM patrol_runs')).rows[0].n).toBe(0);
  });

  it('with Redis unreachable the run is stored, with a warning, for the workers to queue later', async () => {
    const r = await runCli(
      ['patrol', '--aoi', aoiFile, ...windows, '--scenarios', 'change'],
      { ...env, REDIS_URL: 'redis://127.0.0.1:1' },
      60_000,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^skypatrol: warning: the queue \(Redis\) is unreachable/m);
    const id = /^run ([0-9a-f-]{36})/m.exec(r.stdout)![1];
    const row = await db.pool.query('SELECT status, tiles_total FROM patrol_runs WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ status: 'queued', tiles_total: 1 });
    await db.pool.query("UPDATE patrol_runs SET status = 'cancelled' WHERE id = $1", [id]);
  });

  it('--with-worker plans the run, processes its tile with a progress line per tile, and prints the summary', async () => {
    const r = await runCli(
      [
        'patrol',
        '--aoi',
        aoiFile,
        ...windows,
        '--scenarios',
        'change',
        '--sensors',
        'sentinel-2-l2a',
        '--with-worker',
      ],
      env,
      240_000,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^run [0-9a-f-]{36}: 1 tiles queued \(change\)$/m);
    expect(r.stdout).not.toMatch(/warning/);
    expect(r.stdout).toMatch(/巡查 patrol \[#{30}\] 1\/1 tiles, \d+ clues done/);
    expect(r.stdout).toMatch(/巡查面积 patrolled: \d+\.\d km² clear-observed/);
    const runId = /^run ([0-9a-f-]{36})/m.exec(r.stdout)![1];
    const status = await runCli(['patrol', 'status', runId!], env);
    expect(status.stdout).toContain(`run ${runId}: done`);
  });
});
