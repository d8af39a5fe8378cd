import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { randomToken } from '../../../adapters/auth/crypto.ts';
import { allowList, vetWebhookTarget, WebhookTargetRefused } from '../../../adapters/notify/webhook.ts';
import {
  type Channel,
  createSubscription,
  type DigestMode,
  deleteSubscription,
  getSubscription,
  listDeliveries,
  listSubscriptions,
  type SubscriptionRow,
  updateSubscription,
} from '../../../adapters/postgis/notify-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { PRIORITY_MAX, PRIORITY_MIN } from '../../../domain/clues/review.ts';
import { aoiFromGeoJson } from '../../../domain/geo/aoi.ts';
import { multiPolygonAreaM2, type PolygonCoords } from '../../../domain/geo/area.ts';
import { authenticate, noStore } from '../plugins/auth.ts';
import { RowId } from './params.ts';

/**
 * A user's own notification subscriptions: `/users/me/subscriptions`. Webhooks get a secret
 * (generated unless given) that signs every POST; it is shown when created or replaced, never
 * listed. Field teams subscribe by e-mail only (a webhook sends clue data to any URL). An
 * optional `aoi` narrows a subscription to clues intersecting an area (validated GeoJSON).
 */

const Scenarios = Type.Array(Type.String({ pattern: '^[a-z0-9_-]{1,64}$' }), {
  minItems: 1,
  maxItems: 16,
  uniqueItems: true,
});
const Priority = Type.Integer({ minimum: PRIORITY_MIN, maximum: PRIORITY_MAX });
const Secret = Type.String({ minLength: 16, maxLength: 256, pattern: '^[\\x21-\\x7e]+$' });
const Target = Type.String({ minLength: 3, maxLength: 2048 });
const Digest = Type.Union([Type.Literal('daily'), Type.Literal('none')]);
const SubId = Type.Object({ sid: RowId });
/** GeoJSON Polygon/MultiPolygon (or a Feature / FeatureCollection of them) in lon/lat. */
const Aoi = Type.Object({ type: Type.String({ maxLength: 40 }) }, { additionalProperties: true });

/** Largest area a subscription may watch (a prefecture-level city is up to ~250,000 km²). */
export const MAX_AOI_KM2 = 300_000;
/** Most positions an AOI may have (validity checks are quadratic in it). */
export const MAX_AOI_POSITIONS = 10_000;

function countPositions(v: unknown, budget: { n: number }): void {
  if (!Array.isArray(v)) return;
  if (v.length > 0 && typeof v[0] === 'number') {
    budget.n--;
    return;
  }
  for (const x of v) {
    countPositions(x, budget);
    if (budget.n < 0) return;
  }
}

/** A subscription's area: valid, not self-intersecting, in lon/lat, not too detailed or large. */
function checkAoi(raw: unknown): unknown {
  const budget = { n: MAX_AOI_POSITIONS };
  const walk = (g: unknown) => countPositions((g as { coordinates?: unknown } | null)?.coordinates, budget);
  const d = raw as { type?: string; features?: { geometry?: unknown }[]; geometry?: unknown };
  if (d.type === 'FeatureCollection' && Array.isArray(d.features))
    for (const f of d.features) walk(f?.geometry);
  else if (d.type === 'Feature') walk(d.geometry);
  else walk(d);
  if (budget.n < 0)
    throw new SkypatrolError('VALIDATION', `aoi has more than ${MAX_AOI_POSITIONS} positions; simplify it`);
  const mp = aoiFromGeoJson(raw);
  const km2 = multiPolygonAreaM2(mp.coordinates as unknown as PolygonCoords[]) / 1e6;
  if (km2 > MAX_AOI_KM2)
    throw new SkypatrolError(
      'VALIDATION',
      `aoi covers ${Math.round(km2).toLocaleString('en')} km², more than the ${MAX_AOI_KM2.toLocaleString('en')} km² allowed`,
    );
  return mp;
}

const EMAIL =
  /^[^@\s<>",;()[\]\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$|^[^@\s<>",;()[\]\\]{1,64}@localhost$/;

/** How long registration waits for DNS before leaving the check to delivery. */
const REGISTRATION_DNS_MS = 2000;

