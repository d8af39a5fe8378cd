import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, newApiToken, sha256Hex } from '../../services/adapters/auth/crypto.ts';
import { createApiToken, createUser } from '../../services/adapters/postgis/user-store.ts';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import {
  chinaDay,
  type NotifierDeps,
  notifierDeps,
  runDigest,
  runNotifications,
} from '../../services/usecases/notify.ts';
import { runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

/**
 * Notifications end to end: subscriptions through the API, a real SMTP sink (smtp-server on a
 * spare port) and a real HTTP server receiving the webhooks.
 */

const A = '150702';
const B = '150781';
const spot = { A: 119.5, B: 120.5 } as const;

interface Hook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  answered: number;
}
interface Received {
  to: string[];
  raw: string;
  subject: string;
  text: string;
}

let db: TestDatabase;
let app: FastifyInstance;
/** The API with no webhook allow-list (the default configuration). */
let strictApp: FastifyInstance;
let smtp: SMTPServer;
let smtpPort: number;
let http: Server;
let hookUrl: string;
let hookStatus = 200;
const hooks: Hook[] = [];
const mails: Received[] = [];
let deps: NotifierDeps;
const tokens: Record<'pros' | 'analyst' | 'field' | 'other', string> = {
  pros: '',
  analyst: '',
  field: '',
  other: '',
};
let hookSecret = '';

// ---- a minimal MIME reader for the received messages (headers, encoded words, QP/base64) ----

