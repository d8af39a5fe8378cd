import type pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';
import { withTransaction } from './pool.ts';

/**
 * Notification subscriptions, the delivery outbox and daily digests (migration
 * 1764900000000_notifications.sql). The outbox row (subscription, clue) is unique, so a clue
 * is handed to a subscription at most once however often the notifier runs; attempts are
 * claimed with a lease (FOR UPDATE SKIP LOCKED), so several notifiers may run at once.
 */

type Queryable = Pick<pg.Pool, 'query'>;

export type Channel = 'webhook' | 'email';
export type DigestMode = 'daily' | 'none';

export interface SubscriptionRow {
  id: number;
  user_id: number;
  channel: Channel;
  target: string;
  min_priority: number;
  scenarios: string[] | null;
  digest: DigestMode;
  /** GeoJSON MultiPolygon, or null (the user's whole scope). */
  aoi: unknown | null;
  active: boolean;
  since: Date;
  created_at: Date;
  updated_at: Date;
}

const SUB_COLUMNS = `id, user_id, channel, target, min_priority, scenarios, digest,
  ST_AsGeoJSON(aoi, 7)::json AS aoi, active, since, created_at, updated_at`;

export interface NewSubscription {
  userId: number;
  channel: Channel;
  target: string;
  secret: string | null;
  minPriority: number;
  scenarios: string[] | null;
  digest: DigestMode;
  /** A validated GeoJSON MultiPolygon in lon/lat, or null. */
  aoi: unknown | null;
}

function constraintError(err: unknown): never {
  const e = err as { code?: string; message?: string };
  if (e.code === '23514' || e.code === '22001')
    throw new SkypatrolError('VALIDATION', `subscription is not valid: ${e.message}`);
  throw err;
}

export async function createSubscription(db: Queryable, s: NewSubscription): Promise<SubscriptionRow> {
  try {
    const { rows } = await db.query<SubscriptionRow>(
      `INSERT INTO notify_subscriptions (user_id, channel, target, secret, min_priority, scenarios, digest, aoi)
       VALUES ($1, $2, $3, $4, $5, $6, $7, ST_SetSRID(ST_GeomFromGeoJSON($8::text), 4326)) RETURNING ${SUB_COLUMNS}`,
      [
        s.userId,
        s.channel,
        s.target,
        s.secret,
        s.minPriority,
        s.scenarios,
        s.digest,
        s.aoi === null ? null : JSON.stringify(s.aoi),
      ],
    );
    return rows[0]!;
  } catch (err) {
    constraintError(err);
  }
}

export async function listSubscriptions(db: Queryable, userId: number): Promise<SubscriptionRow[]> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUB_COLUMNS} FROM notify_subscriptions WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  return rows;
}

export async function getSubscription(
  db: Queryable,
  id: number,
  userId: number,
): Promise<SubscriptionRow | null> {
  const { rows } = await db.query<SubscriptionRow>(
    `SELECT ${SUB_COLUMNS} FROM notify_subscriptions WHERE id = $1 AND user_id = $2`,
    [id, userId],
  );
  return rows[0] ?? null;
}

export interface SubscriptionPatch {
  target?: string;
  secret?: string;
  minPriority?: number;
  scenarios?: string[] | null;
  digest?: DigestMode;
  active?: boolean;
  aoi?: unknown | null;
}

