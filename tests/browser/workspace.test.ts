import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import {
  ARTIFACTS,
  CLUES_IN_A,
  HOLDER,
  login,
  mapErrors,
  PERMIT_NO,
  seed,
  startApp,
  type Watched,
  watchedPage,
} from './workspace-support.ts';

/**
 * The workspace in Debian's Chromium against the real API and PostGIS: a prosecutor signs in,
 * filters, opens a clue, compares before/after, reviews (persisted), and works by keyboard.
 */
let db: TestDatabase;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let w: Watched;
let page: Page;
const POLL = { timeout: 15_000 };

const statusOf = async (id: number) =>
  (
    await db.pool.query<{ status: string; dismiss_reason: string | null }>(
      'SELECT status, dismiss_reason FROM clues WHERE id = $1',
      [id],
    )
  ).rows[0]!;
const hashParam = (p: Page, k: string) => new URLSearchParams(new URL(p.url()).hash.slice(1)).get(k);
/** The URL template of the map's clue vector tiles (it carries the server-side filters). */
const clueTileUrl = (p: Page) =>
  p.evaluate(() => {
    const m = (window as unknown as { __skypatrolMap?: { getSource(id: string): { tiles?: string[] } } })
      .__skypatrolMap;
    return m?.getSource('clues')?.tiles?.[0] ?? '';
  });
const listIds = (p: Page) =>
  p.$$eval('#clue-list li[data-clue-id]', (lis) =>
    lis.map((li) => Number((li as HTMLElement).dataset.clueId)),
  );

