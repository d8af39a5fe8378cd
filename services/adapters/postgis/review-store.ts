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

export { listClueEvents } from './clue-store.ts';

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
