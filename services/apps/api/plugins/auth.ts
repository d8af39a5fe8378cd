/**
 * Authentication for the API: a cookie session (`sp_session`, web) or an API token
 * (`Authorization: Bearer spt_…`, scripts). The user is resolved once per request and cached.
 * Cookie-authenticated requests that change state must carry the session's CSRF token in
 * `x-csrf-token`; bearer requests skip CSRF (a browser never attaches them by itself).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { safeEqual, sha256Hex } from '../../../adapters/auth/crypto.ts';
import {
  type ClueQuery,
  type ClueRow,
  cluesExtent,
  getClue,
  queryClues,
} from '../../../adapters/postgis/clue-store.ts';
import { checkClueAccess, type ReviewActor, scopeCondition } from '../../../adapters/postgis/review-store.ts';
import { findApiTokenUser, findSession, type UserRow } from '../../../adapters/postgis/user-store.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import {
  isMutating,
  isSessionIdShape,
  parseAuthorization,
  readCookie,
  SESSION_COOKIE,
} from '../../../domain/auth/credentials.ts';
import type { Actor, ReviewAction, Role } from '../../../domain/clues/review.ts';

export interface AuthUser extends ReviewActor {
  displayName: string;
  via: 'session' | 'token';
  /** Session only: the CSRF token mutating requests must echo, and the session key. */
  csrfToken?: string;
  sessionSha256?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the review plugin's authentication hook on its routes (null elsewhere). */
    user: AuthUser | null;
  }
}

const resolved = new WeakMap<FastifyRequest, Promise<AuthUser | null>>();

function toAuthUser(u: UserRow, via: AuthUser['via'], extra: Partial<AuthUser> = {}): AuthUser {
  return {
    id: u.id,
    username: u.username,
    displayName: u.display_name,
    role: u.role,
    counties: u.counties,
    via,
    ...extra,
  };
}

async function resolve(req: FastifyRequest): Promise<AuthUser | null> {
  const pool = req.server.deps.pool;
  const auth = parseAuthorization(req.headers.authorization);
  if (auth.kind === 'malformed') throw new SkypatrolError('UNAUTHORIZED', auth.message);
  if (auth.kind === 'bearer') {
    const u = await findApiTokenUser(pool, sha256Hex(auth.token));
    if (!u) throw new SkypatrolError('UNAUTHORIZED', 'API token is unknown, expired or revoked');
    return toAuthUser(u, 'token');
  }
  const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
  if (sid === undefined || !isSessionIdShape(sid)) return null;
  const sessionSha256 = sha256Hex(sid);
  const s = await findSession(pool, sessionSha256);
  return s ? toAuthUser(s.user, 'session', { csrfToken: s.csrfToken, sessionSha256 }) : null;
}

/**
 * The request's user, or null when it carries no (live) session. A malformed, unknown,
 * expired or revoked bearer token is an error (401), never silently anonymous.
 */
export function currentUser(req: FastifyRequest): Promise<AuthUser | null> {
  let p = resolved.get(req);
  if (!p) {
    p = resolve(req);
    resolved.set(req, p);
  }
  return p;
}

/** The signed-in user (401 otherwise), CSRF-checked for mutating cookie requests (403). */
export async function requireUser(req: FastifyRequest): Promise<AuthUser> {
  const user = await currentUser(req);
  if (!user) throw new SkypatrolError('UNAUTHORIZED', 'sign in first (session cookie or Bearer token)');
  if (user.via === 'session' && isMutating(req.method)) {
    const sent = req.headers['x-csrf-token'];
    if (typeof sent !== 'string' || !user.csrfToken || !safeEqual(sent, user.csrfToken))
      throw new SkypatrolError('FORBIDDEN', 'missing or wrong x-csrf-token header');
  }
  return user;
}

/** onRequest hook: authenticate and set `request.user`. */
export async function authenticate(req: FastifyRequest): Promise<void> {
  req.user = await requireUser(req);
}

/** Hook: the user must have one of these roles (after `authenticate`). */
export function requireRole(...roles: Role[]) {
  return async (req: FastifyRequest): Promise<void> => {
    const user = req.user ?? (await requireUser(req));
    if (!roles.includes(user.role))
      throw new SkypatrolError(
        'FORBIDDEN',
        `role ${user.role} may not do this (needs ${roles.join(' or ')})`,
      );
  };
}

/** Hook: scope (404 outside the user's counties) and role check for `:id` of a clue route. */
export function requireClueAccess(action: ReviewAction) {
  return async (req: FastifyRequest): Promise<void> => {
    const user = req.user ?? (await requireUser(req));
    const { id } = req.params as { id: number };
    await checkClueAccess(req.server.deps.pool, user, id, action);
  };
}

// ---- scoped reads for routes/clues.ts ----

/** Whether anonymous reads are refused (config `requireLogin`, once config.ts has it). */
function loginRequired(config: Config): boolean {
  return (config as Config & { requireLogin?: boolean }).requireLogin === true;
}

async function readerOf(req: FastifyRequest): Promise<Actor | null> {
  const user = await currentUser(req);
  if (!user && loginRequired(req.server.deps.config))
    throw new SkypatrolError('UNAUTHORIZED', 'sign in first (session cookie or Bearer token)');
  return user;
}

/**
 * SQL conditions limiting `clues` to what the user may see (null: no limit), with their
 * parameters numbered after `firstParam - 1` existing ones.
 */
export function clueScopeFilter(
  user: Actor | null,
  firstParam = 1,
): { sql: string | null; params: unknown[] } {
  const params: unknown[] = [];
  const sql = scopeCondition(user, (v) => {
    params.push(v);
    return `$${firstParam + params.length - 1}`;
  });
  return { sql, params };
}

/** Drop-in for `queryClues(pool, q)` that applies the request user's county scope. */
export async function queryCluesFor(
  req: FastifyRequest,
  pool: FastifyInstance['deps']['pool'],
  q: ClueQuery,
) {
  const actor = await readerOf(req);
  return queryClues(pool, q, (arg) => scopeCondition(actor, arg));
}

/** Drop-in for `getClue(pool, id)`: null (→ 404) for a clue outside the user's counties. */
export async function getClueFor(
  req: FastifyRequest,
  pool: FastifyInstance['deps']['pool'],
  id: number,
): Promise<(ClueRow & { events: unknown[] }) | null> {
  const actor = await readerOf(req);
  return getClue(pool, id, (arg) => scopeCondition(actor, arg));
}

/** Drop-in for `cluesExtent(pool)` over the clues the user may see. */
export async function cluesExtentFor(req: FastifyRequest, pool: FastifyInstance['deps']['pool']) {
  const actor = await readerOf(req);
  return cluesExtent(pool, (arg) => scopeCondition(actor, arg));
}

/** Secure cookies when the request came over https (directly or via a trusted proxy). */
export function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}