function decodeWords(v: string): string {
  return v.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*(?==\?)?/g, (_m, _cs, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(
          data
            .replace(/_/g, ' ')
            .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(split + 4);
  const cte = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  if (cte === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (cte === 'quoted-printable')
    body = Buffer.from(
      body
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
      'latin1',
    ).toString('utf8');
  return { headers, text: body };
}

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

async function newClue(where: keyof typeof spot, priority: number, scenario = 'black-soil'): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO clues (scenario, confidence, priority, geom, area_m2, first_seen, last_seen, detector, model_version)
     SELECT $3, 0.87, $2, g, ST_Area(g::geography), '2025-07-01', '2025-07-20', 'test', '0.1.0'
       FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s RETURNING id`,
    [square(spot[where] + Math.random() * 0.1, 49.5, 0.002), priority, scenario],
  );
  return rows[0]!.id;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const hooksFor = (clueId: number) =>
  hooks.filter((h) => (JSON.parse(h.body) as { clue?: { id: number } }).clue?.id === clueId);
const mailsFor = (clueId: number) => mails.filter((m) => m.subject.includes(`#${clueId}`));

function verify(h: Hook, secret: string): boolean {
  const ts = String(h.headers['x-skypatrol-timestamp']);
  const sent = String(h.headers['x-skypatrol-signature']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${h.body}`).digest('hex')}`;
  return sent.length === expected.length && timingSafeEqual(Buffer.from(sent), Buffer.from(expected));
}

beforeAll(async () => {
  db = await createTestDatabase();
  for (const [adcode, x, name] of [
    [A, 119, '新巴尔虎右旗'],
    [B, 120, '满洲里市'],
  ] as const)
    await db.pool.query(
      `INSERT INTO zones (kind, properties, geom) VALUES ('admin_division', $1, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326))`,
      [JSON.stringify({ name, adcode, level: 'county' }), square(x, 49, 1)],
    );
  const hash = await hashPassword('correct horse battery');
  const mk = async (
    key: keyof typeof tokens,
    role: 'analyst' | 'prosecutor' | 'field',
    counties: string[],
  ) => {
    const u = await createUser(db.pool, {
      username: `n-${key}`,
      displayName: key === 'pros' ? '王检察官' : '',
      passwordHash: hash,
      role,
      counties,
    });
    const t = newApiToken();
    await createApiToken(db.pool, { tokenSha256: sha256Hex(t), userId: u.id, name: 'test', ttlDays: null });
    tokens[key] = t;
  };
  await mk('pros', 'prosecutor', [A]);
  await mk('analyst', 'analyst', []);
  await mk('field', 'field', [A]);
  await mk('other', 'prosecutor', [B]);

  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('latin1');
        const { headers, text } = parseMail(raw);
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          subject: decodeWords(headers.subject ?? ''),
          text,
        });
        done();
      });
    },
  });
  await new Promise<void>((ok) => smtp.listen(0, '127.0.0.1', () => ok()));
  smtpPort = (smtp.server.address() as AddressInfo).port;

  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        answered: hookStatus,
      });
      res.statusCode = hookStatus;
      res.end(hookStatus === 200 ? 'ok' : 'down for maintenance');
    });
  });
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', () => ok()));
  hookUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/skypatrol-hook`;

  const config = loadConfig({
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    SKYPATROL_LOG_LEVEL: 'silent',
    SKYPATROL_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    SKYPATROL_MAIL_FROM: '天巡 Skypatrol <notify@skypatrol.test>',
    // The receiver is on loopback, which the SSRF guard refuses unless allowed.
    SKYPATROL_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
  });
  app = await build(config, { pool: db.pool });
  strictApp = await build(
    loadConfig({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), SKYPATROL_LOG_LEVEL: 'silent' }),
    { pool: db.pool },
  );
  deps = notifierDeps(config, db.pool);
});

afterAll(async () => {
  deps?.mailer?.close();
  await app?.close();
  await strictApp?.close();
  await new Promise<void>((ok) => (smtp ? smtp.close(() => ok()) : ok()));
  await new Promise<void>((ok) => (http ? http.close(() => ok()) : ok()));
  await db?.drop();
});

describe('subscriptions API', () => {
  it('creates webhook (secret shown once) and e-mail subscriptions for the signed-in user', async () => {
    const hook = await app.inject({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: bearer(tokens.pros),
      payload: { channel: 'webhook', target: hookUrl, min_priority: 2 },
    });
    expect(hook.statusCode).toBe(201);
    expect(hook.json()).toMatchObject({
      channel: 'webhook',
      target: hookUrl,
      min_priority: 2,
      digest: 'none',
    });
    hookSecret = hook.json().secret;
    expect(hookSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const mail = await app.inject({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: bearer(tokens.pros),
      payload: { channel: 'email', target: 'wang@procuratorate.test', digest: 'daily' },
    });
    expect(mail.statusCode).toBe(201);
    expect(mail.json()).toMatchObject({ min_priority: 2, digest: 'daily' });
    expect(mail.json().secret).toBeUndefined();

    const analyst = await app.inject({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: bearer(tokens.analyst),
      payload: {
        channel: 'email',
        target: 'analyst@procuratorate.test',
        min_priority: 3,
        scenarios: ['black-soil'],
      },
    });
    expect(analyst.statusCode).toBe(201);

    const list = await app.inject({ url: '/users/me/subscriptions', headers: bearer(tokens.pros) });
    expect(list.statusCode).toBe(200);
    expect(list.json().subscriptions).toHaveLength(2);
    expect(JSON.stringify(list.json())).not.toContain(hookSecret);
  });

  it('refuses bad input, other users’ subscriptions and webhooks for field teams, writing nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM notify_subscriptions')).rows[0].n;
    const cases: [string, Record<string, unknown>, number, string][] = [
      [tokens.pros, { channel: 'sms', target: '13800000000' }, 400, 'VALIDATION'],
      [tokens.pros, { channel: 'webhook', target: 'ftp://example.test/x' }, 400, 'VALIDATION'],
      [tokens.pros, { channel: 'webhook', target: 'http://user:pw@example.test/x' }, 400, 'VALIDATION'],
      [tokens.pros, { channel: 'webhook', target: 'not a url' }, 400, 'VALIDATION'],
      [tokens.pros, { channel: 'email', target: 'nobody' }, 400, 'VALIDATION'],
      [tokens.pros, { channel: 'email', target: 'a@b.test', min_priority: 9 }, 400, 'VALIDATION'],
      [
        tokens.pros,
        { channel: 'email', target: 'a@b.test', scenarios: ["x'; DROP TABLE clues;--"] },
        400,
        'VALIDATION',
      ],
      [tokens.pros, { channel: 'webhook', target: hookUrl, secret: 'short' }, 400, 'VALIDATION'],
      [
        tokens.pros,
        { channel: 'email', target: 'a@b.test', secret: 'a-secret-for-email-1234' },
        400,
        'VALIDATION',
      ],
      [tokens.field, { channel: 'webhook', target: hookUrl }, 403, 'FORBIDDEN'],
      ['spt_not-a-real-token', { channel: 'email', target: 'a@b.test' }, 401, 'UNAUTHORIZED'],
    ];
    for (const [token, payload, status, code] of cases) {
      const r = await app.inject({
        method: 'POST',
        url: '/users/me/subscriptions',
        headers: bearer(token),
        payload,
      });
      expect({ payload, status: r.statusCode, code: r.json().code }).toEqual({ payload, status, code });
    }
    const mine = (await app.inject({ url: '/users/me/subscriptions', headers: bearer(tokens.pros) })).json()
      .subscriptions[0].id as number;
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const r = await app.inject({
        method,
        url: `/users/me/subscriptions/${mine}`,
        headers: bearer(tokens.other),
        ...(method === 'PATCH' ? { payload: { active: false } } : {}),
      });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('NOT_FOUND');
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM notify_subscriptions')).rows[0].n).toBe(
      before,
    );
    expect((await db.pool.query('SELECT bool_and(active) AS a FROM notify_subscriptions')).rows[0].a).toBe(
      true,
    );
  });

  it('refuses webhooks to loopback, link-local, private and ULA addresses (SSRF guard), by name too, writing nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM notify_subscriptions')).rows[0].n;
    const port = new URL(hookUrl).port;
    const refuse = async (a: FastifyInstance, target: string, why: RegExp) => {
      const r = await a.inject({
        method: 'POST',
        url: '/users/me/subscriptions',
        headers: bearer(tokens.pros),
        payload: { channel: 'webhook', target },
      });
      expect({ target, status: r.statusCode, code: r.json().code }).toEqual({
        target,
        status: 400,
        code: 'WEBHOOK_TARGET_REFUSED',
      });
      expect(r.json().message).toMatch(why);
    };
    // The default configuration: the test receiver itself is refused, by address and by name.
    await refuse(strictApp, hookUrl, /loopback/);
    await refuse(strictApp, `http://localhost:${port}/skypatrol-hook`, /resolves to .*loopback/);
    await refuse(strictApp, 'http://169.254.169.254/latest/meta-data/iam/', /link-local \(cloud metadata\)/);
    await refuse(strictApp, 'http://10.0.0.8/hook', /private/);
    await refuse(strictApp, 'https://192.168.1.1/hook', /private/);
    await refuse(strictApp, 'http://[::1]:8080/hook', /loopback/);
    await refuse(strictApp, 'http://[fd00::5]/hook', /unique local/);
    // Allowing 127.0.0.0/8 allows that, nothing else.
    await refuse(app, 'http://169.254.169.254/latest/meta-data/', /link-local/);
    await refuse(app, 'http://172.20.0.1/hook', /private/);
    // PATCH to a refused target is refused too, and leaves the subscription as it was.
    const sub = (await app.inject({ url: '/users/me/subscriptions', headers: bearer(tokens.pros) }))
      .json()
      .subscriptions.find((s: { channel: string }) => s.channel === 'webhook');
    const patched = await app.inject({
      method: 'PATCH',
      url: `/users/me/subscriptions/${sub.id}`,
      headers: bearer(tokens.pros),
      payload: { target: 'http://169.254.169.254/latest/meta-data/' },
    });
    expect(patched.statusCode).toBe(400);
    expect(patched.json().code).toBe('WEBHOOK_TARGET_REFUSED');
    expect(
      (await db.pool.query('SELECT target FROM notify_subscriptions WHERE id = $1', [sub.id])).rows[0].target,
    ).toBe(hookUrl);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM notify_subscriptions')).rows[0].n).toBe(
      before,
    );
  });

  it('changes and deletes a subscription', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: bearer(tokens.other),
      payload: { channel: 'email', target: 'b@procuratorate.test' },
    });
    const id = created.json().id as number;
    const patched = await app.inject({
      method: 'PATCH',
      url: `/users/me/subscriptions/${id}`,
      headers: bearer(tokens.other),
      payload: { min_priority: 3, scenarios: ['mine', 'river'] },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ min_priority: 3, scenarios: ['mine', 'river'] });
    const del = await app.inject({
      method: 'DELETE',
      url: `/users/me/subscriptions/${id}`,
      headers: bearer(tokens.other),
    });
    expect(del.statusCode).toBe(204);
    const gone = await app.inject({ url: `/users/me/subscriptions/${id}`, headers: bearer(tokens.other) });
    expect(gone.statusCode).toBe(404);
  });
});

