import { createHash } from 'node:crypto';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { build as buildWithReview } from '../../services/apps/api/app.ts';
import { getClueFor, queryCluesFor } from '../../services/apps/api/plugins/auth.ts';
import { registerUsersCommands } from '../../services/apps/cli/commands/users.ts';
import { type Config, loadConfig } from '../../services/core/config.ts';
import { CLUE_STATUSES, type ClueStatus, canTransition } from '../../services/domain/clues/status.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

const A = '150702';
const B = '150781';
const PASSWORD = 'correct horse battery';

let db: TestDatabase;
let app: FastifyInstance;
let config: Config;
const statuses: number[] = [];
const tokens: Record<'admin' | 'analyst' | 'prosA' | 'prosB' | 'field', string> = {
  admin: '',
  analyst: '',
  prosA: '',
  prosB: '',
  field: '',
};
let png: Buffer;

const square = (x: number, y: number, d: number) =>
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

/** County A covers 119–120°E, county B 120–121°E (49–50°N); 118.5°E is in neither. */
const spot = { A: 119.5, B: 120.5, none: 118.5 } as const;

async function newClue(where: keyof typeof spot, status: ClueStatus = 'new'): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, detector, model_version)
     SELECT 'change', 0.8, g, ST_Area(g::geography), '2024-06-01', '2024-06-01', 'change', '0.1.0'
       FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s RETURNING id`,
    [square(spot[where], 49.5, 0.001)],
  );
  const id = rows[0]!.id;
  if (status !== 'new')
    await db.pool.query('UPDATE clues SET status = $2, dismiss_reason = $3 WHERE id = $1', [
      id,
      status,
      status === 'dismissed' ? 'duplicate' : null,
    ]);
  return id;
}

const count = async (table: string, where = 'true', args: unknown[] = []) =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, args))
    .rows[0]!.n;
const eventsOf = (clueId: number) => count('clue_events', 'clue_id = $1', [clueId]);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  db = await createTestDatabase();
  for (const [adcode, x] of [
    [A, 119],
    [B, 120],
  ] as const)
    await db.pool.query(
      `INSERT INTO zones (kind, properties, geom) VALUES ('admin_division', $1, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326))`,
      [JSON.stringify({ name: `county ${adcode}`, adcode }), square(x, 49, 1)],
    );
  const hash = await hashPassword(PASSWORD);
  const mk = async (
    key: keyof typeof tokens,
    role: 'admin' | 'analyst' | 'prosecutor' | 'field',
    counties: string[],
  ) => {
    const u = await createUser(db.pool, { username: key.toLowerCase(), passwordHash: hash, role, counties });
    const t = newApiToken();
    await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 'test', ttlDays: null });
    tokens[key] = t;
  };
  await mk('admin', 'admin', []);
  await mk('analyst', 'analyst', []);
  await mk('prosA', 'prosecutor', [A]);
  await mk('prosB', 'prosecutor', [B]);
  await mk('field', 'field', [A]);
  png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#3a7' } })
    .png()
    .toBuffer();
  config = loadConfig({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), SKYPATROL_LOG_LEVEL: 'silent' });
  app = await buildWithReview(config, { pool: db.pool });
  // What routes/clues.ts does once it uses the scoped reads (see the hand-over notes).
  await app.register(async (s) => {
    s.get('/scoped/clues', async (req) => queryCluesFor(req, s.deps.pool, { limit: 100, offset: 0 }));
    s.get('/scoped/clues/:id', async (req) => {
      const clue = await getClueFor(req, s.deps.pool, Number((req.params as { id: string }).id));
      return clue ?? { missing: true };
    });
  });
  app.addHook('onResponse', async (_req, reply) => {
    statuses.push(reply.statusCode);
  });
});

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('clue county', () => {
  it('is set on insert from the admin_division containing the centroid', async () => {
    const a = await newClue('A');
    const b = await newClue('B');
    const none = await newClue('none');
    const { rows } = await db.pool.query<{ id: number; county_adcode: string | null }>(
      'SELECT id, county_adcode FROM clues WHERE id = ANY($1) ORDER BY id',
      [[a, b, none]],
    );
    expect(rows.map((r) => r.county_adcode)).toEqual([A, B, null]);
  });
});

describe('sessions, CSRF and tokens', () => {
  const login = (username: string, password: string, remoteAddress = '127.0.0.1') =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress });
  const cookieOf = (r: { headers: Record<string, unknown> }) =>
    String(r.headers['set-cookie']).split(';')[0]!;

  it('logs in with a HttpOnly SameSite=Lax cookie, requires CSRF on mutations, logs out', async () => {
    const r = await login('analyst', PASSWORD);
    expect(r.statusCode).toBe(200);
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/^sp_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    const { csrf_token, user } = r.json();
    expect(user).toMatchObject({ username: 'analyst', role: 'analyst' });
    expect(csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = cookieOf(r);

    const me = await app.inject({ url: '/auth/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ username: 'analyst', via: 'session', csrf_token });

    const clue = await newClue('A');
    const comment = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: `/clues/${clue}/comments`,
        headers,
        payload: { text: 'looks fresh' },
      });
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'wrong' }] as Record<string, string>[]) {
      const refused = await comment(headers);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('FORBIDDEN');
    }
    expect(await eventsOf(clue)).toBe(0);
    expect((await comment({ cookie, 'x-csrf-token': csrf_token })).statusCode).toBe(201);
    const ev = await db.pool.query(
      'SELECT actor, actor_user_id, kind, comment FROM clue_events WHERE clue_id = $1',
      [clue],
    );
    expect(ev.rows).toEqual([
      { actor: 'analyst', actor_user_id: expect.any(Number), kind: 'comment', comment: 'looks fresh' },
    ]);

    expect((await app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie } })).statusCode).toBe(
      403,
    );
    const out = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { cookie, 'x-csrf-token': csrf_token },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    const after = await app.inject({ url: '/auth/me', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('UNAUTHORIZED');
  });

  it('creates an API token shown once; bearer requests skip CSRF; revoked and expired tokens are 401', async () => {
    const r = await login('prosa', PASSWORD);
    const cookie = cookieOf(r);
    const csrf = r.json().csrf_token as string;
    const created = await app.inject({
      method: 'POST',
      url: '/auth/tokens',
      headers: { cookie, 'x-csrf-token': csrf },
      payload: { name: 'script' },
    });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json();
    expect(token).toMatch(/^spt_[A-Za-z0-9_-]{43}$/);
    const stored = await db.pool.query('SELECT token_sha256 FROM api_tokens WHERE id = $1', [id]);
    expect(stored.rows[0].token_sha256).toBe(createHash('sha256').update(token).digest('hex'));
    const list = await app.inject({ url: '/auth/tokens', headers: bearer(token) });
    expect(list.statusCode).toBe(200);
    expect(JSON.stringify(list.json())).not.toContain(token);

    const clue = await newClue('A');
    const viaBearer = await app.inject({
      method: 'POST',
      url: `/clues/${clue}/priority`,
      headers: bearer(token),
      payload: { priority: 2 },
    });
    expect(viaBearer.statusCode).toBe(200);
    expect(viaBearer.json()).toMatchObject({ priority: 2 });

    const revoke = await app.inject({ method: 'DELETE', url: `/auth/tokens/${id}`, headers: bearer(token) });
    expect(revoke.statusCode).toBe(204);
    const revoked = await app.inject({ url: '/auth/me', headers: bearer(token) });
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().code).toBe('UNAUTHORIZED');

    const t2 = newApiToken();
    const row = await createApiToken(db.pool, {
      tokenSha256: sha256Hex(t2),
      userId: r.json().user.id,
      name: 'old',
      ttlDays: 1,
    });
    expect((await app.inject({ url: '/auth/me', headers: bearer(t2) })).statusCode).toBe(200);
    await db.pool.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [
      row.id,
    ]);
    expect((await app.inject({ url: '/auth/me', headers: bearer(t2) })).statusCode).toBe(401);
  });

  it.each([
    ['not a bearer', 'Basic dXNlcjpwYXNz'],
    ['empty bearer', 'Bearer '],
    ['short token', 'Bearer spt_abc'],
    ['bad characters', `Bearer spt_${'!'.repeat(43)}`],
    ['unknown token', `Bearer spt_${'A'.repeat(43)}`],
  ])('a malformed or unknown token (%s) is 401 and writes nothing', async (_name, authorization) => {
    const clue = await newClue('A');
    for (const req of [
      { method: 'GET' as const, url: '/auth/me' },
      { method: 'POST' as const, url: `/clues/${clue}/comments`, payload: { text: 'x' } },
      { method: 'GET' as const, url: `/scoped/clues/${clue}` },
    ]) {
      const r = await app.inject({ ...req, headers: { authorization } });
      expect(r.statusCode, req.url).toBe(401);
      expect(r.json().code).toBe('UNAUTHORIZED');
    }
    expect(await eventsOf(clue)).toBe(0);
  });

  it('audits wrong passwords and rate-limits per username + IP (5 failures / 15 min → 429)', async () => {
    const ip = '10.1.2.3';
    for (let i = 0; i < 5; i++) {
      const r = await login('field', 'wrong password!', ip);
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual({ code: 'UNAUTHORIZED', message: 'wrong username or password' });
    }
    const limited = await login('field', PASSWORD, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().code).toBe('RATE_LIMITED');
    expect(limited.headers['set-cookie']).toBeUndefined();
    // Another address is not locked out.
    expect((await login('field', PASSWORD, '10.9.9.9')).statusCode).toBe(200);
    const { rows } = await db.pool.query(
      'SELECT username, success, reason, ip FROM login_events WHERE username = $1 ORDER BY id',
      ['field'],
    );
    expect(rows).toEqual([
      ...Array(5).fill({ username: 'field', success: false, reason: 'bad_credentials', ip }),
      { username: 'field', success: false, reason: 'rate_limited', ip },
      { username: 'field', success: true, reason: 'ok', ip: '10.9.9.9' },
    ]);
    const unknown = await login('nobody', PASSWORD, ip);
    expect(unknown.statusCode).toBe(401);
    expect(await count('login_events', "username = 'nobody' AND NOT success")).toBe(1);
  });

  it('refuses malformed login bodies with 400 VALIDATION', async () => {
    for (const payload of [{}, { username: 'admin' }, { username: 'admin', password: PASSWORD, extra: 1 }]) {
      const r = await app.inject({ method: 'POST', url: '/auth/login', payload });
      expect(r.statusCode).toBe(400);
      expect(r.json().code).toBe('VALIDATION');
    }
    const text = await app.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'text/plain' },
      payload: 'username=admin',
    });
    expect(text.statusCode).toBeGreaterThanOrEqual(400);
    expect(text.statusCode).toBeLessThan(500);
  });
});

describe('authorization matrix (role × action × county)', () => {
  type Who = keyof typeof tokens | 'anonymous';
  type Action = 'read' | 'transition' | 'dismiss' | 'comment' | 'priority' | 'attach' | 'users';
  const act = async (who: Who, action: Action, clue: number) => {
    const headers: Record<string, string> = who === 'anonymous' ? {} : bearer(tokens[who]);
    switch (action) {
      case 'read':
        return app.inject({ url: `/clues/${clue}/events`, headers });
      case 'transition':
        return app.inject({
          method: 'POST',
          url: `/clues/${clue}/transitions`,
          headers,
          payload: { to: 'in_review' },
        });
      case 'dismiss':
        return app.inject({
          method: 'POST',
          url: `/clues/${clue}/transitions`,
          headers,
          payload: { to: 'dismissed', reason: 'false_detection', comment: 'cloud shadow' },
        });
      case 'comment':
        return app.inject({
          method: 'POST',
          url: `/clues/${clue}/comments`,
          headers,
          payload: { text: 'hm' },
        });
      case 'priority':
        return app.inject({
          method: 'POST',
          url: `/clues/${clue}/priority`,
          headers,
          payload: { priority: 3 },
        });
      case 'attach':
        return app.inject({
          method: 'POST',
          url: `/clues/${clue}/attachments?filename=site.png`,
          headers: { ...headers, 'content-type': 'image/png' },
          payload: png,
        });
      case 'users':
        return app.inject({ url: '/users', headers });
    }
  };
  const ok = { read: 200, transition: 200, dismiss: 200, comment: 201, priority: 200, attach: 201 } as const;
  const matrix: Record<Who, Record<Action, number>> = {
    admin: { ...ok, users: 200 },
    analyst: { ...ok, users: 403 },
    prosA: { ...ok, users: 403 },
    // A clue outside the prosecutor's counties does not exist for them: 404, not 403.
    prosB: { read: 404, transition: 404, dismiss: 404, comment: 404, priority: 404, attach: 404, users: 403 },
    field: { read: 200, transition: 403, dismiss: 403, comment: 403, priority: 403, attach: 201, users: 403 },
    anonymous: {
      read: 401,
      transition: 401,
      dismiss: 401,
      comment: 401,
      priority: 401,
      attach: 401,
      users: 401,
    },
  };
  const cases = Object.entries(matrix).flatMap(([who, row]) =>
    Object.entries(row).map(([action, status]) => [who as Who, action as Action, status] as const),
  );
  it.each(cases)('%s × %s on a clue in county A → %i', async (who, action, status) => {
    const clue = await newClue('A');
    const before = await eventsOf(clue);
    const r = await act(who, action, clue);
    expect(r.statusCode, r.body).toBe(status);
    if (status >= 400) {
      expect(r.json().code).toBe(
        { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' }[status as 401 | 403 | 404],
      );
      expect(await eventsOf(clue)).toBe(before);
      expect(await count('attachments', 'clue_id = $1', [clue])).toBe(0);
      const c = await db.pool.query('SELECT status, priority FROM clues WHERE id = $1', [clue]);
      expect(c.rows[0]).toEqual({ status: 'new', priority: 0 });
    } else if (action !== 'read' && action !== 'users') {
      expect(await eventsOf(clue)).toBe(before + 1);
    }
  });

  it('a clue with no county is visible to admin and analyst only', async () => {
    const clue = await newClue('none');
    expect((await act('admin', 'read', clue)).statusCode).toBe(200);
    expect((await act('analyst', 'comment', clue)).statusCode).toBe(201);
    expect((await act('prosA', 'read', clue)).statusCode).toBe(404);
    expect((await act('field', 'attach', clue)).statusCode).toBe(404);
  });

  it('an unknown clue is 404 for everyone', async () => {
    for (const who of ['admin', 'prosA', 'field'] as const)
      expect((await act(who, 'comment', 999999)).statusCode).toBe(404);
  });
});

describe('scoped reads (GET /clues, /clues/:id via the exported helpers)', () => {
  it('prosecutors and field teams see only their counties; admin/analyst and anonymous see all', async () => {
    const a = await newClue('A');
    const b = await newClue('B');
    const none = await newClue('none');
    const ids = async (headers: Record<string, string>) =>
      ((await app.inject({ url: '/scoped/clues', headers })).json().rows as { id: number }[]).map(
        (r) => r.id,
      );
    for (const [who, sees, hidden] of [
      ['prosA', [a], [b, none]],
      ['prosB', [b], [a, none]],
      ['field', [a], [b, none]],
      ['analyst', [a, b, none], []],
    ] as const) {
      const got = await ids(bearer(tokens[who]));
      expect(got, who).toEqual(expect.arrayContaining([...sees]));
      for (const h of hidden) expect(got, who).not.toContain(h);
    }
    expect(await ids({})).toEqual(expect.arrayContaining([a, b, none]));
    const one = await app.inject({ url: `/scoped/clues/${b}`, headers: bearer(tokens.prosA) });
    expect(one.json()).toEqual({ missing: true });
    const mine = await app.inject({ url: `/scoped/clues/${a}`, headers: bearer(tokens.prosA) });
    expect(mine.json().id).toBe(a);
  });

  it('with requireLogin, anonymous reads are 401', async () => {
    const strict = await buildWithReview({ ...config, requireLogin: true } as Config, { pool: db.pool });
    await strict.register(async (s) => {
      s.get('/scoped/clues', async (req) => queryCluesFor(req, s.deps.pool, { limit: 1, offset: 0 }));
    });
    try {
      const r = await strict.inject('/scoped/clues');
      expect(r.statusCode).toBe(401);
      expect((await strict.inject({ url: '/scoped/clues', headers: bearer(tokens.admin) })).statusCode).toBe(
        200,
      );
    } finally {
      await strict.close();
    }
  });
});

describe('workflow', () => {
  const transition = (clue: number, payload: Record<string, unknown>, who: keyof typeof tokens = 'admin') =>
    app.inject({ method: 'POST', url: `/clues/${clue}/transitions`, headers: bearer(tokens[who]), payload });

  const allowed = CLUE_STATUSES.flatMap((from) =>
    CLUE_STATUSES.filter((to) => canTransition(from, to)).map((to) => [from, to] as const),
  );
  it.each(allowed)('%s → %s succeeds, updates the clue and records one event', async (from, to) => {
    const clue = await newClue('A', from);
    const before = await eventsOf(clue);
    const r = await transition(clue, {
      to,
      ...(to === 'dismissed' ? { reason: 'outside_jurisdiction' } : {}),
    });
    expect(r.statusCode, r.body).toBe(200);
    const c = await db.pool.query('SELECT status, dismiss_reason FROM clues WHERE id = $1', [clue]);
    expect(c.rows[0]).toEqual({
      status: to,
      dismiss_reason: to === 'dismissed' ? 'outside_jurisdiction' : null,
    });
    expect(await eventsOf(clue)).toBe(before + 1);
    const ev = await db.pool.query(
      "SELECT from_status, to_status, reason, actor FROM clue_events WHERE clue_id = $1 AND kind = 'transition'",
      [clue],
    );
    expect(ev.rows).toEqual([
      {
        from_status: from,
        to_status: to,
        reason: to === 'dismissed' ? 'outside_jurisdiction' : null,
        actor: 'admin',
      },
    ]);
  });

  it.each([
    ['new', 'confirmed'],
    ['new', 'closed'],
    ['new', 'case_filed'],
    ['in_review', 'closed'],
    ['field_check', 'case_filed'],
    ['case_filed', 'dismissed'],
    ['closed', 'in_review'],
    ['closed', 'dismissed'],
    ['dismissed', 'confirmed'],
    ['in_review', 'new'],
    ['in_review', 'in_review'],
  ] as const)('%s → %s is 409 TRANSITION_REFUSED and writes nothing', async (from, to) => {
    const clue = await newClue('A', from);
    const before = await eventsOf(clue);
    const r = await transition(clue, { to, ...(to === 'dismissed' ? { reason: 'duplicate' } : {}) });
    expect(r.statusCode).toBe(409);
    expect(r.json().code).toBe('TRANSITION_REFUSED');
    expect(await eventsOf(clue)).toBe(before);
    expect((await db.pool.query('SELECT status FROM clues WHERE id = $1', [clue])).rows[0].status).toBe(from);
  });

  it('dismissing needs a known reason (400); a reason elsewhere is 400; nothing written', async () => {
    const clue = await newClue('A');
    for (const payload of [
      { to: 'dismissed' },
      { to: 'dismissed', reason: 'because' },
      { to: 'in_review', reason: 'duplicate' },
      { to: 'archived' },
      { to: 'in_review', extra: true },
      { to: 'in_review', comment: '' },
    ]) {
      const r = await transition(clue, payload);
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json().code).toBe('VALIDATION');
    }
    expect(await eventsOf(clue)).toBe(0);
  });

  it('legal steps are the prosecutor’s: analyst confirmed → case_filed is 403', async () => {
    const clue = await newClue('A', 'confirmed');
    const r = await transition(clue, { to: 'case_filed' }, 'analyst');
    expect(r.statusCode).toBe(403);
    expect((await transition(clue, { to: 'case_filed' }, 'prosA')).statusCode).toBe(200);
  });

  it('reopening a dismissed clue clears its reason', async () => {
    const clue = await newClue('A', 'dismissed');
    expect((await transition(clue, { to: 'in_review' }, 'prosA')).statusCode).toBe(200);
    const c = await db.pool.query('SELECT status, dismiss_reason FROM clues WHERE id = $1', [clue]);
    expect(c.rows[0]).toEqual({ status: 'in_review', dismiss_reason: null });
  });

  it('priority must be an integer 0–3 and is recorded with from/to', async () => {
    const clue = await newClue('A');
    for (const priority of [-1, 4, 1.5, 'high'])
      expect(
        (
          await app.inject({
            method: 'POST',
            url: `/clues/${clue}/priority`,
            headers: bearer(tokens.analyst),
            payload: { priority },
          })
        ).statusCode,
      ).toBe(400);
    const r = await app.inject({
      method: 'POST',
      url: `/clues/${clue}/priority`,
      headers: bearer(tokens.analyst),
      payload: { priority: 1, comment: 'near the river' },
    });
    expect(r.statusCode).toBe(200);
    const ev = await db.pool.query(
      "SELECT data, comment FROM clue_events WHERE clue_id = $1 AND kind = 'priority'",
      [clue],
    );
    expect(ev.rows).toEqual([{ data: { from: 0, to: 1 }, comment: 'near the river' }]);
  });

  it('the event history lists who did what', async () => {
    const clue = await newClue('A');
    await transition(clue, { to: 'in_review', comment: 'start' }, 'prosA');
    const r = await app.inject({ url: `/clues/${clue}/events`, headers: bearer(tokens.field) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual([
      expect.objectContaining({
        kind: 'transition',
        actor: 'prosa',
        from_status: 'new',
        to_status: 'in_review',
        comment: 'start',
      }),
    ]);
  });
});

describe('attachments', () => {
  const upload = (
    clue: number,
    body: Buffer | string,
    contentType: string | undefined,
    filename = 'photo.png',
  ) =>
    app.inject({
      method: 'POST',
      url: `/clues/${clue}/attachments?filename=${encodeURIComponent(filename)}&caption=north%20edge`,
      headers: { ...bearer(tokens.field), ...(contentType ? { 'content-type': contentType } : {}) },
      payload: body,
    });

  it('accepts a real PNG, records its sha256 and serves it back', async () => {
    const clue = await newClue('A');
    const r = await upload(clue, png, 'image/png', '../../etc/site "1".png');
    expect(r.statusCode, r.body).toBe(201);
    const sha = createHash('sha256').update(png).digest('hex');
    const body = r.json();
    expect(body).toMatchObject({ mime: 'image/png', bytes: png.length, sha256: sha, filename: 'site 1.png' });
    const row = await db.pool.query(
      'SELECT sha256, bytes, content, event_id FROM attachments WHERE id = $1',
      [body.id],
    );
    expect(row.rows[0].sha256).toBe(sha);
    expect(Buffer.compare(row.rows[0].content, png)).toBe(0);
    const ev = await db.pool.query('SELECT kind, comment, data FROM clue_events WHERE id = $1', [
      row.rows[0].event_id,
    ]);
    expect(ev.rows[0]).toMatchObject({
      kind: 'attachment',
      comment: 'north edge',
      data: { sha256: sha, attachment_id: body.id },
    });

    const got = await app.inject({
      url: `/clues/${clue}/attachments/${body.id}`,
      headers: bearer(tokens.prosA),
    });
    expect(got.statusCode).toBe(200);
    expect(got.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(got.rawPayload, png)).toBe(0);
    const hidden = await app.inject({
      url: `/clues/${clue}/attachments/${body.id}`,
      headers: bearer(tokens.prosB),
    });
    expect(hidden.statusCode).toBe(404);
    const missing = await app.inject({
      url: `/clues/${clue}/attachments/not-a-uuid`,
      headers: bearer(tokens.prosA),
    });
    expect(missing.statusCode).toBe(404);
  });

  it('accepts JPEG and WebP by their bytes', async () => {
    const clue = await newClue('A');
    const jpeg = await sharp(png).jpeg().toBuffer();
    const webp = await sharp(png).webp().toBuffer();
    expect((await upload(clue, jpeg, 'image/jpeg', 'a.jpg')).statusCode).toBe(201);
    expect((await upload(clue, webp, 'image/webp', 'a.webp')).statusCode).toBe(201);
  });

  it.each([
    ['a text file named .png', 'just some text, not an image', 'image/png', 415],
    ['a PNG declared as JPEG', 'png', 'image/jpeg', 415],
    ['text/plain', 'hello', 'text/plain', 415],
    ['a GIF', 'GIF89a\u0001\u0000\u0001\u0000', 'image/gif', 415],
    ['multipart', '--x\r\n\r\n--x--', 'multipart/form-data; boundary=x', 415],
    ['JSON', '{"a":1}', 'application/json', 415],
    ['no content type', 'png', undefined, 415],
    ['an empty body', '', 'image/png', 400],
  ] as const)('refuses %s with %i and writes nothing', async (_name, body, type, status) => {
    const clue = await newClue('A');
    const r = await upload(clue, body === 'png' ? png : body, type);
    expect(r.statusCode, r.body).toBe(status);
    expect(r.json().code).toBe(status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'VALIDATION');
    expect(await eventsOf(clue)).toBe(0);
    expect(await count('attachments', 'clue_id = $1', [clue])).toBe(0);
  });

  it('refuses more than 10 MB with 413 and writes nothing', async () => {
    const clue = await newClue('A');
    const big = Buffer.concat([png, Buffer.alloc(10 * 1024 * 1024 + 1 - png.length)]);
    const r = await upload(clue, big, 'image/png');
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('PAYLOAD_TOO_LARGE');
    expect(await eventsOf(clue)).toBe(0);
    expect(await count('attachments', 'clue_id = $1', [clue])).toBe(0);
    const exact = Buffer.concat([png, Buffer.alloc(10 * 1024 * 1024 - png.length)]);
    expect((await upload(clue, exact, 'image/png')).statusCode).toBe(201);
  });
});

describe('users (admin only)', () => {
  it('creates, lists and changes users; validates roles and counties', async () => {
    const h = bearer(tokens.admin);
    const created = await app.inject({
      method: 'POST',
      url: '/users',
      headers: h,
      payload: { username: 'zhang.san', password: 'a long enough pw', role: 'prosecutor', counties: [A] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const u = created.json();
    expect(u).toMatchObject({ username: 'zhang.san', role: 'prosecutor', counties: [A], active: true });
    expect(u.password_hash).toBeUndefined();
    const stored = await db.pool.query('SELECT password_hash FROM users WHERE id = $1', [u.id]);
    expect(stored.rows[0].password_hash).toMatch(/^scrypt\$15\$8\$1\$/);

    const bad = [
      { username: 'x1', password: 'a long enough pw', role: 'prosecutor' },
      { username: 'x2', password: 'short', role: 'analyst' },
      { username: 'x3', password: 'a long enough pw', role: 'root' },
      { username: 'X 4', password: 'a long enough pw', role: 'analyst' },
      { username: 'x5', password: 'a long enough pw', role: 'field', counties: ['15'] },
    ];
    for (const payload of bad) {
      const r = await app.inject({ method: 'POST', url: '/users', headers: h, payload });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const dup = await app.inject({
      method: 'POST',
      url: '/users',
      headers: h,
      payload: { username: 'zhang.san', password: 'a long enough pw', role: 'analyst' },
    });
    expect(dup.statusCode).toBe(409);

    const patched = await app.inject({
      method: 'PATCH',
      url: `/users/${u.id}`,
      headers: h,
      payload: { counties: [A, B] },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().counties).toEqual([A, B]);
    expect(
      (await app.inject({ method: 'PATCH', url: `/users/${u.id}`, headers: h, payload: { counties: [] } }))
        .statusCode,
    ).toBe(400);
    expect(
      (await app.inject({ method: 'PATCH', url: '/users/999999', headers: h, payload: { active: false } }))
        .statusCode,
    ).toBe(404);

    // Deactivation ends access at once.
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'zhang.san', password: 'a long enough pw' },
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await app.inject({ url: '/auth/me', headers: { cookie } })).statusCode).toBe(200);
    await app.inject({ method: 'PATCH', url: `/users/${u.id}`, headers: h, payload: { active: false } });
    expect((await app.inject({ url: '/auth/me', headers: { cookie } })).statusCode).toBe(401);
    const again = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'zhang.san', password: 'a long enough pw' },
    });
    expect(again.statusCode).toBe(401);
    expect(await count('login_events', "username = 'zhang.san' AND reason = 'inactive'")).toBe(1);

    for (const who of ['analyst', 'prosA', 'field'] as const) {
      const r = await app.inject({
        method: 'POST',
        url: '/users',
        headers: bearer(tokens[who]),
        payload: { username: 'sneaky', password: 'a long enough pw', role: 'admin' },
      });
      expect(r.statusCode).toBe(403);
    }
    expect(await count('users', "username = 'sneaky'")).toBe(0);
  });
});

describe('CLI: users add / users list', () => {
  it('adds the first admin with a generated password that signs in, and lists users', async () => {
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out.push(a.join(' '));
    });
    const run = async (...args: string[]) => {
      const cli = new Command('skypatrol').exitOverride();
      registerUsersCommands(cli, () => config);
      await cli.parseAsync(args, { from: 'user' });
    };
    try {
      await run('users', 'add', 'Wang.Wu', '--role', 'prosecutor', '--counties', `${A},${B}`);
      const password = /^password: (\S+)$/m.exec(out.join('\n'))?.[1];
      expect(password).toBeDefined();
      expect(out.join('\n')).toMatch(/user wang\.wu \(id \d+, prosecutor, counties 150702,150781\) added/);
      await expect(run('users', 'add', 'x9', '--role', 'prosecutor')).rejects.toMatchObject({
        code: 'VALIDATION',
      });
      await expect(run('users', 'add', 'x9', '--role', 'root')).rejects.toMatchObject({ code: 'VALIDATION' });
      await expect(run('users', 'add', 'wang.wu', '--role', 'analyst')).rejects.toMatchObject({
        code: 'CONFLICT',
      });
      out.length = 0;
      await run('users', 'list');
      expect(out.join('\n')).toMatch(/\twang\.wu\tprosecutor\t150702,150781\tactive/);
      const r = await app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'wang.wu', password },
      });
      expect(r.statusCode).toBe(200);
    } finally {
      log.mockRestore();
    }
  });
});

describe('append-only tables', () => {
  it.each(['clue_events', 'login_events', 'attachments'])(
    'the database refuses UPDATE and DELETE on %s',
    async (table) => {
      expect(await count(table)).toBeGreaterThan(0);
      const column = table === 'login_events' ? 'username' : table === 'attachments' ? 'filename' : 'actor';
      await expect(db.pool.query(`UPDATE ${table} SET ${column} = 'tampered'`)).rejects.toMatchObject({
        code: '42501',
      });
      await expect(db.pool.query(`DELETE FROM ${table}`)).rejects.toMatchObject({ code: '42501' });
      expect(await count(table, `${column} = 'tampered'`)).toBe(0);
    },
  );
});

describe('the whole run', () => {
  it('documents the review routes in a valid OpenAPI document', async () => {
    const r = await app.inject('/openapi.json');
    const doc = r.json();
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/auth/login', '/users', '/clues/{id}/transitions', '/clues/{id}/attachments']),
    );
  });

  it('never answered 5xx', () => {
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
