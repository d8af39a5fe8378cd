import type { FastifyInstance, InjectOptions } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { buildTestApp } from '../support/test-app.ts';

/**
 * The bad-input catalogue: requests a careless or hostile client sends to the real API (real
 * PostGIS, every route registered). Each must get a 4xx with a stable `code` — never a 5xx —
 * and must write nothing: the rows of clues, clue_events, attachments, users, sessions, API
 * tokens and subscriptions are the same before and after every case.
 */

const A = '150702';
const B = '150781';
const PASSWORD = 'correct horse battery';

let db: TestDatabase;
let app: FastifyInstance;
const tok = { admin: '', prosA: '', field: '', expired: '', revoked: '' };
let cookie = '';
let csrf = '';
let clueA = 0;
let clueB = 0;
let png: Buffer;
let jpeg: Buffer;

const square = (x: number, y: number, d: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [x, y],
      [x + d, y],
      [x + d, y + d],
      [x, y + d],
      [x, y],
    ],
  ],
});

async function insertClue(x: number): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, confidence, priority, geom, area_m2, first_seen, last_seen, detector, model_version)
     SELECT 'black-soil', 0.8, 1, g, ST_Area(g::geography), '2025-06-01', '2025-06-20', 'test', '0.1.0'
       FROM (SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($1), 4326)) AS g) s RETURNING id`,
    [JSON.stringify(square(x, 49.5, 0.002))],
  );
  return rows[0]!.id;
}

/** Everything the catalogue must leave untouched, as one comparable value. */
async function snapshot(): Promise<Record<string, unknown>> {
  const { rows } = await db.pool.query(
    `SELECT (SELECT count(*)::int FROM clues) AS clues,
            (SELECT md5(string_agg(c::text, '|' ORDER BY c.id)) FROM clues c) AS clue_rows,
            (SELECT count(*)::int FROM clue_events) AS clue_events,
            (SELECT count(*)::int FROM attachments) AS attachments,
            (SELECT count(*)::int FROM users) AS users,
            (SELECT md5(string_agg(u.id || u.username || u.role || array_to_string(u.counties, ',') || u.active || u.password_hash, '|' ORDER BY u.id)) FROM users u) AS user_rows,
            (SELECT count(*)::int FROM sessions) AS sessions,
            (SELECT count(*)::int FROM api_tokens WHERE revoked_at IS NULL) AS live_tokens,
            (SELECT count(*)::int FROM notify_subscriptions) AS subscriptions,
            (SELECT count(*)::int FROM notify_deliveries) AS deliveries`,
  );
  return rows[0];
}

beforeAll(async () => {
  db = await createTestDatabase();
  for (const [adcode, x] of [
    [A, 119],
    [B, 120],
  ] as const)
    await db.pool.query(
      `INSERT INTO zones (kind, properties, geom) VALUES ('admin_division', $1, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON($2), 4326)))`,
      [
        JSON.stringify({ name: `county ${adcode}`, adcode, level: 'county' }),
        JSON.stringify(square(x, 49, 1)),
      ],
    );
  clueA = await insertClue(119.5);
  clueB = await insertClue(120.5);
  const hash = await hashPassword(PASSWORD);
  const mk = async (username: string, role: 'admin' | 'prosecutor' | 'field', counties: string[]) => {
    const u = await createUser(db.pool, { username, passwordHash: hash, role, counties });
    const t = newApiToken();
    await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 'test', ttlDays: null });
    return { id: u.id, token: t };
  };
  tok.admin = (await mk('admin', 'admin', [])).token;
  const prosA = await mk('prosa', 'prosecutor', [A]);
  tok.prosA = prosA.token;
  tok.field = (await mk('field', 'field', [A])).token;
  tok.expired = newApiToken();
  await db.pool.query(
    `INSERT INTO api_tokens (token_sha256, user_id, name, expires_at) VALUES ($1, $2, 'old', now() - interval '1 day')`,
    [sha256Hex(tok.expired), prosA.id],
  );
  tok.revoked = newApiToken();
  await db.pool.query(
    `INSERT INTO api_tokens (token_sha256, user_id, name, revoked_at) VALUES ($1, $2, 'gone', now())`,
    [sha256Hex(tok.revoked), prosA.id],
  );
  app = await buildTestApp(db.url, db.pool);
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: 'prosa', password: PASSWORD },
  });
  expect(login.statusCode).toBe(200);
  cookie = String(login.headers['set-cookie']).split(';')[0]!;
  csrf = login.json().csrf_token;
  png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#3a7' } })
    .png()
    .toBuffer();
  jpeg = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#a73' } })
    .jpeg()
    .toBuffer();
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

interface Case {
  name: string;
  req: () => InjectOptions;
  status: number;
  code: string;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const get =
  (url: string, token = 'admin'): (() => InjectOptions) =>
  () => ({ url, headers: bearer(token) });
const post =
  (url: string, payload: unknown, token = 'admin'): (() => InjectOptions) =>
  () => ({ method: 'POST', url, headers: bearer(token), payload: payload as InjectOptions['payload'] });
const subscribe = (aoi: unknown) =>
  post('/users/me/subscriptions', { channel: 'email', target: 'a@b.test', aoi }, 'prosA');

const bowtie = {
  type: 'Polygon',
  coordinates: [
    [
      [119, 49],
      [119.5, 49.5],
      [119.5, 49],
      [119, 49.5],
      [119, 49],
    ],
  ],
};
const manyPositions = {
  type: 'Polygon',
  coordinates: [
    [
      ...Array.from({ length: 10_001 }, (_, i) => [
        119.5 + 0.4 * Math.cos((2 * Math.PI * i) / 10_001),
        49.5 + 0.4 * Math.sin((2 * Math.PI * i) / 10_001),
      ]),
      [119.9, 49.5],
    ],
  ],
};

const CASES: Case[] = [
  // ---- geometry: the AOI of a subscription ----
  { name: 'self-intersecting AOI (bow tie)', req: subscribe(bowtie), status: 400, code: 'VALIDATION' },
  {
    name: 'AOI larger than allowed (40° × 20°)',
    req: subscribe(square(100, 30, 20)),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'AOI that is a point',
    req: subscribe({ type: 'Point', coordinates: [119.5, 49.5] }),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'AOI with longitude 200°', req: subscribe(square(200, 49, 1)), status: 400, code: 'VALIDATION' },
  {
    name: 'AOI ring of three positions',
    req: subscribe({
      type: 'Polygon',
      coordinates: [
        [
          [119, 49],
          [120, 49],
          [119, 49],
        ],
      ],
    }),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'AOI with text coordinates',
    req: subscribe({
      type: 'Polygon',
      coordinates: [
        [
          ['a', 'b'],
          [1, 2],
          [3, 4],
          ['a', 'b'],
        ],
      ],
    }),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'AOI of 10,001 positions', req: subscribe(manyPositions), status: 400, code: 'VALIDATION' },
  {
    name: 'AOI that is not GeoJSON',
    req: subscribe('POLYGON((119 49, 120 49, 120 50, 119 49))'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'truncated JSON body',
    req: () => ({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: { ...bearer(tok.prosA), 'content-type': 'application/json' },
      payload: '{"channel":"email","target":',
    }),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'webhook to a file:// URL',
    req: post('/users/me/subscriptions', { channel: 'webhook', target: 'file:///etc/passwd' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- bbox ----
  { name: 'bbox of three numbers', req: get('/clues?bbox=1,2,3'), status: 400, code: 'VALIDATION' },
  { name: 'bbox west > east', req: get('/clues?bbox=10,40,0,50'), status: 400, code: 'VALIDATION' },
  {
    name: 'bbox with NaN (OGC)',
    req: get('/ogc/collections/clues/items?bbox=NaN,0,1,1'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'bbox beyond −180° (export)',
    req: get('/exports/clues.geojson?bbox=-181,0,0,1'),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- SQL fragments in filters and sort keys ----
  {
    name: "scenario ' OR '1'='1",
    req: get(`/clues?scenario=${encodeURIComponent("x' OR '1'='1")}`),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'status with a stacked query (OGC)',
    req: get(`/ogc/collections/clues/items?status=${encodeURIComponent("new'; DELETE FROM clues;--")}`),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'status with DROP TABLE (export)',
    req: get(`/exports/clues.csv?status=${encodeURIComponent('new;DROP TABLE clues')}`),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'scenario with a comment (tiles)',
    req: get(`/tiles/clues/10/850/340.mvt?scenario=${encodeURIComponent("mine');DELETE FROM clues;--")}`),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'sort key with a stacked query',
    req: get(`/web/clues?sort=${encodeURIComponent('id;DROP TABLE clues')}`),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'sort key on an unknown column',
    req: get('/web/clues?sort=password_hash'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'county with SQL (stats)',
    req: get(`/stats?county=${encodeURIComponent("150702' OR 1=1--")}`),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- path traversal in tile and scene ids ----
  {
    name: 'scene id ../../etc/passwd in an imagery tile',
    req: get('/tiles/scenes/..%2F..%2Fetc%2Fpasswd/14/13600/5500.png'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'scene id with .. in TileJSON',
    req: get('/tiles/scenes/a..b.json'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'scene id ../../etc/passwd in a preview',
    req: get('/scenes/..%2F..%2Fetc%2Fpasswd/preview.png'),
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'tile format .gif',
    req: get('/tiles/scenes/S2A/14/13600/5500.gif'),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'unknown vector layer', req: get('/tiles/users/1/0/0.mvt'), status: 400, code: 'VALIDATION' },
  { name: 'tile x beyond 2^z', req: get('/tiles/clues/8/256/10.mvt'), status: 400, code: 'VALIDATION' },
  { name: 'zoom 99', req: get('/tiles/clues/99/0/0.mvt'), status: 400, code: 'VALIDATION' },
  {
    name: 'unknown imagery mode',
    req: get('/tiles/scenes/S2A/14/13600/5500.png?mode=infrared'),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- workflow: illegal transitions, wrong role, wrong county ----
  {
    name: 'illegal transition new → closed',
    req: post(`/clues/:A/transitions`, { to: 'closed' }, 'prosA'),
    status: 409,
    code: 'TRANSITION_REFUSED',
  },
  {
    name: 'dismissal without a reason',
    req: post('/clues/:A/transitions', { to: 'dismissed' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'unknown status',
    req: post('/clues/:A/transitions', { to: 'archived' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'unknown dismissal reason',
    req: post('/clues/:A/transitions', { to: 'dismissed', reason: 'bored' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'field team moves a clue (wrong role)',
    req: post('/clues/:A/transitions', { to: 'in_review' }, 'field'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'field team sets priority (wrong role)',
    req: post('/clues/:A/priority', { priority: 3 }, 'field'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'prosecutor creates a user (wrong role)',
    req: post('/users', { username: 'eve', password: PASSWORD, role: 'admin' }, 'prosA'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'prosecutor of A acts on a clue of B (wrong county)',
    req: post('/clues/:B/transitions', { to: 'in_review' }, 'prosA'),
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'prosecutor of A comments in B (wrong county)',
    req: post('/clues/:B/comments', { text: 'mine now' }, 'prosA'),
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'prosecutor of A exports county B',
    req: get(`/exports/clues.geojson?county=${B}`, 'prosA'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'prosecutor of A: statistics of county B',
    req: get(`/stats?county=${B}`, 'prosA'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'prosecutor of A: clue tiles of county B',
    req: get(`/tiles/clues/10/850/340.mvt?county=${B}`, 'prosA'),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'priority 7',
    req: post('/clues/:A/priority', { priority: 7 }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'empty comment',
    req: post('/clues/:A/comments', { text: '' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'admin creates a user of an unknown role',
    req: post('/users', { username: 'eve', password: PASSWORD, role: 'root' }),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'username with SQL',
    req: post('/users', { username: "x'); DROP TABLE users;--", password: PASSWORD, role: 'analyst' }),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'prosecutor without counties',
    req: post('/users', { username: 'eve', password: PASSWORD, role: 'prosecutor' }),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- uploads ----
  {
    name: 'upload of 10 MB + 1 byte',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/attachments`,
      headers: { ...bearer(tok.field), 'content-type': 'image/png' },
      payload: Buffer.concat([png, Buffer.alloc(10 * 1024 * 1024 + 1 - png.length)]),
    }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'upload of a text file',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/attachments`,
      headers: { ...bearer(tok.field), 'content-type': 'text/plain' },
      payload: 'not a photo',
    }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'JPEG bytes declared as PNG',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/attachments`,
      headers: { ...bearer(tok.field), 'content-type': 'image/png' },
      payload: jpeg,
    }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'empty upload',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/attachments`,
      headers: { ...bearer(tok.field), 'content-type': 'image/png' },
      payload: Buffer.alloc(0),
    }),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'photo for a clue of another county',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueB}/attachments`,
      headers: { ...bearer(tok.field), 'content-type': 'image/png' },
      payload: png,
    }),
    status: 404,
    code: 'NOT_FOUND',
  },
  // ---- tokens, cookies, CSRF ----
  {
    name: 'Authorization without a token',
    req: () => ({ url: '/auth/me', headers: { authorization: 'Bearer' } }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'Basic credentials',
    req: () => ({ url: '/auth/me', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'malformed token',
    req: () => ({ url: '/auth/me', headers: { authorization: 'Bearer spt_!!!' } }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'unknown token',
    req: post('/clues/:A/comments', { text: 'x' }, newApiToken()),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'expired token',
    req: post('/clues/:A/comments', { text: 'x' }, 'expired'),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'revoked token',
    req: post('/clues/:A/comments', { text: 'x' }, 'revoked'),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'malformed token on tiles',
    req: () => ({ url: '/tiles/clues/10/850/340.mvt', headers: { authorization: 'Bearer x' } }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'malformed session cookie',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/comments`,
      headers: { cookie: 'sp_session=../../etc/passwd; sp_session=' },
      payload: { text: 'x' },
    }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'forged session cookie of the right shape',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/comments`,
      headers: { cookie: `sp_session=${'A'.repeat(43)}` },
      payload: { text: 'x' },
    }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'session without CSRF token',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/comments`,
      headers: { cookie },
      payload: { text: 'x' },
    }),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'session with a wrong CSRF token',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/comments`,
      headers: { cookie, 'x-csrf-token': `${csrf}x` },
      payload: { text: 'x' },
    }),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'CSRF token without its session',
    req: () => ({
      method: 'POST',
      url: `/clues/${clueA}/comments`,
      headers: { 'x-csrf-token': csrf },
      payload: { text: 'x' },
    }),
    status: 401,
    code: 'UNAUTHORIZED',
  },
  {
    name: 'log-out without CSRF token',
    req: () => ({ method: 'POST', url: '/auth/logout', headers: { cookie } }),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'user name of 100 characters',
    req: () => ({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'a'.repeat(100), password: 'x' },
    }),
    status: 400,
    code: 'VALIDATION',
  },
  // ---- limits, offsets, dates, enums, ids ----
  { name: 'limit 1,000,000 (clues)', req: get('/clues?limit=1000000'), status: 400, code: 'VALIDATION' },
  { name: 'limit 0', req: get('/clues?limit=0'), status: 400, code: 'VALIDATION' },
  {
    name: 'offset 1e99',
    req: get('/ogc/collections/clues/items?offset=1e99'),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'negative offset', req: get('/scenes?offset=-1'), status: 400, code: 'VALIDATION' },
  {
    name: 'export limit beyond the maximum',
    req: get('/exports/clues.csv?limit=100000001'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'OGC datetime in year 99999',
    req: get('/ogc/collections/clues/items?datetime=99999-01-01'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'OGC datetime in year 0',
    req: get('/ogc/collections/clues/items?datetime=0000-01-01/..'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'OGC datetime 30 February',
    req: get('/ogc/collections/clues/items?datetime=2024-02-30'),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'stats from 2025-13-01', req: get('/stats?from=2025-13-01'), status: 400, code: 'VALIDATION' },
  {
    name: 'stats from after to',
    req: get('/stats?from=2025-06-01&to=2025-01-01'),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'mosaic without dates', req: get('/tiles/mosaic/10/850/340.png'), status: 400, code: 'VALIDATION' },
  {
    name: 'tiles from 2024-02-30',
    req: get('/tiles/clues/10/850/340.mvt?from=2024-02-30'),
    status: 400,
    code: 'VALIDATION',
  },
  { name: 'confidence 2', req: get('/exports/clues.csv?min_confidence=2'), status: 400, code: 'VALIDATION' },
  { name: 'unknown status filter', req: get('/clues?status=deleted'), status: 400, code: 'VALIDATION' },
  { name: 'unknown export format', req: get('/exports/clues.shp'), status: 400, code: 'VALIDATION' },
  {
    name: 'unknown OGC collection',
    req: get('/ogc/collections/users/items'),
    status: 404,
    code: 'NOT_FOUND',
  },
  { name: 'clue id abc', req: get('/clues/abc'), status: 400, code: 'VALIDATION' },
  { name: 'clue id beyond bigint', req: get('/clues/99999999999999999999'), status: 400, code: 'VALIDATION' },
  { name: 'clue id −1', req: post('/clues/-1/comments', { text: 'x' }), status: 400, code: 'VALIDATION' },
  {
    name: 'subscription id 0',
    req: get('/users/me/subscriptions/0', 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
  {
    name: 'subscription digest weekly',
    req: post('/users/me/subscriptions', { channel: 'email', target: 'a@b.test', digest: 'weekly' }, 'prosA'),
    status: 400,
    code: 'VALIDATION',
  },
];

/** Token names ("admin", "prosA", …) and clue placeholders resolve once beforeAll has run. */
function resolve(o: InjectOptions): InjectOptions {
  const names = tok as Record<string, string>;
  const headers = { ...(o.headers as Record<string, string> | undefined) };
  const m = /^Bearer (\w+)$/.exec(headers.authorization ?? '');
  if (m && names[m[1]!] !== undefined) headers.authorization = `Bearer ${names[m[1]!]}`;
  const url = String(o.url).replace('/:A/', `/${clueA}/`).replace('/:B/', `/${clueB}/`);
  return { ...o, url, headers };
}

describe('bad-input catalogue', () => {
  it('has at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s → 4xx with a code, nothing written',
    async (_name, c) => {
      const before = await snapshot();
      const r = await app.inject(resolve(c.req()));
      let body: { code?: unknown; message?: unknown } = {};
      try {
        body = r.json();
      } catch {
        body = {};
      }
      expect({ status: r.statusCode, code: body.code }).toEqual({ status: c.status, code: c.code });
      expect(r.statusCode).toBeGreaterThanOrEqual(400);
      expect(r.statusCode).toBeLessThan(500);
      expect(typeof body.message).toBe('string');
      expect(await snapshot()).toEqual(before);
    },
  );
});
