import type pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';
import type { Role } from '../../domain/clues/review.ts';

export interface UserRow {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  counties: string[];
  active: boolean;
  created_at: Date;
}

type Queryable = Pick<pg.Pool, 'query'>;

const USER_COLUMNS = 'id, username, display_name, role, counties, active, created_at';

function conflictOnDuplicate(err: unknown, username: string): never {
  if ((err as { code?: string }).code === '23505')
    throw new SkypatrolError('CONFLICT', `user ${username} already exists`);
  if ((err as { code?: string }).code === '23514')
    throw new SkypatrolError('VALIDATION', `user ${username} is not valid: ${(err as Error).message}`);
  throw err;
}

export async function createUser(
  db: Queryable,
  u: { username: string; displayName?: string; passwordHash: string; role: Role; counties: string[] },
): Promise<UserRow> {
  try {
    const { rows } = await db.query<UserRow>(
      `INSERT INTO users (username, display_name, password_hash, role, counties)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${USER_COLUMNS}`,
      [u.username, u.displayName ?? '', u.passwordHash, u.role, u.counties],
    );
    return rows[0]!;
  } catch (err) {
    conflictOnDuplicate(err, u.username);
  }
}

export async function listUsers(db: Queryable): Promise<UserRow[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY id`);
  return rows;
}

export async function getUser(db: Queryable, id: number): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findUserForLogin(
  db: Queryable,
  username: string,
): Promise<(UserRow & { password_hash: string }) | null> {
  const { rows } = await db.query<UserRow & { password_hash: string }>(
    `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = $1`,
    [username],
  );
  return rows[0] ?? null;
}

export async function updateUser(
  db: Queryable,
  id: number,
  patch: { role?: Role; counties?: string[]; active?: boolean; displayName?: string; passwordHash?: string },
): Promise<UserRow | null> {
  const sets: string[] = [];
  const args: unknown[] = [id];
  const set = (col: string, v: unknown) => {
    args.push(v);
    sets.push(`${col} = $${args.length}`);
  };
  if (patch.role !== undefined) set('role', patch.role);
  if (patch.counties !== undefined) set('counties', patch.counties);
  if (patch.active !== undefined) set('active', patch.active);
  if (patch.displayName !== undefined) set('display_name', patch.displayName);
  if (patch.passwordHash !== undefined) set('password_hash', patch.passwordHash);
  sets.push('updated_at = now()');
  try {
    const { rows } = await db.query<UserRow>(
      `UPDATE users SET ${sets.join(', ')} WHERE id = $1 RETURNING ${USER_COLUMNS}`,
      args,
    );
    return rows[0] ?? null;
  } catch (err) {
    conflictOnDuplicate(err, String(id));
  }
}

// ---- sessions ----

export async function createSession(
  db: Queryable,
  s: { idSha256: string; userId: number; csrfToken: string; ttlSeconds: number; ip: string | null },
): Promise<Date> {
  const { rows } = await db.query<{ expires_at: Date }>(
    `INSERT INTO sessions (id_sha256, user_id, csrf_token, expires_at, ip)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5) RETURNING expires_at`,
    [s.idSha256, s.userId, s.csrfToken, s.ttlSeconds, s.ip],
  );
  return rows[0]!.expires_at;
}

/** The active user of a live session, with its CSRF token. */
export async function findSession(
  db: Queryable,
  idSha256: string,
): Promise<{ user: UserRow; csrfToken: string } | null> {
  const { rows } = await db.query<UserRow & { csrf_token: string }>(
    `SELECT u.id, u.username, u.display_name, u.role, u.counties, u.active, u.created_at, s.csrf_token
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id_sha256 = $1 AND s.expires_at > now() AND u.active`,
    [idSha256],
  );
  const r = rows[0];
  if (!r) return null;
  const { csrf_token, ...user } = r;
  return { user, csrfToken: csrf_token };
}

export async function deleteSession(db: Queryable, idSha256: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE id_sha256 = $1 OR expires_at < now()', [idSha256]);
}

// ---- API tokens ----

export interface ApiTokenRow {
  id: number;
  name: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function createApiToken(
  db: Queryable,
  t: { tokenSha256: string; userId: number; name: string; ttlDays: number | null },
): Promise<ApiTokenRow> {
  const { rows } = await db.query<ApiTokenRow>(
    `INSERT INTO api_tokens (token_sha256, user_id, name, expires_at)
     VALUES ($1, $2, $3, CASE WHEN $4::int IS NULL THEN NULL ELSE now() + make_interval(days => $4::int) END)
     RETURNING id, name, created_at, expires_at, last_used_at, revoked_at`,
    [t.tokenSha256, t.userId, t.name, t.ttlDays],
  );
  return rows[0]!;
}

/** The active user of a valid (not revoked, not expired) token; marks it used. */
export async function findApiTokenUser(db: Queryable, tokenSha256: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `UPDATE api_tokens t SET last_used_at = now()
       FROM users u
      WHERE t.token_sha256 = $1 AND u.id = t.user_id AND u.active
        AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
      RETURNING u.id, u.username, u.display_name, u.role, u.counties, u.active, u.created_at`,
    [tokenSha256],
  );
  return rows[0] ?? null;
}

export async function listApiTokens(db: Queryable, userId: number): Promise<ApiTokenRow[]> {
  const { rows } = await db.query<ApiTokenRow>(
    `SELECT id, name, created_at, expires_at, last_used_at, revoked_at FROM api_tokens
      WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
  return rows;
}

/** Revoke one of the user's tokens (admins: anyone's); false when there is no such token. */
export async function revokeApiToken(db: Queryable, id: number, userId: number | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())
      WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2::bigint)`,
    [id, userId],
  );
  return (rowCount ?? 0) > 0;
}

// ---- login audit and rate limit ----

export type LoginReason = 'ok' | 'bad_credentials' | 'inactive' | 'rate_limited';

export async function recordLogin(
  db: Queryable,
  e: { username: string; userId: number | null; success: boolean; reason: LoginReason; ip: string | null },
): Promise<void> {
  await db.query(
    'INSERT INTO login_events (username, user_id, success, reason, ip) VALUES ($1, $2, $3, $4, $5)',
    [e.username, e.userId, e.success, e.reason, e.ip],
  );
}

/**
 * Failed attempts for this username from this IP within the window, counted since the last
 * success (refused-because-limited attempts do not extend the lock).
 */
export async function recentLoginFailures(
  db: Queryable,
  username: string,
  ip: string | null,
  windowSeconds: number,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM login_events
      WHERE username = $1 AND ip IS NOT DISTINCT FROM $2 AND NOT success AND reason <> 'rate_limited'
        AND at > now() - make_interval(secs => $3)
        AND at > coalesce((SELECT max(at) FROM login_events
                            WHERE username = $1 AND ip IS NOT DISTINCT FROM $2 AND success), '-infinity')`,
    [username, ip, windowSeconds],
  );
  return rows[0]!.n;
}