/** Change a user's own subscription; null when it is not theirs (or does not exist). */
export async function updateSubscription(
  db: Queryable,
  id: number,
  userId: number,
  p: SubscriptionPatch,
): Promise<SubscriptionRow | null> {
  const sets: string[] = [];
  const args: unknown[] = [id, userId];
  const set = (col: string, v: unknown) => {
    args.push(v);
    sets.push(`${col} = $${args.length}`);
  };
  if (p.target !== undefined) set('target', p.target);
  if (p.secret !== undefined) set('secret', p.secret);
  if (p.minPriority !== undefined) set('min_priority', p.minPriority);
  if (p.scenarios !== undefined) set('scenarios', p.scenarios);
  if (p.digest !== undefined) set('digest', p.digest);
  if (p.active !== undefined) set('active', p.active);
  if (p.aoi !== undefined) {
    args.push(p.aoi === null ? null : JSON.stringify(p.aoi));
    sets.push(`aoi = ST_SetSRID(ST_GeomFromGeoJSON($${args.length}::text), 4326)`);
  }
  try {
    const { rows } = await db.query<SubscriptionRow>(
      `UPDATE notify_subscriptions SET ${[...sets, 'updated_at = now()'].join(', ')}
        WHERE id = $1 AND user_id = $2 RETURNING ${SUB_COLUMNS}`,
      args,
    );
    return rows[0] ?? null;
  } catch (err) {
    constraintError(err);
  }
}

export async function deleteSubscription(db: Queryable, id: number, userId: number): Promise<boolean> {
  const r = await db.query('DELETE FROM notify_subscriptions WHERE id = $1 AND user_id = $2', [id, userId]);
  return (r.rowCount ?? 0) > 0;
}

