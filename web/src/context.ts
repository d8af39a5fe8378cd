import type { ClueItem, County, Features, Scene, User } from './api.ts';
import type { MainMap, Window } from './map.ts';
import type { UrlState } from './state/url.ts';

/** What every view shares: the URL state, the signed-in user, the map and a few catalogues. */
export interface Ctx {
  state: UrlState;
  user: User;
  features: Features;
  scenes: Scene[];
  counties: County[];
  main: MainMap;
  /** Change the state (written to the URL hash) and re-render what depends on it. */
  update(patch: Partial<UrlState>): void;
  /** Re-read the clues (list and map tiles), e.g. after a review or a finished patrol tile. */
  refreshClues(): void;
  /** The imagery windows in use (the state's, else chosen from the catalogue). */
  windows(): { before: Window; after: Window };
  /** The clues on the current list page, in order. */
  listItems(): ClueItem[];
}

/** Review permissions as the server enforces them (services/domain/clues/review.ts), for the UI only. */
const DESK = ['admin', 'analyst', 'prosecutor'];
const LEGAL = ['admin', 'prosecutor'];
export const TRANSITION_ROLES: Record<string, string[]> = {
  in_review: DESK,
  field_check: DESK,
  dismissed: DESK,
  confirmed: LEGAL,
  case_filed: LEGAL,
  remediation_check: LEGAL,
  closed: LEGAL,
};
export const NEXT_STATUS: Record<string, string[]> = {
  new: ['in_review', 'dismissed'],
  in_review: ['field_check', 'confirmed', 'dismissed'],
  field_check: ['confirmed', 'dismissed'],
  confirmed: ['case_filed', 'dismissed'],
  case_filed: ['remediation_check'],
  remediation_check: ['closed', 'case_filed'],
  closed: [],
  dismissed: ['in_review'],
};
export const canDesk = (role: string) => DESK.includes(role);
export const canTransition = (role: string, from: string, to: string) =>
  (NEXT_STATUS[from] ?? []).includes(to) && (TRANSITION_ROLES[to] ?? []).includes(role);

/** The next step on the confirm path for this role, or null. */
export function confirmStep(role: string, from: string): string | null {
  const path: Record<string, string[]> = {
    new: ['in_review'],
    in_review: ['confirmed', 'field_check'],
    field_check: ['confirmed'],
    confirmed: ['case_filed'],
    case_filed: ['remediation_check'],
    remediation_check: ['closed'],
  };
  return (path[from] ?? []).find((to) => canTransition(role, from, to)) ?? null;
}
