/**
 * Pure parts of authentication: the shapes of tokens and headers, parsed strictly so a
 * malformed credential is refused before any lookup.
 */

/** API tokens: "spt_" + 32 random bytes in base64url (43 characters). */
export const API_TOKEN_PREFIX = 'spt_';
/** Session ids (cookie `sp_session`): 32 random bytes in base64url. */
export const SESSION_COOKIE = 'sp_session';
export const SESSION_TTL_SECONDS = 12 * 3600;

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

export function isApiTokenShape(token: string): boolean {
  return token.startsWith(API_TOKEN_PREFIX) && B64URL_32.test(token.slice(API_TOKEN_PREFIX.length));
}

export function isSessionIdShape(id: string): boolean {
  return B64URL_32.test(id);
}

export type AuthorizationHeader =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'malformed'; message: string };

/** `Authorization: Bearer spt_…`; anything else present in the header is malformed. */
export function parseAuthorization(header: string | undefined): AuthorizationHeader {
  if (header === undefined || header === '') return { kind: 'none' };
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) return { kind: 'malformed', message: 'Authorization must be "Bearer <token>"' };
  const token = m[1]!;
  if (!isApiTokenShape(token)) return { kind: 'malformed', message: 'malformed API token' };
  return { kind: 'bearer', token };
}

/** One cookie's value from a Cookie header (first occurrence), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

export interface CookieOptions {
  maxAgeSeconds: number;
  secure: boolean;
}

/** Set-Cookie for the session: HttpOnly, SameSite=Lax, Path=/, Secure behind https. */
export function sessionCookie(value: string, opts: CookieOptions): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`,
    ...(opts.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Methods that change state: cookie-authenticated requests with them need the CSRF header. */
export function isMutating(method: string): boolean {
  return !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase());
}

/** Password policy for new and changed passwords. */
export function passwordProblem(password: string): string | null {
  if (password.length < 10) return 'password must have at least 10 characters';
  if (password.length > 1024) return 'password must have at most 1024 characters';
  return null;
}