/** Deliveries of a subscription, newest first (for its owner and the tests). */
export async function listDeliveries(db: Queryable, subscriptionId: number, limit = 100) {
  const { rows } = await db.query<{
    id: number;
    clue_id: number;
    status: string;
    attempts: number;
    next_attempt_at: Date;
    last_error: string | null;
    response: string | null;
    created_at: Date;
    sent_at: Date | null;
  }>(
    `SELECT id, clue_id, status, attempts, next_attempt_at, last_error, response, created_at, sent_at
       FROM notify_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2`,
    [subscriptionId, limit],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------
// The notifier's side.

/**
 * Which clues a user may be told about: admins and analysts every clue, the county-scoped
 * roles those of their counties (the same rule as domain/clues/review.ts `inScope`).
 */
const IN_SCOPE = `(u.role IN ('admin', 'analyst') OR c.county_adcode = ANY(u.counties))`;

/** What a subscription's clue must satisfy; `s`, `u` and `c` are in scope. */
const MATCHES = `s.active AND u.active AND ${IN_SCOPE}
  AND (s.scenarios IS NULL OR c.scenario = ANY(s.scenarios))
  AND (s.aoi IS NULL OR ST_Intersects(s.aoi, c.geom))
  AND c.status <> 'dismissed'`;

/**
 * Put every matching clue created in the look-back window (and after the subscription) into
 * the outbox; returns how many rows were added. Runs again and again: the unique
 * (subscription, clue) makes it idempotent. A clue raised to high priority after it was
 * created is still picked up while it is inside the window.
 */
export async function enqueueDeliveries(db: Queryable, lookbackHours: number): Promise<number> {
  const r = await db.query(
    `INSERT INTO notify_deliveries (subscription_id, clue_id)
     SELECT s.id, c.id
       FROM clues c
       JOIN notify_subscriptions s ON c.created_at >= s.since AND c.priority >= s.min_priority
       JOIN users u ON u.id = s.user_id
      WHERE c.created_at >= now() - make_interval(hours => $1::int)
        AND ${MATCHES}
     ON CONFLICT (subscription_id, clue_id) DO NOTHING`,
    [lookbackHours],
  );
  return r.rowCount ?? 0;
}

/** What a message says about a clue. */
export interface ClueSummary {
  id: number;
  scenario: string;
  status: string;
  priority: number;
  confidence: number;
  area_m2: number;
  area_mu: number;
  first_seen: string;
  last_seen: string;
  county_adcode: string | null;
  county_name: string | null;
  lon: number;
  lat: number;
  created_at: Date;
}

const CLUE_SUMMARY = `c.id, c.scenario, c.status, c.priority::int AS priority, c.confidence::float8 AS confidence,
  c.area_m2, c.area_mu, c.first_seen, c.last_seen, c.county_adcode,
  (SELECT z.properties->>'name' FROM zones z
    WHERE z.kind = 'admin_division' AND z.properties->>'adcode' = c.county_adcode ORDER BY z.id LIMIT 1) AS county_name,
  ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat, c.created_at`;

export interface ClaimedDelivery {
  id: number;
  attempts: number;
  /**
   * Whether the clue still matches now (user active and still in scope, subscription active,
   * priority, scenarios, area, not dismissed): a retry hours later must not send a clue its
   * user may no longer see.
   */
  stillMatches: boolean;
  subscription: { id: number; channel: Channel; target: string; secret: string | null };
  user: { id: number; username: string; display_name: string };
  clue: ClueSummary;
}

/**
 * Claim up to `limit` due deliveries (pending, or failed and due again by the caller's clock
 * `now`, which tests move forward, or the database's, whichever is later): their attempt
 * count goes up and their next attempt moves past a lease, so another notifier does not take
 * them while this one sends. A crash mid-send means the lease runs out and it is tried again.
 */
export async function claimDueDeliveries(
  pool: pg.Pool,
  opts: { now: Date; limit: number; leaseSeconds: number },
): Promise<ClaimedDelivery[]> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{
      id: number;
      attempts: number;
      sub_id: number;
      channel: Channel;
      target: string;
      secret: string | null;
      user_id: number;
      username: string;
      display_name: string;
      clue: ClueSummary;
      still_matches: boolean;
    }>(
      `WITH due AS (
         SELECT d.id FROM notify_deliveries d
          WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= GREATEST($1::timestamptz, now())
          ORDER BY d.next_attempt_at, d.id
          LIMIT $2 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE notify_deliveries d
            SET attempts = d.attempts + 1,
                next_attempt_at = $1::timestamptz + make_interval(secs => $3::int)
           FROM due WHERE d.id = due.id
          RETURNING d.id, d.attempts, d.subscription_id, d.clue_id)
       SELECT cl.id, cl.attempts, s.id AS sub_id, s.channel, s.target, s.secret,
              u.id AS user_id, u.username, u.display_name,
              (SELECT row_to_json(x) FROM (SELECT ${CLUE_SUMMARY} FROM clues c WHERE c.id = cl.clue_id) x) AS clue,
              EXISTS (SELECT 1 FROM clues c WHERE c.id = cl.clue_id AND c.priority >= s.min_priority AND ${MATCHES}) AS still_matches
         FROM claimed cl
         JOIN notify_subscriptions s ON s.id = cl.subscription_id
         JOIN users u ON u.id = s.user_id
        ORDER BY cl.id`,
      [opts.now, opts.limit, opts.leaseSeconds],
    );
    return rows.map((r) => ({
      id: r.id,
      attempts: r.attempts,
      stillMatches: r.still_matches,
      subscription: { id: r.sub_id, channel: r.channel, target: r.target, secret: r.secret },
      user: { id: r.user_id, username: r.username, display_name: r.display_name },
      clue: { ...r.clue, created_at: new Date(r.clue.created_at) },
    }));
  });
}

export type AttemptOutcome =
  | { ok: true; response: string }
  | { ok: false; error: string; retryAt: Date | null };

/** Record one attempt: sent, failed (retry at), or given up (retryAt null). */
export async function recordAttempt(
  db: Queryable,
  table: 'notify_deliveries' | 'notify_digests',
  id: number,
  outcome: AttemptOutcome,
): Promise<void> {
  if (outcome.ok) {
    await db.query(
      `UPDATE ${table} SET status = 'sent', sent_at = now(), last_error = NULL${table === 'notify_deliveries' ? ', response = $2' : ''}
        WHERE id = $1`,
      table === 'notify_deliveries' ? [id, outcome.response.slice(0, 1000)] : [id],
    );
    return;
  }
  await db.query(
    `UPDATE ${table} SET status = $2, last_error = $3, next_attempt_at = COALESCE($4::timestamptz, next_attempt_at)
      WHERE id = $1`,
    [id, outcome.retryAt ? 'failed' : 'gave_up', outcome.error.slice(0, 2000), outcome.retryAt],
  );
}

