import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { searchScenes } from '../../services/adapters/postgis/scene-store.ts';
import { addFromStacApi, addStac, importFolder } from '../../services/usecases/catalog.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { describeShared, oscd, SHARED_DATA } from '../support/shared-data.ts';

/**
 * The scene catalog on real files: STAC Items for each sensor profile written by the test,
 * read from disk and over HTTP (static catalogs walked, a STAC API paged), with failures
 * recorded per item while the rest goes on.
 */
let db: TestDatabase;
let dir: string;
let files: Server;
let api: Server;
let filesUrl: string;
let apiUrl: string;
const apiRequests: unknown[] = [];

const band = (city: string, id: string) => {
  const folder = oscd(city, 'imgs_1');
  return join(folder, readdirSync(folder).find((n) => n.endsWith(`_${id}.tif`))!);
};

function s2Item(id: string, datetime: string, cloud: number, bbox: number[], hrefs: Record<string, string>) {
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    stac_extensions: [],
    id,
    collection: 'sentinel-2-l2a',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [bbox[0], bbox[1]],
          [bbox[2], bbox[1]],
          [bbox[2], bbox[3]],
          [bbox[0], bbox[3]],
          [bbox[0], bbox[1]],
        ],
      ],
    },
    bbox,
    properties: {
      datetime,
      platform: 'sentinel-2a',
      constellation: 'sentinel-2',
      'eo:cloud_cover': cloud,
      'proj:epsg': 4326,
    },
    assets: Object.fromEntries(
      Object.entries(hrefs).map(([k, href]) => [k, { href, type: 'image/tiff; application=geotiff' }]),
    ),
    links: [],
  };
}

async function json(path: string, doc: unknown) {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(doc, null, 1));
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-stac-'));
  // A static catalog: catalog.json → collection → two items (relative links), one item broken.
  const paris = {
    blue: band('paris', 'B02'),
    green: band('paris', 'B03'),
    red: band('paris', 'B04'),
    nir: band('paris', 'B08'),
  };
  // Assets sit beside their items (symlinks to the real OSCD files), as in a published catalog.
  const local: Record<string, string> = {};
  for (const item of ['a', 'b']) {
    await mkdir(join(dir, 's2', item), { recursive: true });
    for (const [k, p] of Object.entries(paris)) await symlink(p, join(dir, 's2', item, `${k}.tif`));
  }
  for (const k of Object.keys(paris)) local[k] = `./${k}.tif`;
  await json(join(dir, 'catalog.json'), {
    type: 'Catalog',
    stac_version: '1.0.0',
    id: 'root',
    description: 'test',
    links: [{ rel: 'child', href: './s2/collection.json' }],
  });
  await json(join(dir, 's2/collection.json'), {
    type: 'Collection',
    stac_version: '1.0.0',
    id: 'sentinel-2-l2a',
    description: 't',
    license: 'proprietary',
    extent: { spatial: { bbox: [[2, 48, 3, 49]] }, temporal: { interval: [[null, null]] } },
    links: [
      { rel: 'item', href: './a/a.json' },
      { rel: 'item', href: './b/b.json' },
      { rel: 'item', href: './broken/broken.json' },
      { rel: 'parent', href: '../catalog.json' },
    ],
  });
  await json(
    join(dir, 's2/a/a.json'),
    s2Item('S2A_PARIS_20240601', '2024-06-01T10:56:00Z', 5, [2.31, 48.79, 2.36, 48.85], local),
  );
  await json(
    join(dir, 's2/b/b.json'),
    s2Item('S2A_PARIS_20240815', '2024-08-15T10:56:00Z', 60, [2.31, 48.79, 2.36, 48.85], local),
  );
  await json(
    join(dir, 's2/broken/broken.json'),
    s2Item('S2A_BROKEN', '2024-07-01T10:56:00Z', 1, [2.31, 48.79, 2.36, 48.85], { red: './missing_B04.tif' }),
  );
  // A Landsat 7 item using the real UTM 18N subset for its three bands.
  const l7 = join(SHARED_DATA, 'real/landsat7-rgb-byte-utm18n.tif');
  await json(join(dir, 'landsat/item.json'), {
    type: 'Feature',
    stac_version: '1.0.0',
    id: 'LE07_L2SP_TEST',
    collection: 'landsat-c2-l2',
    geometry: {
      type: 'Polygon',
      coordinates: [
        [
          [-78.9, 23.5],
          [-76.8, 23.5],
          [-76.8, 25.4],
          [-78.9, 25.4],
          [-78.9, 23.5],
        ],
      ],
    },
    bbox: [-78.9, 23.5, -76.8, 25.4],
    properties: {
      datetime: '2001-07-21T15:30:00Z',
      platform: 'landsat-7',
      'eo:cloud_cover': 20,
      'proj:code': 'EPSG:32618',
    },
    assets: { SR_B3: { href: l7 }, SR_B2: { href: l7 }, SR_B1: { href: l7 } },
  });
  // An ItemCollection with an item lacking a datetime next to a good one.
  await json(join(dir, 'items.json'), {
    type: 'FeatureCollection',
    features: [
      s2Item('S2B_BERCY_20240901', '2024-09-01T10:56:00Z', 0, [2.36, 48.82, 2.4, 48.87], {
        red: band('bercy', 'B04'),
        nir: band('bercy', 'B08'),
      }),
      {
        ...s2Item('S2B_NODATE', '2024-09-01T10:56:00Z', 0, [2.36, 48.82, 2.4, 48.87], {
          red: band('bercy', 'B04'),
        }),
        properties: { platform: 'sentinel-2b' },
      },
    ],
  });

  files = createServer(async (req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    try {
      const body = await readFile(path);
      res.writeHead(200, {
        'content-type': extname(path) === '.json' ? 'application/json' : 'application/octet-stream',
      });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  // A STAC API: POST /search, two items per page, `next` as POST with a token in the body.
  const all = [1, 2, 3, 4, 5].map((i) =>
    s2Item(`S2_API_${i}`, `2024-0${i}-10T03:00:00Z`, i * 10, [119 + i * 0.1, 49, 119.1 + i * 0.1, 49.1], {
      red: 'https://cdn.invalid/r.tif',
      nir: 'https://cdn.invalid/n.tif',
    }),
  );
  api = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/search')) return res.writeHead(404).end();
      const body = JSON.parse(raw || '{}');
      apiRequests.push(body);
      const start = Number(body.token ?? 0);
      const page = all.slice(start, start + 2);
      const links =
        start + 2 < all.length
          ? [
              {
                rel: 'next',
                href: `${apiUrl}/search`,
                method: 'POST',
                body: { token: String(start + 2) },
                merge: true,
              },
            ]
          : [];
      res.writeHead(200, { 'content-type': 'application/geo+json' });
      res.end(JSON.stringify({ type: 'FeatureCollection', features: page, links }));
    });
  });
  await Promise.all([
    new Promise<void>((r) => files.listen(0, '127.0.0.1', r)),
    new Promise<void>((r) => api.listen(0, '127.0.0.1', r)),
  ]);
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => files?.close(r));
  await new Promise((r) => api?.close(r));
  await db.drop();
  await rm(dir, { recursive: true, force: true });
});

