/**
 * Who may do what in the review workflow (domain notes, "Review workflow"). Pure: one table of
 * actions → roles, a county-scope rule, and the checks a review request goes through, in
 * this order: scope (a clue outside the user's counties is "not found", so its existence does
 * not leak) → role (403) → workflow (illegal transition 409, missing/extra reason 400).
 */
import {
  CLUE_STATUSES,
  type ClueStatus,
  canTransition,
  DISMISS_REASONS,
  type DismissReason,
} from './status.ts';

export const ROLES = ['admin', 'analyst', 'prosecutor', 'field'] as const;
export type Role = (typeof ROLES)[number];

export type ReviewAction =
  | 'read'
  | 'comment'
  | 'priority'
  | 'attach'
  | 'manage_users'
  | `transition:${Exclude<ClueStatus, 'new'>}`;

const ALL: readonly Role[] = ROLES;
const DESK: readonly Role[] = ['admin', 'analyst', 'prosecutor'];
const LEGAL: readonly Role[] = ['admin', 'prosecutor'];

/**
 * The authorization table. Analysts triage (open, send to the field, dismiss); the legal
 * steps — confirming damage, filing a case, checking remediation, closing — are the
 * prosecutor's. Field teams read and upload photos. Only admins manage users.
 */
export const PERMISSIONS: Readonly<Record<ReviewAction, readonly Role[]>> = {
  read: ALL,
  attach: ALL,
  comment: DESK,
  priority: DESK,
  'transition:in_review': DESK,
  'transition:field_check': DESK,
  'transition:dismissed': DESK,
  'transition:confirmed': LEGAL,
  'transition:case_filed': LEGAL,
  'transition:remediation_check': LEGAL,
  'transition:closed': LEGAL,
  manage_users: ['admin'],
};

/** Roles that see every clue, including those with no county; the others see their counties only. */
const UNSCOPED: readonly Role[] = ['admin', 'analyst'];

export interface Actor {
  role: Role;
  /** County adcodes the user acts in (ignored for admin and analyst). */
  counties: readonly string[];
}

export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 3;

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function isClueStatus(v: unknown): v is ClueStatus {
  return typeof v === 'string' && (CLUE_STATUSES as readonly string[]).includes(v);
}

export function isDismissReason(v: unknown): v is DismissReason {
  return typeof v === 'string' && (DISMISS_REASONS as readonly string[]).includes(v);
}

/** Whether a role needs counties (and is limited to them). */
export function isCountyScoped(role: Role): boolean {
  return !UNSCOPED.includes(role);
}

/** Whether the user can see a clue of this county at all (null: clue outside every county). */
export function inScope(actor: Actor, clueCounty: string | null): boolean {
  if (!isCountyScoped(actor.role)) return true;
  return clueCounty !== null && actor.counties.includes(clueCounty);
}

export function mayDo(role: Role, action: ReviewAction): boolean {
  return PERMISSIONS[action].includes(role);
}

export function transitionAction(to: ClueStatus): ReviewAction | null {
  return to === 'new' ? null : `transition:${to}`;
}

export type Decision =
  | { ok: true }
  | { ok: false; code: 'NOT_FOUND' | 'FORBIDDEN' | 'TRANSITION_REFUSED' | 'VALIDATION'; message: string };

const OK: Decision = { ok: true };

/** Scope then role, for any action on one clue. */
export function decide(
  actor: Actor,
  action: ReviewAction,
  clue: { id: number; county: string | null },
): Decision {
  if (!inScope(actor, clue.county))
    return { ok: false, code: 'NOT_FOUND', message: `clue ${clue.id} does not exist` };
  if (!mayDo(actor.role, action))
    return {
      ok: false,
      code: 'FORBIDDEN',
      message: `role ${actor.role} may not ${action.replace(':', ' to ')}`,
    };
  return OK;
}

/** Everything a transition request must satisfy, given the clue's current state. */
export function decideTransition(
  actor: Actor,
  clue: { id: number; county: string | null; status: ClueStatus },
  request: { to: ClueStatus; reason?: string | null },
): Decision {
  const action = transitionAction(request.to);
  if (action === null) {
    const seen = decide(actor, 'read', clue);
    return seen.ok
      ? { ok: false, code: 'TRANSITION_REFUSED', message: 'a clue never goes back to new' }
      : seen;
  }
  const allowed = decide(actor, action, clue);
  if (!allowed.ok) return allowed;
  const reason = request.reason ?? null;
  if (request.to === 'dismissed' && !isDismissReason(reason))
    return {
      ok: false,
      code: 'VALIDATION',
      message: `dismissing needs a reason: one of ${DISMISS_REASONS.join(', ')}`,
    };
  if (request.to !== 'dismissed' && reason !== null)
    return { ok: false, code: 'VALIDATION', message: 'a reason is only given when dismissing' };
  if (!canTransition(clue.status, request.to))
    return {
      ok: false,
      code: 'TRANSITION_REFUSED',
      message: `clue ${clue.id} cannot go from ${clue.status} to ${request.to}`,
    };
  return OK;
}

/** Counties a user record must carry: scoped roles need at least one, all must be 6-digit adcodes. */
export function validateCounties(role: Role, counties: readonly string[]): string | null {
  const bad = counties.find((c) => !/^\d{6}$/.test(c));
  if (bad !== undefined) return `county "${bad}" is not a 6-digit adcode`;
  if (isCountyScoped(role) && counties.length === 0) return `role ${role} needs at least one county`;
  return null;
}