// ---------------------------------------------------------------------------------------
// Daily digests.

/** Start and end of a calendar day in China (UTC+8, no daylight saving). */
const DAY_START = `($1::date)::timestamp AT TIME ZONE 'Asia/Shanghai'`;

/** Create the digest rows of `day` for every active daily subscription (idempotent). */
export async function ensureDigests(db: Queryable, day: string): Promise<number> {
  const r = await db.query(
    `INSERT INTO notify_digests (subscription_id, day)
     SELECT s.id, $1::date FROM notify_subscriptions s JOIN users u ON u.id = s.user_id
      WHERE s.digest = 'daily' AND s.active AND u.active
        AND s.created_at < ${DAY_START} + interval '1 day'
     ON CONFLICT (subscription_id, day) DO NOTHING`,
    [day],
  );
  return r.rowCount ?? 0;
}

export interface ClaimedDigest {
  id: number;
  day: string;
  attempts: number;
  subscription: { id: number; channel: Channel; target: string; secret: string | null };
  user: { id: number; username: string; display_name: string };
  clues: ClueSummary[];
}

/**
 * Claim due digests of `day` with their clues: every clue created that day (China time) in
 * the user's scope and the subscription's scenarios, whatever its priority, highest first.
 */
export async function claimDueDigests(
  pool: pg.Pool,
  opts: { day: string; now: Date; limit: number; leaseSeconds: number },
): Promise<ClaimedDigest[]> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{
      id: number;
      day: string;
      attempts: number;
      sub_id: number;
      channel: Channel;
      target: string;
      secret: string | null;
      user_id: number;
      username: string;
      display_name: string;
      clues: ClueSummary[] | null;
    }>(
      `WITH due AS (
         SELECT g.id FROM notify_digests g
          WHERE g.day = $1::date AND g.status IN ('pending', 'failed') AND g.next_attempt_at <= GREATEST($2::timestamptz, now())
          ORDER BY g.id LIMIT $3 FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE notify_digests g
            SET attempts = g.attempts + 1, next_attempt_at = $2::timestamptz + make_interval(secs => $4::int)
           FROM due WHERE g.id = due.id
          RETURNING g.id, g.day, g.attempts, g.subscription_id)
       SELECT cl.id, cl.day, cl.attempts, s.id AS sub_id, s.channel, s.target, s.secret,
              u.id AS user_id, u.username, u.display_name,
              (SELECT json_agg(x ORDER BY x.priority DESC, x.id) FROM (
                 SELECT ${CLUE_SUMMARY} FROM clues c
                  WHERE c.created_at >= ${DAY_START} AND c.created_at < ${DAY_START} + interval '1 day'
                    AND ${MATCHES}) x) AS clues
         FROM claimed cl
         JOIN notify_subscriptions s ON s.id = cl.subscription_id
         JOIN users u ON u.id = s.user_id
        ORDER BY cl.id`,
      [opts.day, opts.now, opts.limit, opts.leaseSeconds],
    );
    return rows.map((r) => ({
      id: r.id,
      day: r.day,
      attempts: r.attempts,
      subscription: { id: r.sub_id, channel: r.channel, target: r.target, secret: r.secret },
      user: { id: r.user_id, username: r.username, display_name: r.display_name },
      clues: (r.clues ?? []).map((c) => ({ ...c, created_at: new Date(c.created_at) })),
    }));
  });
}

/** A digest with nothing to say is closed without sending. */
export async function markDigestEmpty(db: Queryable, id: number): Promise<void> {
  await db.query(`UPDATE notify_digests SET status = 'empty', clues = 0 WHERE id = $1`, [id]);
}

export async function setDigestClueCount(db: Queryable, id: number, n: number): Promise<void> {
  await db.query('UPDATE notify_digests SET clues = $2 WHERE id = $1', [id, n]);
}