describe('delivery', () => {
  it('sends exactly one signed webhook and one Chinese e-mail for a high-priority clue in the county', async () => {
    const clue = await newClue('A', 3);
    const low = await newClue('A', 1);
    const r = await runNotifications(deps);
    expect(r.gaveUp).toBe(0);

    const got = hooksFor(clue);
    expect(got).toHaveLength(1);
    expect(verify(got[0]!, hookSecret)).toBe(true);
    expect(verify(got[0]!, `${hookSecret}x`)).toBe(false);
    expect(got[0]!.headers['x-skypatrol-event']).toBe('clue.high_priority');
    const payload = JSON.parse(got[0]!.body);
    expect(payload.clue).toMatchObject({
      id: clue,
      number: `#${clue}`,
      scenario: 'black-soil',
      scenario_zh: '破坏黑土地',
      priority: 3,
      county_adcode: A,
      county_name: '新巴尔虎右旗',
    });

    const m = mailsFor(clue).filter((x) => x.to.includes('wang@procuratorate.test'));
    expect(m).toHaveLength(1);
    expect(m[0]!.subject).toMatch(
      /^【天巡】高优先级线索 #\d+：破坏黑土地（优先级 3）\| High-priority clue #\d+$/,
    );
    expect(m[0]!.subject).toContain(`#${clue}`);
    expect(m[0]!.text).toContain('王检察官，您好');
    expect(m[0]!.text).toContain(`线索编号：#${clue}`);
    expect(m[0]!.text).toContain('所在区县：新巴尔虎右旗（150702）');
    expect(m[0]!.text.indexOf('线索编号')).toBeLessThan(m[0]!.text.indexOf('Clue number'));
    expect(m[0]!.raw).toMatch(/^From: .*notify@skypatrol\.test/m);

    // the analyst (every county, priority ≥ 3, black-soil) hears of it too; nobody of the low one
    expect(mailsFor(clue).filter((x) => x.to.includes('analyst@procuratorate.test'))).toHaveLength(1);
    expect(hooksFor(low)).toHaveLength(0);
    expect(mailsFor(low)).toHaveLength(0);

    const rows = await db.pool.query(
      'SELECT status, attempts FROM notify_deliveries WHERE clue_id = $1 ORDER BY id',
      [clue],
    );
    expect(rows.rows).toEqual([
      { status: 'sent', attempts: 1 },
      { status: 'sent', attempts: 1 },
      { status: 'sent', attempts: 1 },
    ]);
  });

  it('tells nobody in county A about a clue in county B (only the all-county analyst)', async () => {
    const clue = await newClue('B', 3);
    const other = await newClue('B', 3, 'mine');
    await runNotifications(deps);
    expect(hooksFor(clue)).toHaveLength(0);
    expect(mailsFor(clue).map((m) => m.to)).toEqual([['analyst@procuratorate.test']]);
    expect(mailsFor(other)).toHaveLength(0); // analyst subscribed to black-soil only
  });

  it('never sends twice: running again delivers nothing new', async () => {
    const clue = await newClue('A', 2);
    await runNotifications(deps);
    const hooksBefore = hooks.length;
    const mailsBefore = mails.length;
    const again = await runNotifications(deps);
    const third = await runNotifications(deps);
    expect(again).toMatchObject({ enqueued: 0, sent: 0 });
    expect(third).toMatchObject({ enqueued: 0, sent: 0 });
    expect(hooks.length).toBe(hooksBefore);
    expect(mails.length).toBe(mailsBefore);
    expect(hooksFor(clue)).toHaveLength(1);
    expect(mailsFor(clue)).toHaveLength(1);
  });

  it('records a failing webhook, retries it after the back-off, then succeeds', async () => {
    hookStatus = 500;
    const clue = await newClue('A', 3);
    const t0 = new Date();
    try {
      const first = await runNotifications(deps, { now: t0 });
      expect(first.failed).toBe(1);
    } finally {
      hookStatus = 200;
    }
    const failed = await db.pool.query(
      `SELECT d.id, d.status, d.attempts, d.last_error, d.next_attempt_at FROM notify_deliveries d
         JOIN notify_subscriptions s ON s.id = d.subscription_id WHERE d.clue_id = $1 AND s.channel = 'webhook'`,
      [clue],
    );
    expect(failed.rows[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.rows[0].last_error).toMatch(/^HTTP 500/);
    expect(failed.rows[0].next_attempt_at.getTime()).toBeGreaterThan(t0.getTime() + 30_000);
    expect(hooksFor(clue).map((h) => h.answered)).toEqual([500]);

    // not due yet: nothing is sent
    await runNotifications(deps, { now: new Date(t0.getTime() + 1000) });
    expect(hooksFor(clue)).toHaveLength(1);

    // after the back-off: delivered, same delivery id, still one e-mail
    const later = await runNotifications(deps, { now: new Date(t0.getTime() + 10 * 60_000) });
    expect(later.sent).toBe(1);
    const got = hooksFor(clue);
    expect(got.map((h) => h.answered)).toEqual([500, 200]);
    expect(got[1]!.headers['x-skypatrol-delivery']).toBe(got[0]!.headers['x-skypatrol-delivery']);
    expect(verify(got[1]!, hookSecret)).toBe(true);
    const sent = await db.pool.query(
      'SELECT status, attempts, last_error FROM notify_deliveries WHERE id = $1',
      [failed.rows[0].id],
    );
    expect(sent.rows[0]).toEqual({ status: 'sent', attempts: 2, last_error: null });
    expect(mailsFor(clue).filter((m) => m.to.includes('wang@procuratorate.test'))).toHaveLength(1);
  });

  it('does not retry a delivery whose clue was dismissed in the meantime', async () => {
    hookStatus = 500;
    const clue = await newClue('A', 3);
    const t0 = new Date();
    try {
      await runNotifications(deps, { now: t0 });
    } finally {
      hookStatus = 200;
    }
    expect(hooksFor(clue).map((h) => h.answered)).toEqual([500]);
    await db.pool.query(
      "UPDATE clues SET status = 'dismissed', dismiss_reason = 'false_detection' WHERE id = $1",
      [clue],
    );
    const later = await runNotifications(deps, { now: new Date(t0.getTime() + 10 * 60_000) });
    expect(later.sent).toBe(0);
    expect(hooksFor(clue)).toHaveLength(1);
    const rows = await db.pool.query(
      `SELECT d.status, d.last_error FROM notify_deliveries d
         JOIN notify_subscriptions s ON s.id = d.subscription_id WHERE d.clue_id = $1 AND s.channel = 'webhook'`,
      [clue],
    );
    expect(rows.rows[0]).toMatchObject({
      status: 'gave_up',
      last_error: expect.stringMatching(/no longer matches/),
    });
  });

  it('narrows a subscription to its area of interest', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/users/me/subscriptions',
      headers: bearer(tokens.other),
      payload: {
        channel: 'email',
        target: 'aoi@procuratorate.test',
        min_priority: 0,
        aoi: {
          type: 'Feature',
          properties: {},
          geometry: {
            type: 'Polygon',
            coordinates: [
              [
                [120.5, 49.4],
                [120.55, 49.4],
                [120.55, 49.6],
                [120.5, 49.6],
                [120.5, 49.4],
              ],
            ],
          },
        },
      },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().aoi).toMatchObject({ type: 'MultiPolygon' });
    const at = async (x: number) =>
      (
        await db.pool.query<{ id: number }>(
          `INSERT INTO clues (scenario, confidence, priority, geom, area_m2, first_seen, last_seen, detector, model_version)
           SELECT 'mine', 0.7, 0, g, ST_Area(g::geography), '2025-07-01', '2025-07-01', 'test', '0.1.0'
             FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s RETURNING id`,
          [square(x, 49.5, 0.001)],
        )
      ).rows[0]!.id;
    const inside = await at(120.52);
    const outside = await at(120.7);
    await runNotifications(deps);
    const to = (id: number) => mailsFor(id).filter((m) => m.to.includes('aoi@procuratorate.test'));
    expect(to(inside)).toHaveLength(1);
    expect(to(outside)).toHaveLength(0);
    await app.inject({
      method: 'DELETE',
      url: `/users/me/subscriptions/${created.json().id}`,
      headers: bearer(tokens.other),
    });
  });

  it('lists the day’s clues of the user’s counties in one daily digest, once', async () => {
    const lowToday = await newClue('A', 0, 'river');
    const today = chinaDay(new Date());
    const r = await runDigest(deps, { day: today });
    expect(r.sent).toBe(1);
    const digests = mails.filter((m) => m.subject.includes('线索日报'));
    expect(digests).toHaveLength(1);
    const d = digests[0]!;
    expect(d.to).toEqual(['wang@procuratorate.test']);
    expect(d.subject).toContain(`【天巡】线索日报 ${today}`);
    const inA = await db.pool.query<{ id: number }>(
      "SELECT id FROM clues WHERE county_adcode = $1 AND status <> 'dismissed' ORDER BY id",
      [A],
    );
    const inB = await db.pool.query<{ id: number }>('SELECT id FROM clues WHERE county_adcode = $1', [B]);
    expect(inA.rows.length).toBeGreaterThanOrEqual(5);
    for (const { id } of inA.rows) expect(d.text).toContain(`#${id} `);
    for (const { id } of inB.rows) expect(d.text).not.toContain(`#${id} `);
    expect(d.text).toContain(`#${lowToday}  河道破坏（river）  优先级/priority 0`);
    expect(d.subject).toContain(`新线索 ${inA.rows.length} 条`);

    const again = await runDigest(deps, { day: today });
    expect(again).toMatchObject({ enqueued: 0, sent: 0 });
    expect(mails.filter((m) => m.subject.includes('线索日报'))).toHaveLength(1);
    const empty = await runDigest(deps, { day: '2020-01-01' });
    expect(empty.sent).toBe(0);
  });

  it('runs from the CLI: notify run --once, and a bad --day is a clear error', async () => {
    const clue = await newClue('A', 3);
    const r = await runCli(['notify', 'run', '--once'], {
      DATABASE_URL: db.url,
      SKYPATROL_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SKYPATROL_WEBHOOK_ALLOW_NETS: '127.0.0.0/8',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/notifications: 3 new, 3 sent, 0 failed/);
    expect(hooksFor(clue)).toHaveLength(1);
    const bad = await runCli(['notify', 'digest', '--day', '2025-02-30'], { DATABASE_URL: db.url });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^skypatrol: VALIDATION: --day must be a calendar date/);
  });
});
