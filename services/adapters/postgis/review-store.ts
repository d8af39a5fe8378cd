import type pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';
import {
  type Actor,
  type Decision,
  decide,
  decideTransition,
  isCountyScoped,
  type ReviewAction,
} from '../../domain/clues/review.ts';
import type { ClueStatus } from '../../domain/clues/status.ts';
import type { ClueQuery, ClueRow } from './clue-store.ts';
import { withTransaction } from './pool.ts';

/** A signed-in user acting on clues. */
export interface ReviewActor extends Actor {
  id: number;
  username: string;
}

interface LockedClue {
  id: number;
  county: string | null;
  status: ClueStatus;
  priority: number;
}

function enforce(d: Decision): void {
  if (!d.ok) throw new SkypatrolError(d.code, d.message);
}

/** Lock the clue row (FOR UPDATE) for the rest of the transaction; absent → NOT_FOUND. */
async function lockClue(client: pg.PoolClient, id: number): Promise<LockedClue> {
  const { rows } = await client.query<LockedClue>(
    'SELECT id, county_adcode AS county, status, priority FROM clues WHERE id = $1 FOR UPDATE',
    [id],
  );
  if (!rows[0]) throw new SkypatrolError('NOT_FOUND', `clue ${id} does not exist`);
  return rows[0];
}

async function insertEvent(
  client: pg.PoolClient,
  e: {
    clueId: number;
    actor: ReviewActor;
    kind: 'transition' | 'comment' | 'priority' | 'attachment';
    from?: string | null;
    to?: string | null;
    reason?: string | null;
    comment?: string | null;
    data?: Record<string, unknown>;
  },
): Promise<{ id: number; at: Date }> {
  const { rows } = await client.query<{ id: number; at: Date }>(
    `INSERT INTO clue_events (clue_id, actor, actor_user_id, kind, from_status, to_status, reason, comment, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, at`,
    [
      e.clueId,
      e.actor.username,
      e.actor.id,
      e.kind,
      e.from ?? null,
      e.to ?? null,
      e.reason ?? null,
      e.comment ?? null,
      JSON.stringify(e.data ?? {}),
    ],
  );
  return rows[0]!;
}

/** Scope and role check against the current row (read-only; no lock). */
export async function checkClueAccess(
  pool: pg.Pool,
  actor: Actor,
  clueId: number,
  action: ReviewAction,
): Promise<void> {
  const { rows } = await pool.query<{ id: number; county: string | null }>(
    'SELECT id, county_adcode AS county FROM clues WHERE id = $1',
    [clueId],
  );
  if (!rows[0]) throw new SkypatrolError('NOT_FOUND', `clue ${clueId} does not exist`);
  enforce(decide(actor, action, rows[0]));
}

export async function transitionClue(
  pool: pg.Pool,
  actor: ReviewActor,
  req: { clueId: number; to: ClueStatus; reason?: string | null; comment?: string | null },
) {
  return withTransaction(pool, async (client) => {
    const clue = await lockClue(client, req.clueId);
    enforce(decideTransition(actor, clue, { to: req.to, reason: req.reason ?? null }));
    const reason = req.to === 'dismissed' ? (req.reason ?? null) : null;
    await client.query(
      'UPDATE clues SET status = $2, dismiss_reason = $3, updated_at = now() WHERE id = $1',
      [clue.id, req.to, reason],
    );
    const ev = await insertEvent(client, {
      clueId: clue.id,
      actor,
      kind: 'transition',
      from: clue.status,
      to: req.to,
      reason,
      comment: req.comment ?? null,
    });
    return { id: clue.id, status: req.to, dismiss_reason: reason, event_id: ev.id, at: ev.at };
  });
}

export async function commentClue(pool: pg.Pool, actor: ReviewActor, clueId: number, text: string) {
  return withTransaction(pool, async (client) => {
    const clue = await lockClue(client, clueId);
    enforce(decide(actor, 'comment', clue));
    const ev = await insertEvent(client, { clueId, actor, kind: 'comment', comment: text });
    await client.query('UPDATE clues SET updated_at = now() WHERE id = $1', [clueId]);
    return { event_id: ev.id, at: ev.at };
  });
}

export async function setCluePriority(
  pool: pg.Pool,
  actor: ReviewActor,
  clueId: number,
  priority: number,
  comment: string | null,
) {
  return withTransaction(pool, async (client) => {
    const clue = await lockClue(client, clueId);
    enforce(decide(actor, 'priority', clue));
    await client.query('UPDATE clues SET priority = $2, updated_at = now() WHERE id = $1', [
      clueId,
      priority,
    ]);
    const ev = await insertEvent(client, {
      clueId,
      actor,
      kind: 'priority',
      comment,
      data: { from: clue.priority, to: priority },
    });
    return { id: clueId, priority, event_id: ev.id, at: ev.at };
  });
}

export interface NewAttachment {
  filename: string;
  mime: string;
  content: Buffer;
  sha256: string;
  caption: string | null;
}

