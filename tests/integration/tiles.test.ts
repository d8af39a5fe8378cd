import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import type { FastifyInstance } from 'fastify';
import Pbf from 'pbf';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { tileScratch } from '../../services/adapters/cache/scratch.ts';
import { mortonKey, POINT_MAX_ZOOM, tileKeyRange } from '../../services/adapters/postgis/mvt-store.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { toLonLatFn } from '../../services/domain/geo/crs.ts';
import { lonLatToTile, tileBounds3857 } from '../../services/domain/geo/webmercator.ts';
import { clearTileCaches } from '../../services/usecases/render-tile.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildTestApp } from '../support/test-app.ts';

let db: TestDatabase;
let app: FastifyInstance;
let dir: string;

const square = (x: number, y: number, d = 0.001) =>
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

async function insertClue(
  x: number,
  y: number,
  props: { scenario: string; status: string; confidence: number; date: string; priority?: number },
): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, status, dismiss_reason, confidence, priority, geom, area_m2, first_seen, last_seen, detector, model_version)
     SELECT $2, $3, CASE WHEN $3 = 'dismissed' THEN 'false_detection' END, $4, $5, g, ST_Area(g::geography), $6, $6, 'test', '0.1.0'
       FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s RETURNING id`,
    [square(x, y), props.scenario, props.status, props.confidence, props.priority ?? 0, props.date],
  );
  return rows[0]!.id;
}

// A synthetic 4-band scene (2048×2048 at 10 m, UTM 50N near 119°E 49°N) written as COGs with
// gdal_translate: red/green/blue/nir with the left half vegetated (NIR high) and the right bare.
const UTM = 32650;
const ORIGIN = [640000, 5440000] as const;
const SIZE = 2048;
const RES = 10;

function writeBandCog(name: string, value: (col: number, row: number) => number): string {
  const raw = join(dir, `${name}.bil`);
  const buf = Buffer.alloc(SIZE * SIZE * 2);
  for (let r = 0; r < SIZE; r++)
    for (let c = 0; c < SIZE; c++) buf.writeUInt16LE(value(c, r), (r * SIZE + c) * 2);
  writeFileSync(raw, buf);
  writeFileSync(
    join(dir, `${name}.hdr`),
    `ENVI\nsamples = ${SIZE}\nlines = ${SIZE}\nbands = 1\nheader offset = 0\ndata type = 12\ninterleave = bsq\nbyte order = 0\n`,
  );
  const out = join(dir, `${name}.tif`);
  execFileSync('gdal_translate', [
    '-q',
    '-of',
    'COG',
    '-a_srs',
    `EPSG:${UTM}`,
    '-a_ullr',
    String(ORIGIN[0]),
    String(ORIGIN[1]),
    String(ORIGIN[0] + SIZE * RES),
    String(ORIGIN[1] - SIZE * RES),
    '-a_nodata',
    '0',
    '-co',
    'COMPRESS=DEFLATE',
    raw,
    out,
  ]);
  return out;
}

const toLonLat = toLonLatFn(UTM)!;
/** Lon/lat of a pixel of the synthetic scene. */
const scenePoint = (col: number, row: number) => toLonLat(ORIGIN[0] + col * RES, ORIGIN[1] - row * RES);

let ids: { a: number; b: number; c: number; d: number };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skypatrol-tiles-'));
  db = await createTestDatabase();
  ids = {
    a: await insertClue(119.05, 49.04, {
      scenario: 'black-soil',
      status: 'new',
      confidence: 0.9,
      date: '2025-06-10',
      priority: 2,
    }),
    b: await insertClue(119.0525, 49.0425, {
      scenario: 'mine',
      status: 'confirmed',
      confidence: 0.5,
      date: '2025-07-20',
    }),
    c: await insertClue(121, 50, { scenario: 'mine', status: 'new', confidence: 0.7, date: '2025-06-01' }),
    d: await insertClue(119.051, 49.045, {
      scenario: 'wetland',
      status: 'dismissed',
      confidence: 0.6,
      date: '2024-05-01',
    }),
  };
  // Patrol coverage and zones.
  const run = await db.pool.query<{ id: string }>(
    `INSERT INTO patrol_runs (aoi, before_from, before_to, after_from, after_to, scenarios, status)
     VALUES (ST_Multi(ST_MakeEnvelope(119, 49, 119.2, 49.2, 4326)), '2024-06-01', '2024-06-30', '2025-06-01', '2025-08-31', '{black-soil}', 'done')
     RETURNING id`,
  );
  await db.pool.query(
    `INSERT INTO patrol_tiles (run_id, tile_id, bounds, status, coverage, finished_at)
     VALUES ($1, 'T50-1', ST_MakeEnvelope(119, 49, 119.1, 49.1, 4326), 'done',
             ST_Multi(ST_MakeEnvelope(119, 49, 119.1, 49.1, 4326)), '2025-08-01T00:00:00Z')`,
    [run.rows[0]!.id],
  );
  await db.pool.query(
    `INSERT INTO zones (kind, properties, geom) VALUES
       ('admin_division', '{"name":"陈巴尔虎旗","adcode":"150725","level":"county"}', ST_Multi(ST_MakeEnvelope(118.5, 48.5, 119.5, 49.5, 4326))),
       ('wetland_reserve', '{"name":"湿地保护区"}', ST_Multi(ST_MakeEnvelope(119.04, 49.04, 119.06, 49.06, 4326)))`,
  );

  // Imagery.
  const half = SIZE / 2;
  const red = writeBandCog('red', (c, r) => (c < half ? 600 : 2400) + ((r * 7) % 50));
  const green = writeBandCog('green', (c) => (c < half ? 900 : 2000));
  const blue = writeBandCog('blue', (c) => (c < half ? 500 : 1800));
  const nir = writeBandCog('nir', (c) => (c < half ? 4000 : 2600));
  const assets = JSON.stringify({
    red: { href: red, scale: 0.0001, offset: 0 },
    green: { href: green, scale: 0.0001, offset: 0 },
    blue: { href: blue, scale: 0.0001, offset: 0 },
    nir: { href: nir, scale: 0.0001, offset: 0 },
  });
  for (const [id, date, cloud] of [
    ['S2-TEST_20250701', '2025-07-01T03:00:00Z', 5],
    ['S2-TEST_20250715', '2025-07-15T03:00:00Z', 40],
  ] as const) {
    await db.pool.query(
      `INSERT INTO scenes (id, sensor, datetime, cloud_cover, epsg, footprint, assets, source)
       VALUES ($1, 'sentinel-2-l2a', $2, $3, ${UTM},
               ST_Multi(ST_Transform(ST_MakeEnvelope($4, $5, $6, $7, ${UTM}), 4326)), $8, 'test')`,
      [id, date, cloud, ORIGIN[0], ORIGIN[1] - SIZE * RES, ORIGIN[0] + SIZE * RES, ORIGIN[1], assets],
    );
  }
  clearTileCaches();
  app = await buildTestApp(db.url, db.pool);
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
  clearTileCaches();
  rmSync(dir, { recursive: true, force: true });
});

function decode(buf: Buffer) {
  // A copy: pbf reads floats through the ArrayBuffer without the Buffer's byte offset, and a
  // Node Buffer may be a slice of a larger pooled one.
  return new VectorTile(new Pbf(new Uint8Array(buf)));
}

const tileA = lonLatToTile(119.0505, 49.0405, 14);
const url = (layer: string, t = tileA, q = '') => `/tiles/${layer}/${t.z}/${t.x}/${t.y}.mvt${q}`;

describe('vector tiles', () => {
  it('the tile maths agree with ST_TileEnvelope', async () => {
    const { rows } = await db.pool.query(
      'SELECT ST_XMin(e) AS a, ST_YMin(e) AS b, ST_XMax(e) AS c, ST_YMax(e) AS d FROM ST_TileEnvelope($1::int, $2::int, $3::int) e',
      [tileA.z, tileA.x, tileA.y],
    );
    const [a, b, c, d] = tileBounds3857(tileA);
    expect(rows[0].a).toBeCloseTo(a, 6);
    expect(rows[0].b).toBeCloseTo(b, 6);
    expect(rows[0].c).toBeCloseTo(c, 6);
    expect(rows[0].d).toBeCloseTo(d, 6);
  });

  it('serves clue features with their properties, an ETag and cache headers', async () => {
    const r = await app.inject(url('clues'));
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.mapbox-vector-tile');
    expect(r.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(r.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const layer = decode(r.rawPayload).layers.clues!;
    expect(layer.extent).toBe(4096);
    expect(layer.length).toBe(3);
    const byId = new Map(
      Array.from({ length: layer.length }, (_, i) => layer.feature(i)).map((f) => [f.id, f]),
    );
    expect([...byId.keys()].sort()).toEqual([ids.a, ids.b, ids.d].sort());
    const a = byId.get(ids.a)!;
    const expected = await db.pool.query('SELECT area_mu FROM clues WHERE id = $1', [ids.a]);
    expect(a.properties).toMatchObject({
      scenario: 'black-soil',
      status: 'new',
      priority: 2,
      last_seen: '2025-06-10',
    });
    expect(a.properties.confidence as number).toBeCloseTo(0.9, 5);
    expect(a.properties.area_mu as number).toBeCloseTo(expected.rows[0].area_mu, 2);
    expect(a.type).toBe(3); // polygon
    const ring = a.loadGeometry()[0]!;
    for (const p of ring) {
      expect(p.x).toBeGreaterThanOrEqual(-64);
      expect(p.x).toBeLessThanOrEqual(4096 + 64);
    }
    const again = await app.inject({
      url: url('clues'),
      headers: { 'if-none-match': r.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
  });

  it('filters by scenario, status, minimum confidence and dates', async () => {
    const count = async (q: string) => {
      const r = await app.inject(url('clues', tileA, q));
      if (r.statusCode === 204) return 0;
      expect(r.statusCode).toBe(200);
      return decode(r.rawPayload).layers.clues!.length;
    };
    expect(await count('?scenario=mine')).toBe(1);
    expect(await count('?scenario=mine,black-soil')).toBe(2);
    expect(await count('?status=new,confirmed')).toBe(2);
    expect(await count('?min_confidence=0.8')).toBe(1);
    expect(await count('?from=2025-01-01')).toBe(2);
    expect(await count('?from=2025-07-01&to=2025-07-31')).toBe(1);
    expect(await count('?status=closed')).toBe(0);
  });

  it('answers 204 for an empty tile and serves small clues at z8 as a cluster', async () => {
    const empty = await app.inject('/tiles/clues/14/0/0.mvt');
    expect(empty.statusCode).toBe(204);
    expect(empty.body).toBe('');
    const z8 = await app.inject(url('clues', lonLatToTile(119.05, 49.05, 8)));
    expect(z8.statusCode).toBe(200);
    const layer = decode(z8.rawPayload).layers.clues!;
    // a, b and d lie within 8 px of each other at z8: one cluster point
    expect(layer.length).toBe(1);
    const f = layer.feature(0);
    expect(f.type).toBe(1); // point
    expect(f.properties).toMatchObject({ count: 3, max_priority: 2, cluster: true });
    expect(f.properties.max_confidence as number).toBeCloseTo(0.9, 5);
    expect(f.id).toBe(Math.min(ids.a, ids.b, ids.d));
    // the cluster point is where the clues are (mean of their points, in tile pixels)
    const t = lonLatToTile(119.05, 49.05, 8);
    const [x0, , x1, y1] = tileBounds3857(t);
    const { rows } = await db.pool.query<{ x: number; y: number }>(
      'SELECT avg(ST_X(tile_point)) AS x, avg(ST_Y(tile_point)) AS y FROM clues WHERE id = ANY($1)',
      [[ids.a, ids.b, ids.d]],
    );
    const p = f.loadGeometry()[0]![0]!;
    expect(Math.abs(p.x - ((rows[0]!.x - x0) / (x1 - x0)) * 4096)).toBeLessThanOrEqual(1);
    expect(Math.abs(p.y - ((y1 - rows[0]!.y) / (x1 - x0)) * 4096)).toBeLessThanOrEqual(1);
    // filters apply before clustering
    const mine = await app.inject(url('clues', t, '?scenario=mine'));
    expect(decode(mine.rawPayload).layers.clues!.feature(0).properties).toMatchObject({ count: 1 });
    expect((await app.inject(url('clues', t, '?status=closed'))).statusCode).toBe(204);
  });

  it('serves one point per clue at z11, with the clue properties', async () => {
    const r = await app.inject(url('clues', lonLatToTile(119.0505, 49.0405, 11)));
    expect(r.statusCode).toBe(200);
    const layer = decode(r.rawPayload).layers.clues!;
    expect(layer.length).toBe(3);
    const feats = Array.from({ length: layer.length }, (_, i) => layer.feature(i));
    expect(feats.every((f) => f.type === 1)).toBe(true);
    expect(feats.find((f) => f.id === ids.a)!.properties).toMatchObject({
      scenario: 'black-soil',
      status: 'new',
      priority: 2,
    });
  });

  it('limits clue tiles, exports and statistics to a county-scoped reader’s counties', async () => {
    const hash = await hashPassword('correct horse battery');
    const token = async (username: string, counties: string[]) => {
      const u = await createUser(db.pool, { username, passwordHash: hash, role: 'prosecutor', counties });
      const t = newApiToken();
      await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 't', ttlDays: null });
      return { authorization: `Bearer ${t}` };
    };
    // a, b and d were stored before the county's boundary: give them their county now
    await db.pool.query("UPDATE clues SET county_adcode = '150725' WHERE id = ANY($1)", [
      [ids.a, ids.b, ids.d],
    ]);
    const here = await token('tiles-here', ['150725']);
    const elsewhere = await token('tiles-elsewhere', ['150781']);
    const mine = await app.inject({ url: url('clues'), headers: here });
    expect(mine.statusCode).toBe(200);
    expect(mine.headers.vary).toMatch(/authorization/);
    expect(decode(mine.rawPayload).layers.clues!.length).toBe(3);
    expect((await app.inject({ url: url('clues'), headers: elsewhere })).statusCode).toBe(204);
    const far = url('clues', lonLatToTile(121.0005, 50.0005, 14));
    expect((await app.inject({ url: far })).statusCode).toBe(200); // no county: admins and anonymous see it
    expect((await app.inject({ url: far, headers: here })).statusCode).toBe(204);
    const exp = await app.inject({ url: '/exports/clues.geojson', headers: elsewhere });
    expect(exp.statusCode).toBe(200);
    expect(exp.json().features).toHaveLength(0);
    const stats = await app.inject({ url: '/stats', headers: here });
    expect(stats.statusCode).toBe(200);
    expect(stats.json().county).toBe('150725');
    const refused = await app.inject({ url: '/stats?county=150781', headers: here });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('FORBIDDEN');
  });

  it('never serves a cached tile after the clues changed', async () => {
    const t = lonLatToTile(119.05, 49.05, 9);
    const before = decode((await app.inject(url('clues', t))).rawPayload).layers.clues!.feature(0);
    expect(before.properties.count).toBe(3);
    const e = await insertClue(119.0515, 49.0415, {
      scenario: 'river',
      status: 'new',
      confidence: 0.95,
      date: '2025-06-02',
      priority: 3,
    });
    try {
      const after = decode((await app.inject(url('clues', t))).rawPayload).layers.clues!.feature(0);
      expect(after.properties).toMatchObject({ count: 4, max_priority: 3 });
      await db.pool.query('UPDATE clues SET priority = 1 WHERE id = $1', [e]);
      const lowered = decode((await app.inject(url('clues', t))).rawPayload).layers.clues!.feature(0);
      expect(lowered.properties).toMatchObject({ count: 4, max_priority: 2 });
    } finally {
      await db.pool.query('DELETE FROM clues WHERE id = $1', [e]);
    }
    const gone = decode((await app.inject(url('clues', t))).rawPayload).layers.clues!.feature(0);
    expect(gone.properties.count).toBe(3);
  });

  it('selects a tile’s clues by Morton code range exactly as its envelope does, at every clustered zoom', async () => {
    // The key the database keeps equals the one the store computes for the same pixel.
    const { rows: keys } = await db.pool.query<{ ix: number; iy: number; key: string }>(
      'SELECT tile_ix AS ix, tile_iy AS iy, tile_key::text AS key FROM clues',
    );
    expect(keys.length).toBeGreaterThan(3);
    for (const k of keys) expect(mortonKey(k.ix, k.iy).toString()).toBe(k.key);
    // Every tile holding a clue, z0–z11: the key range selects the clues whose point lies in
    // the tile (half-open, so a point on an edge belongs to one tile only).
    const { rows: pts } = await db.pool.query<{ lon: number; lat: number }>(
      'SELECT ST_X(ST_Transform(tile_point, 4326)) AS lon, ST_Y(ST_Transform(tile_point, 4326)) AS lat FROM clues',
    );
    for (let z = 0; z <= POINT_MAX_ZOOM; z++) {
      for (const t of new Map(
        pts.map((p) => [JSON.stringify(lonLatToTile(p.lon, p.lat, z)), lonLatToTile(p.lon, p.lat, z)]),
      ).values()) {
        const r = tileKeyRange(t);
        const { rows } = await db.pool.query<{ by_key: number; by_env: number }>(
          `SELECT count(*) FILTER (WHERE tile_key >= $4::bigint AND tile_key < $5::bigint)::int AS by_key,
                  count(*) FILTER (WHERE ST_X(tile_point) >= ST_XMin(e) AND ST_X(tile_point) < ST_XMax(e)
                                     AND ST_Y(tile_point) > ST_YMin(e) AND ST_Y(tile_point) <= ST_YMax(e))::int AS by_env
             FROM clues, ST_TileEnvelope($1, $2, $3) e`,
          [t.z, t.x, t.y, r.lo.toString(), r.hi.toString()],
        );
        expect({ z, ...rows[0] }).toEqual({ z, by_key: rows[0]!.by_env, by_env: rows[0]!.by_env });
        expect(rows[0]!.by_key).toBeGreaterThan(0);
      }
    }
  });

  it('keeps clusters and points fresh when a clue moves, appears or goes (the key follows the geometry)', async () => {
    const z8 = lonLatToTile(119.05, 49.05, 8);
    const z11 = lonLatToTile(119.0505, 49.0405, 11);
    const count8 = async () => {
      const r = await app.inject(url('clues', z8));
      return r.statusCode === 204
        ? 0
        : (decode(r.rawPayload).layers.clues!.feature(0).properties.count as number);
    };
    const ids11 = async () => {
      const r = await app.inject(url('clues', z11));
      if (r.statusCode === 204) return [];
      const l = decode(r.rawPayload).layers.clues!;
      return Array.from({ length: l.length }, (_, i) => l.feature(i).id).sort(
        (a, b) => Number(a) - Number(b),
      );
    };
    const c0 = await count8();
    const p0 = await ids11();
    const e = await insertClue(119.0512, 49.0412, {
      scenario: 'mine',
      status: 'new',
      confidence: 0.7,
      date: '2025-06-03',
    });
    try {
      expect(await count8()).toBe(c0 + 1);
      expect(await ids11()).toEqual([...p0, e].sort((a, b) => Number(a) - Number(b)));
      // Moved far away (another tile at both zooms): gone from both, as the trigger re-keys it.
      await db.pool.query(`UPDATE clues SET geom = ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) WHERE id = $2`, [
        square(124.5, 52.5),
        e,
      ]);
      expect(await count8()).toBe(c0);
      expect(await ids11()).toEqual(p0);
      const far = lonLatToTile(124.5005, 52.5005, 8);
      const moved = decode((await app.inject(url('clues', far))).rawPayload).layers.clues!;
      expect(moved.feature(0).id).toBe(e);
    } finally {
      await db.pool.query('DELETE FROM clues WHERE id = $1', [e]);
    }
    expect(await count8()).toBe(c0);
  });

  it('serves patrol coverage and zones (filtered by kind)', async () => {
    const cov = await app.inject(url('coverage', lonLatToTile(119.05, 49.05, 10)));
    expect(cov.statusCode).toBe(200);
    const cl = decode(cov.rawPayload).layers.coverage!;
    expect(cl.length).toBe(1);
    expect(cl.feature(0).properties).toMatchObject({
      tile_id: 'T50-1',
      status: 'done',
      finished: '2025-08-01',
    });
    const zones = await app.inject(url('zones'));
    expect(decode(zones.rawPayload).layers.zones!.length).toBe(2);
    const wet = await app.inject(url('zones', tileA, '?kind=wetland_reserve'));
    const wl = decode(wet.rawPayload).layers.zones!;
    expect(wl.length).toBe(1);
    expect(wl.feature(0).properties).toMatchObject({ kind: 'wetland_reserve', name: '湿地保护区' });
    expect((await app.inject(url('zones', tileA, '?kind=mining_permit'))).statusCode).toBe(204);
  });

  it('TileJSON 3.0 with vector_layers, bounds and the filters carried into the tile URL', async () => {
    const r = await app.inject({
      url: '/tiles/clues.json?scenario=mine',
      headers: { host: 'maps.example:8080' },
    });
    expect(r.statusCode).toBe(200);
    const tj = r.json();
    expect(tj.tilejson).toBe('3.0.0');
    expect(tj.tiles[0]).toBe('http://maps.example:8080/tiles/clues/{z}/{x}/{y}.mvt?scenario=mine');
    expect(tj.vector_layers[0].id).toBe('clues');
    expect(Object.keys(tj.vector_layers[0].fields)).toEqual(
      expect.arrayContaining(['id', 'scenario', 'status', 'confidence', 'area_mu', 'priority', 'last_seen']),
    );
    expect(tj.bounds[0]).toBeCloseTo(119.05, 6);
    expect(tj.bounds[1]).toBeCloseTo(49.04, 6);
    expect(tj.bounds[3]).toBeCloseTo(50.001, 6);
    expect((await app.inject('/tiles/zones.json')).json().vector_layers[0].id).toBe('zones');
  });

  it('rejects bad input with 4xx and a code, never 5xx', async () => {
    const bad = [
      url('clues', tileA, `?scenario=${encodeURIComponent("mine' OR 1=1 --")}`),
      url('clues', tileA, `?status=${encodeURIComponent("new');DROP TABLE clues;--")}`),
      url('clues', tileA, '?min_confidence=2'),
      url('clues', tileA, '?min_confidence=0.5;SELECT'),
      url('clues', tileA, '?from=2025-13-45'),
      url('clues', tileA, '?from=2025-02-30'),
      url('clues', tileA, '?from=2025-08-01&to=2025-07-01'),
      url('zones', tileA, '?kind=users'),
      '/tiles/clues/25/0/0.mvt',
      '/tiles/clues/3/8/0.mvt',
      '/tiles/clues/3/-1/0.mvt',
      '/tiles/clues/a/0/0.mvt',
      '/tiles/users/3/0/0.mvt',
      '/tiles/..%2F..%2Fetc%2Fpasswd/3/0/0.mvt',
      '/tiles/..%2F..%2Fetc%2Fpasswd.json',
    ];
    for (const u of bad) {
      const r = await app.inject(u);
      expect(r.statusCode, u).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, u).toBeLessThan(500);
      expect(r.json().code, u).toMatch(/^(VALIDATION|NOT_FOUND)$/);
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM clues')).rows[0].n).toBe(4);
  });
});

describe('imagery tiles', () => {
  // Tiles inside the scene: left quarter (vegetated), right quarter (bare).
  const left = () => {
    const [lon, lat] = scenePoint(SIZE * 0.2, SIZE / 2);
    return lonLatToTile(lon, lat, 14);
  };
  const right = () => {
    const [lon, lat] = scenePoint(SIZE * 0.8, SIZE / 2);
    return lonLatToTile(lon, lat, 14);
  };
  const sceneUrl = (
    t: { z: number; x: number; y: number },
    ext: string,
    mode: string,
    id = 'S2-TEST_20250701',
  ) => `/tiles/scenes/${id}/${t.z}/${t.x}/${t.y}.${ext}?mode=${mode}`;

  async function centre(body: Buffer): Promise<[number, number, number, number]> {
    const { data, info } = await sharp(body).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(256);
    expect(info.height).toBe(256);
    const i = (128 * 256 + 128) * 4;
    return [data[i]!, data[i + 1]!, data[i + 2]!, data[i + 3]!];
  }

  it('renders true colour PNG with ETag and Cache-Control, 304 on If-None-Match', async () => {
    const r = await app.inject(sceneUrl(left(), 'png', 'true-color'));
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    expect(r.headers['cache-control']).toMatch(/public, max-age=\d+/);
    expect(r.headers.etag).toMatch(/^".+"$/);
    const [red, green, blue, alpha] = await centre(r.rawPayload);
    expect(alpha).toBe(255);
    // Vegetated side: green reflectance 0.09 > red 0.06 > blue 0.05.
    expect(green).toBeGreaterThan(red);
    expect(red).toBeGreaterThan(blue);
    const again = await app.inject({
      url: sceneUrl(left(), 'png', 'true-color'),
      headers: { 'if-none-match': r.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
  });

  it('renders false colour (NIR-red-green) and NDVI, PNG and WebP', async () => {
    const fc = await app.inject(sceneUrl(left(), 'webp', 'false-color'));
    expect(fc.statusCode).toBe(200);
    expect(fc.headers['content-type']).toBe('image/webp');
    const [r1, g1] = await centre(fc.rawPayload);
    expect(r1).toBeGreaterThan(g1 + 80); // vegetation is red in NIR-red-green
    const vegetated = await centre((await app.inject(sceneUrl(left(), 'png', 'ndvi'))).rawPayload);
    const bare = await centre((await app.inject(sceneUrl(right(), 'png', 'ndvi'))).rawPayload);
    expect(vegetated[1]).toBeGreaterThan(vegetated[0]); // NDVI ≈ 0.74: green
    expect(bare[0]).toBeGreaterThan(bare[2]); // NDVI ≈ 0.04: brown
    expect(bare[0]).toBeGreaterThan(vegetated[0]);
  });

  it('reads overviews at low zoom and 204s tiles outside the scene', async () => {
    const [lon, lat] = scenePoint(SIZE / 2, SIZE / 2);
    const z10 = lonLatToTile(lon, lat, 10);
    const r = await app.inject(sceneUrl(z10, 'png', 'true-color'));
    expect(r.statusCode).toBe(200);
    const { data } = await sharp(r.rawPayload).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    let opaque = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] === 255) opaque++;
    // The 20 km scene covers part of a z10 tile (~25 km wide here): some, not all pixels.
    expect(opaque).toBeGreaterThan(1000);
    expect(opaque).toBeLessThan(256 * 256);
    const outside = lonLatToTile(10, 10, 12);
    expect((await app.inject(sceneUrl(outside, 'png', 'true-color'))).statusCode).toBe(204);
  });

  it('renders the same bytes with reused scratch buffers holding garbage as with fresh ones', async () => {
    // Tiles inside the scene (opaque, RGB) and across its edge (RGBA), every mode.
    const [lon, lat] = scenePoint(SIZE / 2, SIZE / 2);
    const [elon, elat] = scenePoint(0, SIZE / 2);
    const tiles = [left(), right(), lonLatToTile(lon, lat, 12), lonLatToTile(elon, elat, 14)];
    const render = async (beforeEach: () => void) => {
      const out: string[] = [];
      for (const t of tiles) {
        for (const [ext, mode] of [
          ['png', 'true-color'],
          ['webp', 'false-color'],
          ['png', 'ndvi'],
        ] as const) {
          clearTileCaches();
          beforeEach();
          const r = await app.inject(sceneUrl(t, ext, mode));
          out.push(
            `${r.statusCode}:${r.rawPayload[25]}:${createHash('sha256').update(r.rawPayload).digest('hex')}`,
          );
        }
      }
      return out;
    };
    // Every buffer new (zero-filled) for each tile.
    const fresh = await render(() => tileScratch.clear());
    expect(fresh.every((s) => s.startsWith('200:'))).toBe(true);
    expect(fresh.some((s) => s.startsWith('200:6:'))).toBe(true); // an RGBA PNG (the edge tile)
    // Every buffer a render takes holds garbage: the pool filled with junk of every capacity.
    const junk = () => {
      tileScratch.clear();
      const views = [];
      for (let bits = 12; bits <= 21; bits++) {
        for (let k = 0; k < 8; k++) {
          const u = tileScratch.uint8(2 ** bits);
          u.fill(k % 2 ? 0xab : 0x7f); // 0x7f7f7f7f is a float32 of 3.4e38; 0xabababab, -1.2e-12
          views.push(u);
        }
      }
      tileScratch.give(...views);
    };
    expect(await render(junk)).toEqual(fresh);
  });

  it('mosaics a time window, least cloudy scene first', async () => {
    const t = left();
    const r = await app.inject(
      `/tiles/mosaic/${t.z}/${t.x}/${t.y}.png?from=2025-07-01&to=2025-07-31&mode=ndvi`,
    );
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-skypatrol-scenes']).toBe('S2-TEST_20250701');
    const none = await app.inject(`/tiles/mosaic/${t.z}/${t.x}/${t.y}.png?from=2020-01-01&to=2020-12-31`);
    expect(none.statusCode).toBe(204);
    const second = await app.inject(
      `/tiles/mosaic/${t.z}/${t.x}/${t.y}.png?from=2025-07-10&to=2025-07-31&max_cloud=50`,
    );
    expect(second.headers['x-skypatrol-scenes']).toBe('S2-TEST_20250715');
  });

  it('scene TileJSON', async () => {
    const r = await app.inject('/tiles/scenes/S2-TEST_20250701.json?mode=ndvi');
    expect(r.statusCode).toBe(200);
    expect(r.json().tiles[0]).toMatch(
      /\/tiles\/scenes\/S2-TEST_20250701\/\{z\}\/\{x\}\/\{y\}\.png\?mode=ndvi$/,
    );
    expect(r.json().bounds[0]).toBeCloseTo(scenePoint(0, SIZE)[0], 1);
  });

  it('404s an unknown scene; path traversal and bad modes are 400 with a code', async () => {
    const t = left();
    const unknown = await app.inject(sceneUrl(t, 'png', 'true-color', 'nope'));
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    for (const u of [
      `/tiles/scenes/..%2F..%2Fetc%2Fpasswd/${t.z}/${t.x}/${t.y}.png`,
      `/tiles/scenes/..%2F..%2Fetc%2Fpasswd.json`,
      `/tiles/scenes/%2Fetc%2Fpasswd/${t.z}/${t.x}/${t.y}.png`,
      `/tiles/scenes/a..b/${t.z}/${t.x}/${t.y}.png`,
      sceneUrl(t, 'png', 'infrared'),
      sceneUrl(t, 'jpg', 'true-color'),
      `/tiles/scenes/S2-TEST_20250701/${t.z}/${t.x}/${t.y}.png?max=-1`,
      `/tiles/mosaic/${t.z}/${t.x}/${t.y}.png?from=2025-07-01`,
      `/tiles/mosaic/${t.z}/${t.x}/${t.y}.png?from=2025-07-01&to=x'%20OR%201=1`,
    ]) {
      const r = await app.inject(u);
      expect(r.statusCode, u).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, u).toBeLessThan(500);
      expect(r.json().code, u).toMatch(/^(VALIDATION|NOT_FOUND)$/);
    }
  });
});
