import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { build } from '../../services/apps/api/app.ts';
import { type PatrolWorker, startPatrolWorker } from '../../services/apps/worker/patrol-worker.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { loadRegion, type Region, smallRegion } from '../support/region.ts';

/**
 * The patrol API end to end: launch over HTTP (roles and county scope), follow it on the
 * Server-Sent Events stream until it ends, read coverage per county, metrics, the queue
 * dashboard and recurring patrols.
 */
let db: TestDatabase;
let region: Region;
let config: Config;
let app: FastifyInstance;
let base: string;
let pw: PatrolWorker;
let county: string;
let counties: string[];
const tokens: Record<string, string> = {};
const bearer = (k: string) => ({ authorization: `Bearer ${tokens[k]}` });

beforeAll(async () => {
  db = await createTestDatabase();
  region = await smallRegion(7);
  await loadRegion(db.pool, region);
  // The counties the region's square reaches into (the prosecutor "inside" holds them all).
  const c = await db.pool.query<{ adcode: string }>(
    `SELECT properties->>'adcode' AS adcode FROM zones
      WHERE kind = 'admin_division' AND ST_Intersects(geom, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326))
      ORDER BY ST_Area(ST_Intersection(geom, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326))) DESC`,
    [JSON.stringify(region.aoi)],
  );
  counties = c.rows.map((r) => r.adcode);
  county = counties[0]!;
  config = {
    ...loadConfig({ SKYPATROL_LOG_LEVEL: 'silent' }),
    databaseUrl: db.url,
    redisUrl: testRedisUrl(),
    queuePrefix: `sp-test-${randomBytes(4).toString('hex')}`,
    onnxThreads: 1,
    reconcileMs: 1000,
    maxTiles: 50,
  };
  const hash = await hashPassword('correct horse battery staple');
  for (const [key, role, scope] of [
    ['admin', 'admin', []],
    ['analyst', 'analyst', []],
    ['prosIn', 'prosecutor', counties],
    ['prosOut', 'prosecutor', ['150785']],
    ['field', 'field', [county]],
  ] as const) {
    const u = await createUser(db.pool, {
      username: key.toLowerCase(),
      passwordHash: hash,
      role,
      counties: [...scope],
    });
    const t = newApiToken();
    await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 'test', ttlDays: null });
    tokens[key] = t;
  }
  app = await build(config, { pool: db.pool });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  pw = startPatrolWorker(config, db.pool);
}, 180_000);

afterAll(async () => {
  await pw?.queue.obliterate({ force: true }).catch(() => {});
  await pw?.close();
  await app?.close();
  await db?.drop();
});

const body = () => ({
  name: '测试巡查',
  aoi: region.aoi,
  before: region.before,
  after: region.after,
  scenarios: ['change'],
  sensors: ['sentinel-2-l2a'],
});

/** Read an SSE stream to its `end` event: [{event, data}]. */
async function readEvents(url: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(url);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i = buf.indexOf('\n\n');
    while (i >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
      i = buf.indexOf('\n\n');
    }
  }
  return events;
}

