import { describe, expect, it } from 'vitest';
import {
  allowedTransitions,
  CLUE_STATUSES,
  type ClueStatus,
  canTransition,
} from '../../services/domain/clues/status.ts';

describe('clue status transitions', () => {
  it.each<[ClueStatus, ClueStatus]>([
    ['new', 'in_review'],
    ['new', 'dismissed'],
    ['in_review', 'field_check'],
    ['in_review', 'confirmed'],
    ['field_check', 'confirmed'],
    ['confirmed', 'case_filed'],
    ['case_filed', 'remediation_check'],
    ['remediation_check', 'closed'],
    ['remediation_check', 'case_filed'],
    ['dismissed', 'in_review'],
  ])('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  it.each<[ClueStatus, ClueStatus]>([
    ['new', 'closed'],
    ['new', 'confirmed'],
    ['new', 'case_filed'],
    ['in_review', 'new'],
    ['field_check', 'in_review'],
    ['confirmed', 'closed'],
    ['case_filed', 'dismissed'],
    ['case_filed', 'closed'],
    ['dismissed', 'closed'],
  ])('refuses %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it('has no exit from closed', () => {
    expect(allowedTransitions('closed')).toEqual([]);
    for (const to of CLUE_STATUSES) expect(canTransition('closed', to)).toBe(false);
  });

  it('never allows a status to transition to itself', () => {
    for (const s of CLUE_STATUSES) expect(canTransition(s, s)).toBe(false);
  });

  it('only leads to known statuses', () => {
    for (const s of CLUE_STATUSES) {
      for (const to of allowedTransitions(s)) expect(CLUE_STATUSES).toContain(to);
    }
  });

  it('can reach closed from new', () => {
    const seen = new Set<ClueStatus>(['new']);
    const queue: ClueStatus[] = ['new'];
    while (queue.length) {
      for (const to of allowedTransitions(queue.shift()!)) {
        if (!seen.has(to)) {
          seen.add(to);
          queue.push(to);
        }
      }
    }
    expect(seen.has('closed')).toBe(true);
  });
});