describeShared('scene catalog', () => {
  it('walks a static catalog from disk: good items catalogued with hashes, a broken one recorded with its reason', async () => {
    const r = await addStac(db.pool, join(dir, 'catalog.json'));
    expect(r.added.sort()).toEqual(['S2A_PARIS_20240601', 'S2A_PARIS_20240815']);
    expect(r.failed).toEqual([
      { id: 'S2A_BROKEN', code: 'SCENE_MISSING_BAND', message: expect.stringContaining('missing_B04.tif') },
    ]);
    const { rows } = await db.pool.query(
      "SELECT sensor, epsg, cloud_cover, assets FROM scenes WHERE id = 'S2A_PARIS_20240601'",
    );
    expect(rows[0]).toMatchObject({ sensor: 'sentinel-2-l2a', epsg: 4326, cloud_cover: 5 });
    expect(rows[0].assets.red).toMatchObject({
      scale: 0.0001,
      offset: -0.1,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const failed = await db.pool.query("SELECT status, error_code FROM scenes WHERE id = 'S2A_BROKEN'");
    expect(failed.rows[0]).toEqual({ status: 'failed', error_code: 'SCENE_MISSING_BAND' });
  });

  it('reads the same catalog over HTTP, checking remote assets with HEAD when asked', async () => {
    const r = await addStac(db.pool, `${filesUrl}/catalog.json`, { verify: true });
    expect(r.added.sort()).toEqual(['S2A_PARIS_20240601', 'S2A_PARIS_20240815']);
    expect(r.failed).toEqual([
      {
        id: 'S2A_BROKEN',
        code: 'SCENE_MISSING_BAND',
        message: expect.stringContaining('/s2/broken/missing_B04.tif'),
      },
    ]);
    const { rows } = await db.pool.query(
      "SELECT assets->'red'->>'href' AS href FROM scenes WHERE id = 'S2A_PARIS_20240601'",
    );
    expect(rows[0].href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('catalogues a Landsat 7 item in UTM 18N with its profile’s band mapping', async () => {
    const r = await addStac(db.pool, join(dir, 'landsat/item.json'));
    expect(r.added).toEqual(['LE07_L2SP_TEST']);
    const { rows } = await db.pool.query(
      "SELECT sensor, epsg, assets FROM scenes WHERE id = 'LE07_L2SP_TEST'",
    );
    expect(rows[0]).toMatchObject({ sensor: 'landsat-c2-l2', epsg: 32618 });
    expect(Object.keys(rows[0].assets).sort()).toEqual(['blue', 'green', 'red']);
    expect(rows[0].assets.red).toMatchObject({ key: 'SR_B3', scale: 0.0000275, offset: -0.2 });
  });

  it('an ItemCollection keeps its good item when another lacks a datetime', async () => {
    const r = await addStac(db.pool, join(dir, 'items.json'));
    expect(r.added).toEqual(['S2B_BERCY_20240901']);
    expect(r.failed[0]).toMatchObject({
      id: 'S2B_NODATE',
      code: 'SCENE_INVALID',
      message: expect.stringMatching(/datetime/),
    });
  });

  it('a missing source is SCENE_NOT_FOUND, on disk and over HTTP', async () => {
    await expect(addStac(db.pool, join(dir, 'nope.json'))).rejects.toMatchObject({ code: 'SCENE_NOT_FOUND' });
    await expect(addStac(db.pool, `${filesUrl}/nope.json`)).rejects.toMatchObject({
      code: 'SCENE_NOT_FOUND',
    });
  });

  it('pages through a STAC API search (POST /search, next links with merged body)', async () => {
    apiRequests.length = 0;
    const r = await addFromStacApi(db.pool, apiUrl, {
      bbox: [119, 48, 121, 50],
      datetime: '2024-01-01/2024-12-31',
      collections: ['sentinel-2-l2a'],
      limit: 2,
    });
    expect(r.added).toEqual(['S2_API_1', 'S2_API_2', 'S2_API_3', 'S2_API_4', 'S2_API_5']);
    expect(apiRequests).toHaveLength(3);
    expect(apiRequests[0]).toEqual({
      limit: 2,
      bbox: [119, 48, 121, 50],
      datetime: '2024-01-01/2024-12-31',
      collections: ['sentinel-2-l2a'],
    });
    expect(apiRequests[1]).toMatchObject({ limit: 2, token: '2', collections: ['sentinel-2-l2a'] });
  });

  it('searches the catalog by bbox, dates, sensor and cloud cover', async () => {
    const byBox = await searchScenes(db.pool, { bbox: [119.25, 48.9, 119.35, 49.2] });
    expect(byBox.map((s) => s.id)).toEqual(['S2_API_2', 'S2_API_3']);
    const byDate = await searchScenes(db.pool, {
      from: '2024-03-01',
      to: '2024-04-10',
      sensor: 'sentinel-2-l2a',
    });
    expect(byDate.map((s) => s.id)).toEqual(['S2_API_3', 'S2_API_4']);
    const clear = await searchScenes(db.pool, {
      maxCloud: 20,
      sensor: 'sentinel-2-l2a',
      from: '2024-01-01',
      to: '2024-06-30',
    });
    expect(clear.map((s) => s.id)).toEqual(['S2_API_1', 'S2_API_2', 'S2A_PARIS_20240601']);
    const failed = await searchScenes(db.pool, { status: 'failed' });
    expect(failed.map((s) => s.id).sort()).toEqual(['S2A_BROKEN', 'S2B_NODATE']);
  });

  it('imports an OSCD folder of per-band files; two crops of one product stay two scenes', async () => {
    const a = await importFolder(db.pool, oscd('paris', 'imgs_1'));
    const b = await importFolder(db.pool, oscd('bercy', 'imgs_1'));
    expect(a.added[0]).not.toBe(b.added[0]);
    const { rows } = await db.pool.query(
      'SELECT id, jsonb_object_keys(assets) AS band FROM scenes WHERE id = $1',
      [a.added[0]],
    );
    expect(rows.map((r) => r.band).sort()).toContain('swir22');
    expect(rows).toHaveLength(13);
  });

  it('the CLI adds, lists failures and searches', async () => {
    const env = { DATABASE_URL: db.url };
    const add = await runCli(['scenes', 'add', join(dir, 'items.json')], env);
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('1 scene(s) catalogued, 1 failed');
    expect(add.stderr).toContain('failed S2B_NODATE: SCENE_INVALID');
    const failed = await runCli(['scenes', 'list', '--failed'], env);
    expect(failed.stdout).toMatch(/S2B_NODATE\t.*FAILED SCENE_INVALID/);
    const search = await runCli(
      ['scenes', 'search', '--bbox', '2.3,48.7,2.5,48.9', '--from', '2024-08-01', '--json'],
      env,
    );
    expect(search.code).toBe(0);
    expect(
      JSON.parse(search.stdout.slice(0, search.stdout.lastIndexOf(']') + 1)).map((s: { id: string }) => s.id),
    ).toEqual(['S2A_PARIS_20240815', 'S2B_BERCY_20240901']);
    const bad = await runCli(['scenes', 'search', '--from', 'last-tuesday'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('skypatrol: VALIDATION: "last-tuesday" is not an ISO 8601 date');
  });
});