export async function addAttachment(pool: pg.Pool, actor: ReviewActor, clueId: number, a: NewAttachment) {
  return withTransaction(pool, async (client) => {
    const clue = await lockClue(client, clueId);
    enforce(decide(actor, 'attach', clue));
    const { rows } = await client.query<{ id: string }>('SELECT gen_random_uuid()::text AS id');
    const id = rows[0]!.id;
    const ev = await insertEvent(client, {
      clueId,
      actor,
      kind: 'attachment',
      comment: a.caption,
      data: {
        attachment_id: id,
        filename: a.filename,
        mime: a.mime,
        bytes: a.content.length,
        sha256: a.sha256,
      },
    });
    await client.query(
      `INSERT INTO attachments (id, clue_id, event_id, filename, mime, bytes, sha256, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, clueId, ev.id, a.filename, a.mime, a.content.length, a.sha256, a.content],
    );
    await client.query('UPDATE clues SET updated_at = now() WHERE id = $1', [clueId]);
    return {
      id,
      clue_id: clueId,
      event_id: ev.id,
      filename: a.filename,
      mime: a.mime,
      bytes: a.content.length,
      sha256: a.sha256,
    };
  });
}

export async function getAttachment(
  pool: pg.Pool,
  clueId: number,
  attachmentId: string,
): Promise<{ filename: string; mime: string; sha256: string; content: Buffer } | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(attachmentId)) return null;
  const { rows } = await pool.query<{ filename: string; mime: string; sha256: string; content: Buffer }>(
    'SELECT filename, mime, sha256, content FROM attachments WHERE clue_id = $1 AND id = $2',
    [clueId, attachmentId],
  );
  return rows[0] ?? null;
}

export async function listClueEvents(pool: pg.Pool, clueId: number): Promise<unknown[]> {
  const { rows } = await pool.query(
    `SELECT id, at, actor, actor_user_id, kind, from_status, to_status, reason, comment, data
       FROM clue_events WHERE clue_id = $1 ORDER BY at, id`,
    [clueId],
  );
  return rows;
}

// ---- county-scoped reads (GET /clues, GET /clues/:id) ----

/**
 * SQL condition limiting clues to what the actor may see; `arg` appends a parameter and
 * returns its placeholder. null actor (anonymous, login not required) and unscoped roles
 * see everything; prosecutors and field teams only their counties (never county-less clues).
 */
export function scopeCondition(actor: Actor | null, arg: (v: unknown) => string): string | null {
  if (actor === null || !isCountyScoped(actor.role)) return null;
  return `county_adcode = ANY(${arg([...actor.counties])}::text[])`;
}

const CLUE_COLUMNS = `id, scenario, status, dismiss_reason, confidence, priority, area_m2, area_ha, area_mu,
  first_seen, last_seen, county_adcode, detector, model_version, model_sha256, before_scene, after_scene,
  created_at, updated_at`;

function toRow(r: Record<string, unknown>): ClueRow {
  const { geojson, ...props } = r;
  return { id: r.id as number, geometry: JSON.parse(geojson as string), properties: props };
}

/** `queryClues` (clue-store) with the actor's county scope applied. */
export async function queryCluesScoped(
  pool: pg.Pool,
  q: ClueQuery,
  actor: Actor | null,
): Promise<{ total: number; rows: ClueRow[] }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  const scope = scopeCondition(actor, arg);
  if (scope) where.push(scope);
  if (q.bbox) where.push(`geom && ST_MakeEnvelope(${q.bbox.map(arg).join(', ')}, 4326)`);
  if (q.scenario) where.push(`scenario = ${arg(q.scenario)}`);
  if (q.status) where.push(`status = ${arg(q.status)}`);
  if (q.from) where.push(`last_seen >= ${arg(q.from)}::date`);
  if (q.to) where.push(`first_seen <= ${arg(q.to)}::date`);
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM clues ${clause}`, args);
  const { rows } = await pool.query(
    `SELECT ${CLUE_COLUMNS}, ST_AsGeoJSON(geom, 7) AS geojson FROM clues ${clause}
      ORDER BY last_seen DESC, id DESC LIMIT ${arg(q.limit)} OFFSET ${arg(q.offset)}`,
    args,
  );
  return { total: total.rows[0]!.n, rows: rows.map(toRow) };
}

/** `getClue` (clue-store) with the scope: a clue outside it is null (→ 404), like a missing one. */
export async function getClueScoped(
  pool: pg.Pool,
  id: number,
  actor: Actor | null,
): Promise<(ClueRow & { events: unknown[] }) | null> {
  const args: unknown[] = [id];
  const arg = (v: unknown) => {
    args.push(v);
    return `$${args.length}`;
  };
  const scope = scopeCondition(actor, arg);
  const { rows } = await pool.query(
    `SELECT ${CLUE_COLUMNS}, ST_AsGeoJSON(geom, 7) AS geojson FROM clues WHERE id = $1${scope ? ` AND ${scope}` : ''}`,
    args,
  );
  if (!rows[0]) return null;
  return { ...toRow(rows[0]), events: await listClueEvents(pool, id) };
}

/** `cluesExtent` (clue-store) over the clues the actor may see. */
export async function cluesExtentScoped(
  pool: pg.Pool,
  actor: Actor | null,
): Promise<[number, number, number, number] | null> {
  const args: unknown[] = [];
  const scope = scopeCondition(actor, (v) => {
    args.push(v);
    return `$${args.length}`;
  });
  const { rows } = await pool.query<{ w: number | null; s: number; e: number; n: number }>(
    `SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n
       FROM (SELECT ST_Extent(geom) AS e FROM clues ${scope ? `WHERE ${scope}` : ''}) x`,
    args,
  );
  const r = rows[0]!;
  return r.w === null ? null : [r.w, r.s, r.e, r.n];
}
