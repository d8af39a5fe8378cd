import { describe, expect, it } from 'vitest';
import {
  isApiTokenShape,
  isMutating,
  parseAuthorization,
  readCookie,
  sessionCookie,
} from '../../services/domain/auth/credentials.ts';
import {
  type Actor,
  decide,
  decideTransition,
  inScope,
  mayDo,
  PERMISSIONS,
  type ReviewAction,
  ROLES,
  type Role,
  validateCounties,
} from '../../services/domain/clues/review.ts';
import { CLUE_STATUSES, type ClueStatus, canTransition } from '../../services/domain/clues/status.ts';

const A = '150702';
const B = '150781';
const actor = (role: Role, counties: string[] = []): Actor => ({ role, counties });

describe('permission table', () => {
  const expected: Record<ReviewAction, Role[]> = {
    read: ['admin', 'analyst', 'prosecutor', 'field'],
    attach: ['admin', 'analyst', 'prosecutor', 'field'],
    comment: ['admin', 'analyst', 'prosecutor'],
    priority: ['admin', 'analyst', 'prosecutor'],
    'transition:in_review': ['admin', 'analyst', 'prosecutor'],
    'transition:field_check': ['admin', 'analyst', 'prosecutor'],
    'transition:dismissed': ['admin', 'analyst', 'prosecutor'],
    'transition:confirmed': ['admin', 'prosecutor'],
    'transition:case_filed': ['admin', 'prosecutor'],
    'transition:remediation_check': ['admin', 'prosecutor'],
    'transition:closed': ['admin', 'prosecutor'],
    manage_users: ['admin'],
  };
  it('covers every action exactly as documented', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual(Object.keys(expected).sort());
  });
  for (const [action, roles] of Object.entries(expected) as [ReviewAction, Role[]][]) {
    for (const role of ROLES) {
      it(`${role} ${roles.includes(role) ? 'may' : 'may not'} ${action}`, () => {
        expect(mayDo(role, action)).toBe(roles.includes(role));
      });
    }
  }
});

describe('county scope', () => {
  it('admin and analyst see every clue, including those with no county', () => {
    for (const role of ['admin', 'analyst'] as const) {
      expect(inScope(actor(role), A)).toBe(true);
      expect(inScope(actor(role), null)).toBe(true);
    }
  });
  it('prosecutors and field teams see only their counties, never county-less clues', () => {
    for (const role of ['prosecutor', 'field'] as const) {
      expect(inScope(actor(role, [A]), A)).toBe(true);
      expect(inScope(actor(role, [A]), B)).toBe(false);
      expect(inScope(actor(role, [A, B]), B)).toBe(true);
      expect(inScope(actor(role, [A]), null)).toBe(false);
    }
  });
  it('out of scope is NOT_FOUND (existence does not leak) even for a forbidden action', () => {
    expect(decide(actor('field', [B]), 'comment', { id: 7, county: A })).toMatchObject({
      ok: false,
      code: 'NOT_FOUND',
    });
    expect(decide(actor('field', [A]), 'comment', { id: 7, county: A })).toMatchObject({
      ok: false,
      code: 'FORBIDDEN',
    });
    expect(decide(actor('field', [A]), 'attach', { id: 7, county: A })).toEqual({ ok: true });
  });
});

