/**
 * The clue status machine (domain notes, "Review workflow"). Pure: callers record the
 * transition as an event with who, when and why.
 */
export const CLUE_STATUSES = [
  'new',
  'in_review',
  'field_check',
  'confirmed',
  'case_filed',
  'remediation_check',
  'closed',
  'dismissed',
] as const;
export type ClueStatus = (typeof CLUE_STATUSES)[number];

export const DISMISS_REASONS = [
  'false_detection',
  'lawful_or_permitted',
  'duplicate',
  'outside_jurisdiction',
] as const;
export type DismissReason = (typeof DISMISS_REASONS)[number];

const NEXT: Record<ClueStatus, readonly ClueStatus[]> = {
  new: ['in_review', 'dismissed'],
  in_review: ['field_check', 'confirmed', 'dismissed'],
  field_check: ['confirmed', 'dismissed'],
  confirmed: ['case_filed', 'dismissed'],
  case_filed: ['remediation_check'],
  remediation_check: ['closed', 'case_filed'],
  closed: [],
  dismissed: ['in_review'],
};

export function allowedTransitions(from: ClueStatus): readonly ClueStatus[] {
  return NEXT[from];
}

export function canTransition(from: ClueStatus, to: ClueStatus): boolean {
  return NEXT[from].includes(to);
}