/**
 * Checks a target for its channel; returns it normalised. A webhook must pass the SSRF guard
 * (throws WebhookTargetRefused): a literal address, or every address the name resolves to now,
 * outside loopback, link-local and private ranges unless SKYPATROL_WEBHOOK_ALLOW_NETS allows
 * it. A name that does not resolve (yet) is accepted: every delivery checks again.
 */
async function checkTarget(channel: Channel, raw: string, allowNets: readonly string[]): Promise<string> {
  const target = raw.trim();
  if (channel === 'email') {
    if (!EMAIL.test(target))
      throw new SkypatrolError('VALIDATION', `"${target.slice(0, 100)}" is not an e-mail address`);
    return target;
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new SkypatrolError('VALIDATION', `webhook target "${target.slice(0, 100)}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new SkypatrolError('VALIDATION', `webhook target must be http:// or https://; got ${url.protocol}`);
  if (url.username || url.password)
    throw new SkypatrolError(
      'VALIDATION',
      'webhook target must not carry credentials; the signature authenticates',
    );
  if (url.hash) throw new SkypatrolError('VALIDATION', 'webhook target must not have a #fragment');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      vetWebhookTarget(url, allowList(allowNets)),
      new Promise((ok) => {
        timer = setTimeout(ok, REGISTRATION_DNS_MS);
      }),
    ]);
  } catch (err) {
    if (err instanceof WebhookTargetRefused) throw err;
    // DNS failed: not a reason to refuse now (delivery checks every time).
  } finally {
    clearTimeout(timer);
  }
  return url.toString();
}

/** checkTarget, with the SSRF guard's refusal as the API's 400 WEBHOOK_TARGET_REFUSED. */
async function vettedTarget(channel: Channel, raw: string, allowNets: readonly string[]): Promise<string> {
  try {
    return await checkTarget(channel, raw, allowNets);
  } catch (err) {
    if (err instanceof WebhookTargetRefused) throw new SkypatrolError('WEBHOOK_TARGET_REFUSED', err.message);
    throw err;
  }
}

function view(s: SubscriptionRow, secret?: string) {
  return {
    id: s.id,
    channel: s.channel,
    target: s.target,
    min_priority: s.min_priority,
    scenarios: s.scenarios,
    digest: s.digest,
    aoi: s.aoi,
    active: s.active,
    since: s.since,
    created_at: s.created_at,
    updated_at: s.updated_at,
    ...(secret !== undefined ? { secret } : {}),
  };
}

