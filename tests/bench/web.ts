/**
 * Web workspace benchmark, written to docs/benchmarks-web.md with the machine and date:
 * 100,000 clues in a dedicated database (one generate_series INSERT), the real API and web
 * bundle, Debian's Chromium (software WebGL). Measured in the page with performance.now():
 * - first map render: navigation → workspace ready (list + map sources) → map idle (every
 *   tile of the view drawn), at the default view (all clues) and at a zoom-13 street view;
 * - clue-list interactions: filter by scenario, sort by area, next page, open a clue by
 *   click, next clue by keyboard (preloaded), and the server's share (/web/clues latency).
 * Figures are measured, never asserted. Run: npx tsx tests/bench/web.ts (needs npm run build:web).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { hashPassword } from '../../services/adapters/auth/crypto.ts';
import { migrate } from '../../services/adapters/postgis/migrate.ts';
import { createPool } from '../../services/adapters/postgis/pool.ts';
import { createUser } from '../../services/adapters/postgis/user-store.ts';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { launchChromium } from '../support/browser.ts';
import { testRedisUrl } from '../support/env.ts';
import { benchDatabase } from './bench-db.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLUES = Number(process.env.BENCH_CLUES ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PASSWORD = 'bench-password-1';
const PREFIX = `sp-benchweb-${process.pid}`;

if (!existsSync(resolve(ROOT, 'web/dist/index.html'))) {
  console.error('web/dist is missing: run npm run build:web first');
  process.exit(1);
}

const pct = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

const benchDb = await benchDatabase('web');
const dbUrl = new URL(benchDb.url);
const pool = createPool(dbUrl.toString(), 10);
let browser: Browser | undefined;
let app: Awaited<ReturnType<typeof build>> | undefined;

try {
  const c = new pg.Client({ connectionString: dbUrl.toString() });
  await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS postgis');
  await c.end();
  await migrate(dbUrl.toString());

  // Two counties over the demo region and 100,000 clues in one INSERT … generate_series.
  await pool.query(
    `INSERT INTO zones (kind, properties, geom) VALUES
       ('admin_division', '{"name":"陈巴尔虎旗","adcode":"150725","level":"county"}', ST_Multi(ST_MakeEnvelope(116.5, 48.5, 118.5, 50.0, 4326))),
       ('admin_division', '{"name":"新巴尔虎右旗","adcode":"150727","level":"county"}', ST_Multi(ST_MakeEnvelope(118.5, 48.5, 120.5, 50.0, 4326)))`,
  );
  const t0 = performance.now();
  await pool.query(
    `SELECT setseed(0.17);
     INSERT INTO clues (scenario, status, dismiss_reason, confidence, priority, geom, area_m2, first_seen, last_seen,
                        county_adcode, detector, model_version)
     SELECT scenario, status, CASE WHEN status = 'dismissed' THEN 'false_detection' END, confidence, priority,
            g, ST_Area(g::geography), d, d + (random() * 60)::int, CASE WHEN x < 118.5 THEN '150725' ELSE '150727' END,
            scenario, '1.0.0'
       FROM (
         SELECT (ARRAY['temporary-land','forest-encroachment','black-soil','river','grassland','hulun-lake','wetland','mine'])[1 + floor(random() * 8)::int] AS scenario,
                (ARRAY['new','new','new','in_review','field_check','confirmed','case_filed','remediation_check','closed','dismissed'])[1 + floor(random() * 10)::int] AS status,
                (0.5 + random() * 0.5)::real AS confidence, floor(random() * 4)::int AS priority,
                DATE '2024-06-01' + (random() * 450)::int AS d, x,
                ST_Multi(ST_MakeEnvelope(x, y, x + s, y + s * 0.66, 4326)) AS g
           FROM (SELECT 116.6 + random() * 3.8 AS x, 48.6 + random() * 1.3 AS y, 0.0003 + random() * 0.003 AS s
                   FROM generate_series(1, ${CLUES}) n) p
       ) q`,
  );
  await pool.query('ANALYZE clues');
  const loadS = (performance.now() - t0) / 1000;
  const n = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM clues')).rows[0]!.n;
  console.log(`inserted ${n} clues in ${loadS.toFixed(1)} s`);
  await createUser(pool, {
    username: 'bench',
    displayName: 'bench',
    passwordHash: await hashPassword(PASSWORD),
    role: 'analyst',
    counties: [],
  });

  app = await build(
    loadConfig({
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: testRedisUrl(),
      SKYPATROL_LOG_LEVEL: 'silent',
      SKYPATROL_WEB_DIR: resolve(ROOT, 'web/dist'),
      SKYPATROL_QUEUE_PREFIX: PREFIX,
    }),
    { pool },
  );
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();

  /** A fresh, signed-in browser context (cold HTTP cache) and a page. */
  async function freshPage(): Promise<Page> {
    const ctx = await browser!.newContext({ viewport: { width: 1366, height: 860 } });
    const res = await ctx.request.post(`${origin}/auth/login`, {
      data: { username: 'bench', password: PASSWORD },
    });
    if (!res.ok()) throw new Error(`login: ${res.status()}`);
    await ctx.addInitScript(() => localStorage.setItem('skypatrol.signedIn', '1'));
    return ctx.newPage();
  }
  const num = async (page: Page, key: string) =>
    Number(await page.evaluate((k) => document.body.dataset[k], key));

  const firstRender = async (hash: string) => {
    const ready: number[] = [];
    const idle: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const page = await freshPage();
      await page.goto(`${origin}/${hash}`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
      await page.waitForSelector('body[data-map-idle="true"]', { timeout: 120_000 });
      ready.push(await num(page, 'readyAt'));
      idle.push(await num(page, 'mapIdleAt'));
      await page.context().close();
    }
    return { ready, idle };
  };
  const overview = await firstRender('');
  console.log('overview', overview);
  const street = await firstRender('#cam=117.60000,49.20000,13.00');
  console.log('street', street);

  // Interactions on one page; each timed inside the page from the event to the rendered result.
  const page = await freshPage();
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  const listAfter = async (act: () => Promise<void>) => {
    const before = await page.evaluate(() => document.body.dataset.listReady);
    const t = await page.evaluate(() => performance.now());
    await act();
    await page.waitForFunction((b) => document.body.dataset.listReady !== b, before, { timeout: 60_000 });
    return (await num(page, 'listReady')) - t;
  };
  const changeSelect = (sel: string, value: string) => () =>
    page.evaluate(
      ([s, v]) => {
        const el = document.querySelector(s!) as HTMLSelectElement;
        for (const o of el.options) o.selected = o.value === v;
        el.dispatchEvent(new Event('change'));
      },
      [sel, value],
    );
  const filter: number[] = [];
  const sort: number[] = [];
  const next: number[] = [];
  const scenarios = ['mine', 'river', 'grassland', 'wetland', 'black-soil'];
  for (let i = 0; i < RUNS; i++) {
    filter.push(await listAfter(changeSelect('#f-scenario', scenarios[i % scenarios.length]!)));
    sort.push(await listAfter(changeSelect('#sort', i % 2 ? '-confidence' : '-area')));
    next.push(await listAfter(() => page.click('#next-page')));
  }
  const open: number[] = [];
  const key: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const id = await page.getAttribute(`#clue-list li:nth-child(${2 * i + 1})`, 'data-clue-id');
    const t1 = await page.evaluate(() => performance.now());
    await page.click(`#clue-list li[data-clue-id="${id}"]`);
    await page.waitForSelector(`.detail-body[data-clue="${id}"]`);
    open.push((await num(page, 'detailAt')) - t1);
    const nextId = await page.getAttribute(`#clue-list li:nth-child(${2 * i + 2})`, 'data-clue-id');
    await page.waitForFunction((x) => document.body.dataset.preloaded === x, nextId, { timeout: 30_000 });
    const t2 = await page.evaluate(() => performance.now());
    await page.keyboard.press('j');
    await page.waitForSelector(`.detail-body[data-clue="${nextId}"]`);
    key.push((await num(page, 'detailAt')) - t2);
  }
  await page.context().close();

  // The server's share: /web/clues with 100,000 clues, from Node (no browser).
  const api = async (q: string) => {
    const v: number[] = [];
    for (let i = 0; i < RUNS * 2; i++) {
      const t = performance.now();
      const r = await fetch(`${origin}/web/clues${q}`);
      await r.arrayBuffer();
      v.push(performance.now() - t);
    }
    return v;
  };
  const apiDefault = await api('?limit=50');
  const apiFilter = await api('?limit=50&scenario=mine&status=new&min_confidence=0.8');
  const apiArea = await api('?limit=50&sort=-area&offset=500');

  const row = (label: string, v: number[]) =>
    `| ${label} | ${ms(pct(v, 50))} | ${ms(pct(v, 95))} | ${v.length} |`;
  const cpu = cpus();
  const md = [
    '# Web workspace',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, shared with other work; ` +
      `Chromium ${browser.version()} headless with software WebGL (SwiftShader), Node ${process.version}. ` +
      `${n.toLocaleString('en-US')} clues over two counties (inserted by one \`generate_series\` INSERT in ${loadS.toFixed(1)} s); ` +
      'API and web bundle served by the real app on 127.0.0.1. Times in ms, measured in the page with `performance.now()` ' +
      `from navigation (first render) or from the input event to the rendered result; ${RUNS} runs each, every first render in a fresh browser context (cold cache). ` +
      'Script: `tests/bench/web.ts`.',
    '',
    '| first map render | p50 ms | p95 ms | runs |',
    '|---|---|---|---|',
    row('overview of all clues (z≈7): workspace ready (list + map sources)', overview.ready),
    row('overview of all clues: map idle (every tile drawn)', overview.idle),
    row('street view (z13, polygons): workspace ready', street.ready),
    row('street view (z13, polygons): map idle', street.idle),
    '',
    '| clue-list interaction | p50 ms | p95 ms | runs |',
    '|---|---|---|---|',
    row('filter by scenario → list rendered (map tiles re-requested in parallel)', filter),
    row('sort by area / confidence → list rendered', sort),
    row('next page → list rendered', next),
    row('click a clue → detail rendered (not preloaded)', open),
    row('key j → next clue’s detail rendered (preloaded)', key),
    '',
    `| server share: GET /web/clues (50 rows of ${n.toLocaleString('en-US')}) | p50 ms | p95 ms | runs |`,
    '|---|---|---|---|',
    row('newest first, no filter', apiDefault),
    row('scenario + status + min. confidence', apiFilter),
    row('largest first, offset 500', apiArea),
    '',
  ].join('\n');
  await writeFile(resolve(ROOT, 'docs/benchmarks-web.md'), md);
  console.log(md);
} finally {
  await browser?.close();
  await app?.close();
  await pool.end();
  await benchDb.drop();
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}
