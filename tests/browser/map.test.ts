import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { launchChromium } from '../support/browser.ts';
import { ROOT } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

/** The map page in Debian's Chromium against the real API and a database of its own. */
const ARTIFACTS = resolve(ROOT, 'tests/artifacts');
let db: TestDatabase;
let app: FastifyInstance;
let base: string;
let browser: Browser;

const square = (x: number, y: number, d = 0.002) =>
  JSON.stringify({
    type: 'MultiPolygon',
    coordinates: [
      [
        [
          [x, y],
          [x + d, y],
          [x + d, y + d],
          [x, y + d],
          [x, y],
        ],
      ],
    ],
  });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  db = await createTestDatabase();
  for (let i = 0; i < 3; i++) {
    await db.pool.query(
      `INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, detector, model_version)
       SELECT 'change', $2, g, ST_Area(g::geography), '2024-07-01', '2024-07-01', 'change', '0.1.0'
         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s`,
      [square(119.7 + i * 0.01, 49.2), 0.7 + i * 0.1],
    );
  }
  app = await build(
    loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      SKYPATROL_LOG_LEVEL: 'silent',
      SKYPATROL_WEB_DIR: resolve(ROOT, 'web/dist'),
    }),
  );
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await db?.drop();
});

describe('map page', () => {
  it('shows the stored clues on the map and in the list, in Chinese, with no console errors', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('response', (res) => {
      if (res.status() >= 400) errors.push(`${res.status()} ${res.url()}`);
    });
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(base) && !req.url().startsWith('data:') && !req.url().startsWith('blob:'))
        external.push(req.url());
    });

    await page.goto(`${base}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await expect.poll(() => page.locator('[data-clue-id]').count()).toBe(3);
    expect(await page.locator('#count').textContent()).toBe('(3)');
    expect(await page.locator('#health').textContent()).toBe('服务正常');

    // The polygons are rendered: MapLibre can query them at the clue's position.
    const rendered = await page.evaluate(() => document.querySelector('canvas.maplibregl-canvas') !== null);
    expect(rendered).toBe(true);

    await page.locator('[data-clue-id]').first().click();
    await page.waitForSelector('.maplibregl-popup-content');
    const popup = await page.locator('.maplibregl-popup-content').textContent();
    expect(popup).toContain('置信度');
    expect(popup).toContain('亩');
    await page.screenshot({ path: resolve(ARTIFACTS, 'map-zh.png') });

    await page.click('#lang');
    expect(await page.locator('.subtitle').textContent()).toMatch(/clue map/);
    await page.screenshot({ path: resolve(ARTIFACTS, 'map-en.png') });

    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await page.close();
  });
});