describe('decideTransition', () => {
  const clue = (status: ClueStatus, county: string | null = A) => ({ id: 1, county, status });
  it('allows exactly the status machine for admin', () => {
    for (const from of CLUE_STATUSES)
      for (const to of CLUE_STATUSES) {
        const reason = to === 'dismissed' ? 'duplicate' : null;
        const d = decideTransition(actor('admin'), clue(from), { to, reason });
        if (canTransition(from, to)) expect(d, `${from}→${to}`).toEqual({ ok: true });
        else expect(d, `${from}→${to}`).toMatchObject({ ok: false, code: 'TRANSITION_REFUSED' });
      }
  });
  it('requires a known reason to dismiss, and only then', () => {
    expect(decideTransition(actor('analyst'), clue('new'), { to: 'dismissed' })).toMatchObject({
      code: 'VALIDATION',
    });
    expect(
      decideTransition(actor('analyst'), clue('new'), { to: 'dismissed', reason: 'because' }),
    ).toMatchObject({ code: 'VALIDATION' });
    expect(
      decideTransition(actor('analyst'), clue('new'), { to: 'dismissed', reason: 'lawful_or_permitted' }),
    ).toEqual({ ok: true });
    expect(
      decideTransition(actor('analyst'), clue('new'), { to: 'in_review', reason: 'duplicate' }),
    ).toMatchObject({ code: 'VALIDATION' });
  });
  it('checks scope, then role, then the workflow', () => {
    expect(decideTransition(actor('prosecutor', [B]), clue('new'), { to: 'closed' })).toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(decideTransition(actor('analyst'), clue('new'), { to: 'closed' })).toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(decideTransition(actor('prosecutor', [A]), clue('new'), { to: 'closed' })).toMatchObject({
      code: 'TRANSITION_REFUSED',
    });
    expect(decideTransition(actor('analyst'), clue('confirmed'), { to: 'case_filed' })).toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(decideTransition(actor('prosecutor', [A]), clue('confirmed'), { to: 'case_filed' })).toEqual({
      ok: true,
    });
    expect(decideTransition(actor('field', [A]), clue('new'), { to: 'in_review' })).toMatchObject({
      code: 'FORBIDDEN',
    });
  });
  it('never goes back to new', () => {
    expect(decideTransition(actor('admin'), clue('in_review'), { to: 'new' })).toMatchObject({
      code: 'TRANSITION_REFUSED',
    });
    expect(decideTransition(actor('prosecutor', [B]), clue('in_review'), { to: 'new' })).toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('validateCounties', () => {
  it('needs counties for scoped roles and 6-digit adcodes', () => {
    expect(validateCounties('admin', [])).toBeNull();
    expect(validateCounties('prosecutor', [])).toMatch(/at least one county/);
    expect(validateCounties('field', [A])).toBeNull();
    expect(validateCounties('prosecutor', ['15070'])).toMatch(/6-digit/);
  });
});

describe('credentials', () => {
  const good = `spt_${'a'.repeat(43)}`;
  it('parses Authorization strictly', () => {
    expect(parseAuthorization(undefined)).toEqual({ kind: 'none' });
    expect(parseAuthorization(`Bearer ${good}`)).toEqual({ kind: 'bearer', token: good });
    expect(parseAuthorization(`bearer ${good}`)).toEqual({ kind: 'bearer', token: good });
    for (const bad of [
      'Basic dXNlcjpwYXNz',
      'Bearer',
      'Bearer abc',
      `Bearer ${good}x`,
      `Bearer ${good} extra`,
    ])
      expect(parseAuthorization(bad).kind, bad).toBe('malformed');
    expect(isApiTokenShape(`spt_${'a'.repeat(42)}!`)).toBe(false);
  });
  it('reads and writes the session cookie', () => {
    expect(readCookie('a=1; sp_session=xyz; b=2', 'sp_session')).toBe('xyz');
    expect(readCookie('a=1', 'sp_session')).toBeUndefined();
    expect(readCookie(undefined, 'sp_session')).toBeUndefined();
    const c = sessionCookie('abc', { maxAgeSeconds: 60, secure: true });
    expect(c).toBe('sp_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
    expect(sessionCookie('abc', { maxAgeSeconds: 60, secure: false })).not.toMatch(/Secure/);
  });
  it('knows which methods mutate', () => {
    expect(isMutating('GET')).toBe(false);
    expect(isMutating('HEAD')).toBe(false);
    expect(isMutating('POST')).toBe(true);
    expect(isMutating('PATCH')).toBe(true);
    expect(isMutating('DELETE')).toBe(true);
  });
});
