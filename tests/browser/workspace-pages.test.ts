import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { ROOT } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  ARTIFACTS,
  COUNTY_A,
  login,
  mapErrors,
  seed,
  startApp,
  type Watched,
  watchedPage,
} from './workspace-support.ts';

/**
 * The workspace's other views in Chromium: the dashboard against /stats, the field team's
 * read-and-upload UI on a tablet, and — once their services have landed in git — the patrol
 * launcher, inspection packets and the detector pages.
 */
const landed = (route: string) =>
  existsSync(resolve(ROOT, `services/apps/api/routes/${route}.ts`)) &&
  readFileSync(resolve(ROOT, 'services/apps/api/app.ts'), 'utf8').includes(`routes/${route}.ts`);
const patrolsAvailable = landed('patrols');
const packetsAvailable = landed('packets');
const detectorsAvailable = landed('detectors');

let db: TestDatabase;
let app: FastifyInstance;
let base: string;
let browser: Browser;
const watched: Watched[] = [];
const POLL = { timeout: 15_000 };

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db);
  ({ app, base } = await startApp(db));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

async function open(username: string, viewport?: { width: number; height: number }) {
  const w = await watchedPage(browser, base, viewport);
  watched.push(w);
  await login(w.page, base, username);
  return w;
}

describe('workspace views', () => {
  it('dashboard shows the figures and charts of /stats', async () => {
    const { page } = await open('ana');
    await page.click('#nav a[data-view="dashboard"]');
    await page.waitForSelector('body[data-dashboard-ready="true"]');
    const stats = (await (await fetch(`${base}/stats`)).json()) as {
      patrolled_km2: number;
      totals: { clues: number; confirmed: number; cases_filed: number; area_mu: number };
      by_scenario: { key: string; clues: number; confirmed: number; cases_filed: number }[];
      by_county: { key: string; clues: number }[];
      by_month: { key: string; clues: number }[];
    };
    expect(stats.totals.clues).toBe(8);
    const card = async (id: string) => Number(await page.getAttribute(`#${id} .card-value`, 'data-value'));
    expect(await card('card-km2')).toBeCloseTo(stats.patrolled_km2, 6);
    expect(stats.patrolled_km2).toBeGreaterThan(1000);
    expect(await card('card-clues')).toBe(stats.totals.clues);
    expect(await card('card-confirmed')).toBe(stats.totals.confirmed);
    expect(await card('card-cases')).toBe(stats.totals.cases_filed);
    expect(await card('card-area')).toBeCloseTo(stats.totals.area_mu, 6);
    const bars = (sel: string) =>
      page.$$eval(`${sel} g.bar`, (gs) =>
        gs.map((g) => ({ key: g.getAttribute('data-key'), clues: Number(g.getAttribute('data-value')) })),
      );
    expect(await bars('#chart-scenario')).toEqual(
      stats.by_scenario.map((g) => ({ key: g.key, clues: g.clues })),
    );
    expect(await bars('#chart-county')).toEqual(stats.by_county.map((g) => ({ key: g.key, clues: g.clues })));
    expect(await bars('#chart-month')).toEqual(stats.by_month.map((g) => ({ key: g.key, clues: g.clues })));
    expect(await page.locator('#chart-scenario').textContent()).toContain('矿场监督');
    const mine = stats.by_scenario.find((g) => g.key === 'mine')!;
    expect(await page.locator('#chart-scenario g.bar[data-key="mine"] text.value').textContent()).toBe(
      `${mine.clues} · 已确认 ${mine.confirmed} · 已立案 ${mine.cases_filed}`,
    );
    expect(new URL(page.url()).hash).toContain('view=dashboard');
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-dashboard.png'), fullPage: true });
    // A reload restores the view from the URL.
    await page.reload();
    await page.waitForSelector('body[data-dashboard-ready="true"]');
  });

  it('field team on a tablet: reads clues and uploads photos, but has no review actions', async () => {
    const { page } = await open('fld', { width: 820, height: 1180 });
    const first = page.locator('#clue-list li[data-clue-id]').first();
    const id = Number(await first.getAttribute('data-clue-id'));
    await first.click();
    await page.waitForSelector(`.detail-body[data-clue="${id}"]`);
    expect(await page.locator('#actions').count()).toBe(0);
    expect(await page.locator('#comment-form').count()).toBe(0);
    expect(await page.locator('.detail-body').textContent()).toContain('现场核查人员只能查看和上传照片。');
    expect(await page.locator('#photo-input').count()).toBe(1);
    expect(await page.locator('#nav a[data-view="patrols"]').isVisible()).toBe(false);
    expect(await page.locator('#nav a[data-view="detectors"]').isVisible()).toBe(false);
    const before = (await db.pool.query('SELECT status FROM clues WHERE id = $1', [id])).rows[0].status;
    await page.keyboard.press('c');
    await expect
      .poll(() => page.locator('#detail-msg').textContent(), POLL)
      .toBe('当前角色无可用的审查操作。');
    expect((await db.pool.query('SELECT status FROM clues WHERE id = $1', [id])).rows[0].status).toBe(before);
    // Touch-sized controls.
    const h = await page.$eval('#logout', (b) => b.getBoundingClientRect().height);
    expect(h).toBeGreaterThanOrEqual(40);
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-tablet.png') });
  });

  it.skipIf(!patrolsAvailable)(
    'launcher starts a patrol over a county and follows its progress (SSE)',
    async () => {
      const { page } = await open('ana');
      await page.click('#nav a[data-view="patrols"]');
      await page.waitForSelector('#patrol-form');
      await page.selectOption('#patrol-county', COUNTY_A);
      await page.fill('#patrol-name', '浏览器测试巡查');
      const events = page.waitForRequest((r) => /\/patrols\/[^/]+\/events$/.test(new URL(r.url()).pathname));
      await page.click('#patrol-start');
      await events;
      await page.waitForSelector('#patrol-progress');
      const runs = await db.pool.query<{ id: string; name: string; tiles_total: number }>(
        "SELECT id, name, tiles_total FROM patrol_runs WHERE name = '浏览器测试巡查'",
      );
      expect(runs.rows).toHaveLength(1);
      await expect
        .poll(async () => Number(await page.getAttribute('#patrol-progress', 'data-total')), POLL)
        .toBe(runs.rows[0]!.tiles_total);
      await expect
        .poll(() => page.locator(`#patrol-list li[data-patrol-id="${runs.rows[0]!.id}"]`).count(), POLL)
        .toBe(1);
      // A tile finishes with a new clue (as a worker would record it): the progress stream
      // reports it, and the clue layer and list are refreshed.
      const runId = runs.rows[0]!.id;
      const before = Number((await db.pool.query('SELECT count(*)::int AS n FROM clues')).rows[0].n);
      const tile = (
        await db.pool.query<{ tile_id: string }>(
          'SELECT tile_id FROM patrol_tiles WHERE run_id = $1 ORDER BY tile_id LIMIT 1',
          [runId],
        )
      ).rows[0]!.tile_id;
      await db.pool.query(
        `WITH c AS (
           INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, county_adcode, detector, model_version, run_id)
           SELECT 'mine', 0.9, g, ST_Area(g::geography), '2025-08-20', '2025-08-20', $3, 'mine', '1.0.0', $1::uuid
             FROM (SELECT ST_Multi(ST_MakeEnvelope(117.45, 49.45, 117.454, 49.453, 4326)) AS g) s
           RETURNING id, geom, area_m2)
         INSERT INTO detections (run_id, tile_id, scenario, clue_id, confidence, geom, area_m2)
         SELECT $1::uuid, $2, 'mine', c.id, 0.9, c.geom, c.area_m2 FROM c`,
        [runId, tile, COUNTY_A],
      );
      await db.pool.query(
        "UPDATE patrol_tiles SET status = 'done', finished_at = now() WHERE run_id = $1 AND tile_id = $2",
        [runId, tile],
      );
      await db.pool.query(
        "UPDATE patrol_runs SET status = 'running', started_at = now(), tiles_done = 1 WHERE id = $1",
        [runId],
      );
      await expect.poll(() => page.locator('#patrol-new-clues').textContent(), POLL).toBe('1 新线索');
      await expect
        .poll(async () => Number(await page.getAttribute('#patrol-progress', 'data-done')), POLL)
        .toBe(1);
      const tiles = await page.evaluate(() => {
        const m = (window as unknown as { __skypatrolMap?: { getSource(id: string): { tiles?: string[] } } })
          .__skypatrolMap;
        return m?.getSource('clues')?.tiles?.[0] ?? '';
      });
      expect(tiles).toMatch(/[?&]v=\d+/);
      await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-patrol-progress.png') });
      await page.click('#nav a[data-view="map"]');
      await expect.poll(() => page.locator('#count').textContent(), POLL).toBe(`共 ${before + 1} 条`);
      await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-patrol.png') });
    },
  );

  it.skipIf(!packetsAvailable)('downloads the inspection packet of a clue', async () => {
    const { page } = await open('pro');
    const first = page.locator('#clue-list li[data-clue-id]').first();
    const id = Number(await first.getAttribute('data-clue-id'));
    await first.click();
    await page.waitForSelector('#packet-link');
    expect(await page.locator('#packet-link').textContent()).toBe('生成核查包');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#packet-link')]);
    const path = await download.path();
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(download.suggestedFilename()).toMatch(new RegExp(`${id}`));
  });

  it.skipIf(!detectorsAvailable)(
    'detector page: metrics, PR curve and a threshold slider reading the curve',
    async () => {
      const { page } = await open('ana');
      await page.click('#nav a[data-view="detectors"]');
      await page.waitForSelector('body[data-detector-ready]');
      const id = await page.evaluate(() => document.body.dataset.detectorReady);
      const one = (await (await fetch(`${base}/detectors/${id}`)).json()) as {
        metrics?: {
          prCurve?: { threshold: number; precision: number }[];
          calibration?: { pr?: { threshold: number; precision: number }[] };
          heldOut?: { multiLabel?: { overall?: { f1: number } } };
        };
      };
      // Held-out multi-label figures (every scenario a clue names, every change under it) are shown.
      const multi = one.metrics?.heldOut?.multiLabel?.overall;
      if (multi) {
        const text = await page.locator('#metrics-multi-label').textContent();
        expect(text).toContain(multi.f1.toFixed(3));
      }
      const curve = one.metrics?.prCurve ?? one.metrics?.calibration?.pr ?? [];
      if (curve.length) {
        await page.waitForSelector('svg.chart.pr polyline');
        expect(await page.locator('svg.chart.pr circle.pt').count()).toBe(curve.length);
        const lowest = curve.reduce((a, b) => (b.threshold < a.threshold ? b : a));
        await page.$eval(
          '#threshold',
          (el, v) => {
            (el as HTMLInputElement).value = String(v);
            el.dispatchEvent(new Event('input'));
          },
          lowest.threshold,
        );
        expect(await page.locator('#threshold-value').textContent()).toBe(lowest.threshold.toFixed(2));
        expect(await page.locator('#at-precision').textContent()).toBe(lowest.precision.toFixed(3));
      }
      await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-detectors.png'), fullPage: true });
    },
  );

  it('no page logged a console error, requested anything external, or hit a map error', async () => {
    for (const w of watched) {
      expect(w.errors).toEqual([]);
      expect(w.external).toEqual([]);
      expect(await mapErrors(w.page)).toEqual([]);
    }
  });
});