export async function notificationRoutes(app: FastifyInstance): Promise<void> {
  app.decorateRequest('user', null);
  app.addHook('onRequest', authenticate);
  app.addHook('onSend', async (_req, reply) => noStore(reply));

  app.get(
    '/users/me/subscriptions',
    { schema: { tags: ['notifications'], summary: 'My notification subscriptions' } },
    async (req) => ({
      subscriptions: (await listSubscriptions(app.deps.pool, req.user!.id)).map((s) => view(s)),
    }),
  );

  app.post(
    '/users/me/subscriptions',
    {
      schema: {
        tags: ['notifications'],
        summary:
          'Subscribe to new clues at or above a priority in my counties, by webhook (HMAC-SHA256 signed) or e-mail; optional daily digest',
        body: Type.Object(
          {
            channel: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
            target: Target,
            min_priority: Type.Optional(Priority),
            scenarios: Type.Optional(Scenarios),
            digest: Type.Optional(Digest),
            secret: Type.Optional(Secret),
            aoi: Type.Optional(Aoi),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const b = req.body as {
        channel: Channel;
        target: string;
        min_priority?: number;
        scenarios?: string[];
        digest?: DigestMode;
        secret?: string;
        aoi?: unknown;
      };
      const user = req.user!;
      if (b.channel === 'webhook' && user.role === 'field')
        throw new SkypatrolError('FORBIDDEN', 'field teams subscribe by e-mail; webhooks need another role');
      if (b.channel === 'email' && b.secret !== undefined)
        throw new SkypatrolError('VALIDATION', 'secret is for webhooks only');
      const secret = b.channel === 'webhook' ? (b.secret ?? randomToken()) : null;
      const aoi = b.aoi === undefined ? null : checkAoi(b.aoi);
      const target = await vettedTarget(b.channel, b.target, app.deps.config.webhookAllowNets);
      const created = await createSubscription(app.deps.pool, {
        userId: user.id,
        channel: b.channel,
        target,
        secret,
        minPriority: b.min_priority ?? 2,
        scenarios: b.scenarios ?? null,
        digest: b.digest ?? 'none',
        aoi,
      });
      return reply.status(201).send(view(created, secret ?? undefined));
    },
  );

  app.get(
    '/users/me/subscriptions/:sid',
    { schema: { tags: ['notifications'], summary: 'One of my subscriptions', params: SubId } },
    async (req) => {
      const { sid } = req.params as { sid: number };
      const s = await getSubscription(app.deps.pool, sid, req.user!.id);
      if (!s) throw new SkypatrolError('NOT_FOUND', `subscription ${sid} does not exist`);
      return view(s);
    },
  );

  app.patch(
    '/users/me/subscriptions/:sid',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Change one of my subscriptions (target, priority, scenarios, digest, active, secret)',
        params: SubId,
        body: Type.Object(
          {
            target: Type.Optional(Target),
            min_priority: Type.Optional(Priority),
            scenarios: Type.Optional(Type.Union([Scenarios, Type.Null()])),
            digest: Type.Optional(Digest),
            active: Type.Optional(Type.Boolean()),
            secret: Type.Optional(Secret),
            aoi: Type.Optional(Type.Union([Aoi, Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (req) => {
      const { sid } = req.params as { sid: number };
      const b = req.body as {
        target?: string;
        min_priority?: number;
        scenarios?: string[] | null;
        digest?: DigestMode;
        active?: boolean;
        secret?: string;
        aoi?: unknown | null;
      };
      const current = await getSubscription(app.deps.pool, sid, req.user!.id);
      if (!current) throw new SkypatrolError('NOT_FOUND', `subscription ${sid} does not exist`);
      if (b.secret !== undefined && current.channel !== 'webhook')
        throw new SkypatrolError('VALIDATION', 'secret is for webhooks only');
      let target: string | undefined;
      if (b.target !== undefined) {
        target = await vettedTarget(current.channel, b.target, app.deps.config.webhookAllowNets);
      }
      const updated = await updateSubscription(app.deps.pool, sid, req.user!.id, {
        ...(target !== undefined ? { target } : {}),
        ...(b.min_priority !== undefined ? { minPriority: b.min_priority } : {}),
        ...(b.scenarios !== undefined ? { scenarios: b.scenarios } : {}),
        ...(b.digest !== undefined ? { digest: b.digest } : {}),
        ...(b.active !== undefined ? { active: b.active } : {}),
        ...(b.secret !== undefined ? { secret: b.secret } : {}),
        ...(b.aoi !== undefined ? { aoi: b.aoi === null ? null : checkAoi(b.aoi) } : {}),
      });
      if (!updated) throw new SkypatrolError('NOT_FOUND', `subscription ${sid} does not exist`);
      return view(updated, b.secret);
    },
  );

  app.delete(
    '/users/me/subscriptions/:sid',
    { schema: { tags: ['notifications'], summary: 'Unsubscribe', params: SubId } },
    async (req, reply) => {
      const { sid } = req.params as { sid: number };
      if (!(await deleteSubscription(app.deps.pool, sid, req.user!.id)))
        throw new SkypatrolError('NOT_FOUND', `subscription ${sid} does not exist`);
      return reply.status(204).send();
    },
  );

  app.get(
    '/users/me/subscriptions/:sid/deliveries',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Recent deliveries of one of my subscriptions (status, attempts, last error)',
        params: SubId,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }),
      },
    },
    async (req) => {
      const { sid } = req.params as { sid: number };
      const { limit } = req.query as { limit: number };
      const s = await getSubscription(app.deps.pool, sid, req.user!.id);
      if (!s) throw new SkypatrolError('NOT_FOUND', `subscription ${sid} does not exist`);
      return { deliveries: await listDeliveries(app.deps.pool, sid, limit) };
    },
  );
}