beforeAll(async () => {
  db = await createTestDatabase();
  await seed(db);
  ({ app, base } = await startApp(db));
  browser = await launchChromium();
  w = await watchedPage(browser, base);
  page = w.page;
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

describe('workspace (prosecutor)', () => {
  it('signs in in Chinese and lists only the clues of the prosecutor’s county', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#login-form');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.locator('#login-form h1').textContent()).toBe('登录天巡工作台');
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-login.png') });
    await login(page, base, 'pro');
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(CLUES_IN_A);
    expect(await page.locator('#count').textContent()).toBe(`共 ${CLUES_IN_A} 条`);
    expect(await page.locator('#who').textContent()).toContain('检察官');
    expect(await page.locator('#health').textContent()).toBe('服务正常');
    // The county filter offers the prosecutor's county only.
    const counties = await page.$$eval('#f-county option', (os) =>
      os.map((o) => (o as HTMLOptionElement).value),
    );
    expect(counties).toEqual(['', '150781']);
    await page.waitForSelector('body[data-map-idle="true"]', { timeout: 30_000 });
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-map.png') });
  });

  it('filters by scenario and priority, keeps the filters in the URL and restores them on reload', async () => {
    await page.selectOption('#f-scenario', ['mine']);
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(2);
    expect(hashParam(page, 'scenario')).toBe('mine');
    await page.selectOption('#f-priority', '3');
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(1);
    expect(hashParam(page, 'prio')).toBe('3');
    // The map's clue tiles carry the same server-side filter.
    const tileUrl = await clueTileUrl(page);
    expect(tileUrl).toContain('scenario=mine');

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(1);
    expect(await page.$eval('#f-priority', (s) => (s as HTMLSelectElement).value)).toBe('3');
    await page.click('#f-reset');
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(CLUES_IN_A);
    expect(hashParam(page, 'scenario')).toBeNull();
  });

  it('lists clues that also concern a scenario when asked, on the list and the map', async () => {
    await page.selectOption('#f-scenario', ['grassland']);
    await page.waitForFunction(() => !document.querySelector('#clue-list[aria-busy="true"]'));
    const own = await page.locator('#clue-list li[data-clue-id]').count();
    // The temporary-land site the grassland detector found too (its also_scenarios).
    await page.check('#f-also');
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(own + 1);
    expect(hashParam(page, 'also')).toBe('1');
    const tileUrl = await clueTileUrl(page);
    expect(tileUrl).toContain('concerns=grassland');
    expect(tileUrl).not.toContain('scenario=');
    await page.click('#f-reset');
    await expect.poll(() => page.locator('#clue-list li[data-clue-id]').count(), POLL).toBe(CLUES_IN_A);
    expect(hashParam(page, 'also')).toBeNull();
  });

  it('opens a clue with areas, zoning overlaps with the permit, history, and both comparison modes', async () => {
    const id = (await db.pool.query<{ id: number }>("SELECT id FROM clues WHERE scenario = 'temporary-land'"))
      .rows[0]!.id;
    await page.click(`#clue-list li[data-clue-id="${id}"]`);
    await page.waitForSelector(`.detail-body[data-clue="${id}"]`);
    expect(hashParam(page, 'clue')).toBe(String(id));
    const area = await page.locator('#fact-area').textContent();
    expect(area).toMatch(/m² · .* 公顷 · .* 亩/);
    // The grassland detector found the same site: the clue says so.
    expect(await page.locator('#detail-also').textContent()).toBe('同时涉及: 草原破坏');
    const zoning = await page.locator('#zoning').textContent();
    expect(zoning).toContain(PERMIT_NO);
    expect(zoning).toContain(HOLDER);
    expect(zoning).toContain('2025-06-30');
    expect(await page.locator('#timeline li[data-kind="created"]').count()).toBe(1);
    expect(await page.locator('#before-label').textContent()).toContain('前时相影像');
    await page.waitForSelector(`body[data-compare-ready="${id}"]`, { timeout: 30_000 });
    expect(await page.locator('#compare').getAttribute('class')).toContain('swipe');
    // Swipe: the after map is clipped at the divider; dragging moves the clip.
    const box = (await page.locator('#compare').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    const clip = await page.$eval('.compare-after', (el) => (el as HTMLElement).style.clipPath);
    expect(clip).toMatch(/inset\(0(px)? 0(px)? 0(px)? 2\d(\.\d+)?%\)/);
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-detail-swipe.png') });
    await page.click('#cmp-side');
    expect(await page.locator('#compare').getAttribute('class')).toContain('side');
    expect(hashParam(page, 'cmp')).toBe('side');
    // Both maps follow each other.
    const centers = await page.evaluate(() => {
      const maps = document.querySelectorAll('#compare .maplibregl-canvas');
      return maps.length;
    });
    expect(centers).toBe(2);
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-detail-side.png') });
  });

  it('reviews: the transition, a comment, a priority and a photo persist in PostGIS', async () => {
    const id = Number(hashParam(page, 'clue'));
    await page.click('#actions button[data-to="in_review"]');
    await page.waitForSelector('#detail-status[data-status="in_review"]');
    expect((await statusOf(id)).status).toBe('in_review');
    const ev = await db.pool.query(
      "SELECT actor, from_status, to_status FROM clue_events WHERE clue_id = $1 AND kind = 'transition'",
      [id],
    );
    expect(ev.rows).toEqual([{ actor: 'pro', from_status: 'new', to_status: 'in_review' }]);
    await page.fill('#comment-text', '许可已过复垦期限，建议现场核查。');
    await page.click('#comment-form button[type="submit"]');
    await expect.poll(() => page.locator('#timeline li[data-kind="comment"]').count(), POLL).toBe(1);
    await page.selectOption('#priority-select', '3');
    await expect
      .poll(
        async () => (await db.pool.query('SELECT priority FROM clues WHERE id = $1', [id])).rows[0].priority,
        POLL,
      )
      .toBe(3);
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
      'base64',
    );
    await page.setInputFiles('#photo-input', { name: '现场.png', mimeType: 'image/png', buffer: png });
    await expect.poll(() => page.locator('#timeline li[data-kind="attachment"] img').count(), POLL).toBe(1);
    const att = await db.pool.query('SELECT filename, mime, bytes FROM attachments WHERE clue_id = $1', [id]);
    expect(att.rows).toEqual([{ filename: '现场.png', mime: 'image/png', bytes: png.length }]);
  });

  it('works by keyboard: j/k move with the next clue preloaded, c confirms, d dismisses only with a reason, ? helps', async () => {
    const ids = await listIds(page);
    const cur = Number(hashParam(page, 'clue'));
    const i = ids.indexOf(cur);
    await page
      .locator('body')
      .click({ position: { x: 5, y: 200 } })
      .catch(() => undefined);
    await page.keyboard.press('j');
    await expect.poll(() => Number(hashParam(page, 'clue')), POLL).toBe(ids[i + 1]);
    await page.waitForSelector(`.detail-body[data-clue="${ids[i + 1]}"]`);
    // the one after is fetched in the background
    if (ids[i + 2])
      await expect
        .poll(() => page.evaluate(() => document.body.dataset.preloaded), POLL)
        .toBe(String(ids[i + 2]));
    await page.keyboard.press('k');
    await expect.poll(() => Number(hashParam(page, 'clue')), POLL).toBe(cur);
    await page.keyboard.press('ArrowRight');
    const target = ids[i + 1]!;
    await page.waitForSelector(`.detail-body[data-clue="${target}"]`);
    const before = (await statusOf(target)).status;
    expect(before).toBe('new');
    await page.keyboard.press('c');
    await page.waitForSelector('#detail-status[data-status="in_review"]');
    expect((await statusOf(target)).status).toBe('in_review');
    await page.keyboard.press('c'); // prosecutor: in review → confirmed
    await page.waitForSelector('#detail-status[data-status="confirmed"]');
    expect((await statusOf(target)).status).toBe('confirmed');

    await page.keyboard.press('d');
    await page.waitForSelector('#dismiss-ok');
    await page.click('#dismiss-ok');
    await expect
      .poll(() => page.locator('.dismiss-form .flash.error').textContent(), POLL)
      .toBe('排除线索必须选择理由。');
    expect((await statusOf(target)).status).toBe('confirmed');
    await page.selectOption('#dismiss-reason', 'lawful_or_permitted');
    await page.fill('#dismiss-comment', '已取得临时用地许可');
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-dismiss.png') });
    await page.click('#dismiss-ok');
    await page.waitForSelector('#detail-status[data-status="dismissed"]');
    expect(await statusOf(target)).toEqual({ status: 'dismissed', dismiss_reason: 'lawful_or_permitted' });

    await page.keyboard.press('?');
    await page.waitForSelector('#help');
    expect(await page.locator('#help').textContent()).toContain('下一条线索');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#help').isVisible(), POLL).toBe(false);
  });

  it('switches every visible string to English and back', async () => {
    await page.click('#lang');
    await expect.poll(() => page.locator('html').getAttribute('lang'), POLL).toBe('en');
    expect(await page.locator('#nav a[data-view="map"]').textContent()).toBe('Clue map');
    expect(await page.locator('#count').textContent()).toMatch(/clues$/);
    await page.waitForSelector('.detail-body');
    expect(await page.locator('.detail-body').textContent()).toContain('Zoning and permit overlaps');
    if (await page.locator('#detail-also').count())
      expect(await page.locator('#detail-also').textContent()).toMatch(/^Also concerns: /);
    expect(hashParam(page, 'lang')).toBe('en');
    await page.screenshot({ path: resolve(ARTIFACTS, 'workspace-en.png') });
    // No Chinese left in the chrome of the workspace (data such as permit holders may be Chinese).
    const chrome = await page.evaluate(() =>
      [
        ...document.querySelectorAll(
          '.bar .nav, .bar .subtitle, #health, #logout, .filters, .layers-panel, .list-head, .pager, .detail-head, .detail-body h3',
        ),
      ]
        .map((e) => e.textContent ?? '')
        .join(' '),
    );
    expect(chrome.replaceAll('测试旗甲', '')).not.toMatch(/[\u4e00-\u9fff]/);
    await page.click('#lang');
    await expect.poll(() => page.locator('html').getAttribute('lang'), POLL).toBe('zh-CN');
  });

  it('logged no console error, made no external request and MapLibre reported no error', async () => {
    expect(w.errors).toEqual([]);
    expect(w.external).toEqual([]);
    expect(await mapErrors(page)).toEqual([]);
  });
});
