import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { hashPassword } from '../../services/adapters/auth/crypto.ts';
import { createUser } from '../../services/adapters/postgis/user-store.ts';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { ROOT } from '../support/cli.ts';
import type { TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

/** Shared set-up of the workspace browser tests: a seeded database, the real API + web bundle. */
export const ARTIFACTS = resolve(ROOT, 'tests/artifacts');
export const PASSWORD = 'correct horse battery staple';
export const COUNTY_A = '150781';
export const COUNTY_B = '150782';
export const PERMIT_NO = '临许-2024-017';
export const HOLDER = '呼伦贝尔某建设有限公司';

/** [scenario, status, county, x, y, confidence, priority, first_seen] */
export const CLUES: [string, string, string, number, number, number, number, string][] = [
  ['temporary-land', 'new', COUNTY_A, 117.105, 49.105, 0.93, 2, '2025-07-03'],
  ['mine', 'new', COUNTY_A, 117.2, 49.2, 0.88, 0, '2025-07-10'],
  ['river', 'new', COUNTY_A, 117.25, 49.15, 0.81, 1, '2025-06-21'],
  ['grassland', 'in_review', COUNTY_A, 117.3, 49.3, 0.77, 0, '2025-08-02'],
  ['wetland', 'new', COUNTY_A, 117.35, 49.25, 0.7, 0, '2025-08-15'],
  ['mine', 'confirmed', COUNTY_A, 117.4, 49.35, 0.95, 3, '2025-05-30'],
  ['grassland', 'new', COUNTY_B, 117.7, 49.2, 0.66, 0, '2025-07-22'],
  ['black-soil', 'dismissed', COUNTY_B, 117.8, 49.3, 0.6, 0, '2025-06-11'],
];
export const CLUES_IN_A = CLUES.filter((c) => c[2] === COUNTY_A).length;

export async function seed(db: TestDatabase): Promise<void> {
  await db.pool.query(
    `INSERT INTO zones (kind, properties, geom) VALUES
       ('admin_division', $1, ST_Multi(ST_MakeEnvelope(117.0, 49.0, 117.5, 49.5, 4326))),
       ('admin_division', $2, ST_Multi(ST_MakeEnvelope(117.5, 49.0, 118.0, 49.5, 4326))),
       ('temporary_land_permit', $3, ST_Multi(ST_MakeEnvelope(117.10, 49.10, 117.108, 49.108, 4326))),
       ('wetland_reserve', '{"name":"测试湿地保护区"}', ST_Multi(ST_MakeEnvelope(117.34, 49.24, 117.36, 49.26, 4326)))`,
    [
      JSON.stringify({ name: '测试旗甲', adcode: COUNTY_A, level: 'county' }),
      JSON.stringify({ name: '测试旗乙', adcode: COUNTY_B, level: 'county' }),
      JSON.stringify({ permit_no: PERMIT_NO, holder: HOLDER, reclaim_by: '2025-06-30' }),
    ],
  );
  for (const [scenario, status, county, x, y, conf, prio, first] of CLUES) {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO clues (scenario, status, dismiss_reason, confidence, priority, geom, area_m2, first_seen, last_seen,
                          county_adcode, detector, model_version, before_scene, after_scene)
       SELECT $1, $2, CASE WHEN $2 = 'dismissed' THEN 'false_detection' END, $6, $7, g, ST_Area(g::geography), $8::date, $8::date,
              $3, $1, '1.0.0', 'S2A_TEST_20240615', 'S2B_TEST_20250712'
         FROM (SELECT ST_Multi(ST_MakeEnvelope($4::float8, $5::float8, $4::float8 + 0.004, $5::float8 + 0.003, 4326)) AS g) s
       RETURNING id`,
      [scenario, status, county, x, y, conf, prio, first],
    );
    await db.pool.query(
      `INSERT INTO clue_events (clue_id, actor, kind, to_status, data) VALUES ($1, 'detector', 'created', 'new', '{}')`,
      [rows[0]!.id],
    );
  }
  const run = await db.pool.query<{ id: string }>(
    `INSERT INTO patrol_runs (aoi, before_from, before_to, after_from, after_to, scenarios, status)
     VALUES (ST_Multi(ST_MakeEnvelope(117, 49, 118, 49.5, 4326)), '2024-06-01', '2024-08-31', '2025-06-01', '2025-08-31', '{mine}', 'done')
     RETURNING id`,
  );
  // The temporary-land site was also found by the grassland detector (folded into its clue).
  await db.pool.query(
    `INSERT INTO detections (run_id, tile_id, scenario, clue_id, confidence, geom, area_m2, properties)
     SELECT $1, 'T-A', scenario, id, confidence, geom, area_m2, '{"also_scenarios":["grassland"]}'
       FROM clues WHERE scenario = 'temporary-land'`,
    [run.rows[0]!.id],
  );
  await db.pool.query(
    `INSERT INTO patrol_tiles (run_id, tile_id, bounds, status, coverage, finished_at)
     VALUES ($1, 'T-A', ST_MakeEnvelope(117, 49, 117.5, 49.5, 4326), 'done',
             ST_Multi(ST_MakeEnvelope(117, 49, 117.5, 49.5, 4326)), '2025-08-31T00:00:00Z')`,
    [run.rows[0]!.id],
  );
  const hash = await hashPassword(PASSWORD);
  await createUser(db.pool, {
    username: 'ana',
    displayName: '分析员小王',
    passwordHash: hash,
    role: 'analyst',
    counties: [],
  });
  await createUser(db.pool, {
    username: 'pro',
    displayName: '检察官李',
    passwordHash: hash,
    role: 'prosecutor',
    counties: [COUNTY_A],
  });
  await createUser(db.pool, {
    username: 'fld',
    displayName: '核查员赵',
    passwordHash: hash,
    role: 'field',
    counties: [COUNTY_A],
  });
}

export async function startApp(
  db: TestDatabase,
  extra: ((app: FastifyInstance) => Promise<void>)[] = [],
): Promise<{ app: FastifyInstance; base: string }> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const prefix = `sp-webtest-${process.pid}-${randomBytes(3).toString('hex')}`;
  const app = await build(
    loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      SKYPATROL_LOG_LEVEL: 'silent',
      SKYPATROL_WEB_DIR: resolve(ROOT, 'web/dist'),
      // Patrol jobs of these tests go to a queue of their own (no worker of anyone else takes them).
      SKYPATROL_QUEUE_PREFIX: prefix,
    }),
    { pool: db.pool },
  );
  for (const register of extra) await app.register(register);
  // Closing the app also removes this test's queue keys from Redis.
  app.addHook('onClose', async () => {
    const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base };
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and HTTP ≥ 400 responses. */
  errors: string[];
  /** Requests to anything but our server (must stay empty: offline). */
  external: string[];
}

/** A fresh browser context (own cookies and storage) with a watched page. */
export async function watchedPage(
  browser: Browser,
  base: string,
  viewport = { width: 1366, height: 860 },
): Promise<Watched> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  const external: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (res) => {
    if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
  });
  page.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
  });
  return { context, page, errors, external };
}

/** Sign in through the form and wait for the workspace. */
export async function login(page: Page, base: string, username: string, hash = ''): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('#login-form');
  await page.fill('#login-user', username);
  await page.fill('#login-pass', PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
}

/** Map errors MapLibre reported (collected by the page instead of printed). */
export const mapErrors = (page: Page): Promise<string[]> =>
  page.evaluate(() => (window as unknown as { __mapErrors: string[] }).__mapErrors ?? []);