describe('patrol API', { timeout: 300_000 }, () => {
  it('refuses anonymous, field and out-of-county launches, and bad bodies, storing nothing', async () => {
    const post = (headers: Record<string, string>, payload: unknown) =>
      app.inject({ method: 'POST', url: '/patrols', headers, payload: payload as object });
    expect((await post({}, body())).statusCode).toBe(401);
    expect((await post(bearer('field'), body())).json().code).toBe('FORBIDDEN');
    expect((await post(bearer('prosOut'), body())).json().code).toBe('FORBIDDEN');
    expect((await post(bearer('prosOut'), { ...body(), aoi: undefined, county })).json().code).toBe(
      'FORBIDDEN',
    );
    const bad = await post(bearer('analyst'), { ...body(), before: { from: 'yesterday', to: '2024-06-30' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('VALIDATION');
    const extra = await post(bearer('analyst'), { ...body(), priority: 9 });
    expect(extra.statusCode).toBe(400);
    const unknownCounty = await post(bearer('analyst'), { ...body(), aoi: undefined, county: '999999' });
    expect(unknownCounty.statusCode).toBe(404);
    const both = await post(bearer('analyst'), { ...body(), county });
    expect(both.json().code).toBe('VALIDATION');
    const n = await db.pool.query('SELECT count(*)::int AS n FROM patrol_runs');
    expect(n.rows[0].n).toBe(0);
  });

  it('a prosecutor launches a patrol of their county area; the event stream follows it to the end', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/patrols',
      headers: bearer('prosIn'),
      payload: body(),
    });
    expect(r.statusCode).toBe(202);
    const run = r.json();
    expect(run).toMatchObject({
      status: expect.stringMatching(/queued|running/),
      tilesTotal: 4,
      createdBy: 'prosin',
    });
    expect(r.headers.location).toBe(`/patrols/${run.id}`);
    const events = await readEvents(`${base}/patrols/${run.id}/events`);
    const tiles = events.filter((e) => e.event === 'tile');
    expect(tiles.map((t) => t.data.tileId).sort()).toEqual(
      (await db.pool.query('SELECT tile_id FROM patrol_tiles ORDER BY tile_id')).rows.map((x) => x.tile_id),
    );
    expect(tiles.every((t) => t.data.status === 'done')).toBe(true);
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
    expect(progress.at(-1)).toMatchObject({ status: 'done', tilesDone: 4, tilesTotal: 4, tilesFailed: 0 });
    expect(events.at(-1)).toEqual({ event: 'end', data: { status: 'done' } });
    // New clues are announced with the tiles that found them.
    const clueIds = tiles.flatMap((t) => t.data.clueIds as number[]);
    const stored = await db.pool.query('SELECT id FROM clues WHERE merged_into IS NULL ORDER BY id');
    // (A clue announced by one tile may later merge into a neighbour's: announced ⊇ open.)
    const announced = new Set(clueIds);
    expect(stored.rows.filter((x) => !announced.has(x.id))).toEqual([]);

    const got = await app.inject({ url: `/patrols/${run.id}` });
    expect(got.json()).toMatchObject({ status: 'done', etaSeconds: null, clueCount: stored.rowCount });
    const cov = (await app.inject({ url: `/patrols/${run.id}/coverage` })).json();
    expect(
      cov.counties.some((c: { adcode: string; areaKm2: number }) => c.adcode === county && c.areaKm2 > 20),
    ).toBe(true);
    const tileRows = (await app.inject({ url: `/patrols/${run.id}/tiles` })).json();
    expect(tileRows).toHaveLength(4);
    expect(tileRows[0]).toMatchObject({ status: 'done', attempts: 1, errorCode: null });
    const list = (await app.inject({ url: '/patrols?status=done' })).json();
    expect(list.total).toBe(1);
    expect((await app.inject({ url: '/patrols/not-a-uuid' })).statusCode).toBe(400);
    expect(
      (await app.inject({ url: `/patrols/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}` })).statusCode,
    ).toBe(404);
    // A finished run cannot be cancelled; someone else's run cannot be controlled by a prosecutor.
    const cancel = await app.inject({
      method: 'POST',
      url: `/patrols/${run.id}/cancel`,
      headers: bearer('analyst'),
    });
    expect(cancel.statusCode).toBe(409);
    expect(cancel.json().code).toBe('PATROL_STATE');
    const other = await app.inject({
      method: 'POST',
      url: `/patrols/${run.id}/resume`,
      headers: bearer('prosOut'),
    });
    expect(other.statusCode).toBe(403);
  });

  it('lists counties for the launcher and publishes Prometheus metrics', async () => {
    const counties = (await app.inject({ url: '/zones/counties' })).json();
    expect(counties.find((c: { adcode: string }) => c.adcode === county)).toMatchObject({
      name: expect.any(String),
      areaKm2: expect.any(Number),
      bbox: [expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)],
    });
    const m = await app.inject({ url: '/metrics' });
    expect(m.headers['content-type']).toMatch(/^text\/plain/);
    expect(m.body).toMatch(/^skypatrol_patrol_tiles\{status="done"\} 4$/m);
    expect(m.body).toMatch(/^skypatrol_patrol_runs\{status="done"\} 1$/m);
    expect(m.body).toMatch(/^skypatrol_queue_up 1$/m);
    expect(m.body).toMatch(/^skypatrol_tile_stage_seconds\{stage="inference"\} [0-9.]+$/m);
  });

  it('shows the queue dashboard to admins only', async () => {
    expect((await app.inject({ url: '/admin/queues' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/admin/queues', headers: bearer('analyst') })).statusCode).toBe(403);
    const ok = await app.inject({ url: '/admin/queues', headers: bearer('admin') });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toMatch(/text\/html/);
    const api = await app.inject({ url: '/admin/queues/api/queues', headers: bearer('admin') });
    expect(api.statusCode).toBe(200);
    expect(JSON.stringify(api.json())).toContain('patrol');
  });

  it('keeps recurring patrols as queue schedulers', async () => {
    const put = await app.inject({
      method: 'PUT',
      url: '/patrols/schedules/monthly-test',
      headers: bearer('analyst'),
      payload: { county, cadence: 'monthly', scenarios: ['change'] },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ id: 'monthly-test', pattern: '0 2 2 * *', county });
    const list = (await app.inject({ url: '/patrols/schedules', headers: bearer('analyst') })).json();
    expect(list).toEqual([expect.objectContaining({ id: 'monthly-test', county, cadence: 'monthly' })]);
    expect((await app.inject({ url: '/patrols/schedules', headers: bearer('prosIn') })).statusCode).toBe(403);
    const del = await app.inject({
      method: 'DELETE',
      url: '/patrols/schedules/monthly-test',
      headers: bearer('analyst'),
    });
    expect(del.statusCode).toBe(204);
    const again = await app.inject({
      method: 'DELETE',
      url: '/patrols/schedules/monthly-test',
      headers: bearer('analyst'),
    });
    expect(again.statusCode).toBe(404);
  });
});
