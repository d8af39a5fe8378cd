/**
 * Patrol rules that need no I/O: progress and ETA, material growth of a dismissed site,
 * the remediation re-check verdict, and the windows of a recurring patrol.
 */

export interface Progress {
  tilesTotal: number;
  tilesDone: number;
  tilesFailed: number;
}

/**
 * Seconds left, from the pace so far (finished tiles per second since the run started).
 * Null until a tile has finished or when nothing is left.
 */
export function etaSeconds(p: Progress, elapsedSeconds: number): number | null {
  const finished = p.tilesDone + p.tilesFailed;
  const left = p.tilesTotal - finished;
  if (left <= 0) return 0;
  if (finished === 0 || !(elapsedSeconds > 0)) return null;
  return Math.round((elapsedSeconds / finished) * left);
}

/** A dismissed site is raised again only when it grew by half and by at least one MMU. */
export const REOPEN_GROWTH_RATIO = 1.5;

export function grewMaterially(previousAreaM2: number, areaM2: number, minAreaM2: number): boolean {
  return areaM2 >= previousAreaM2 * REOPEN_GROWTH_RATIO && areaM2 - previousAreaM2 >= minAreaM2;
}

/**
 * Satellite re-check of a clue under remediation: seen again → still damaged; not seen although
 * the run observed (almost) all of it clear → restored; otherwise no verdict (clouds).
 */
export function recheckVerdict(
  seenAgain: boolean,
  observedFraction: number,
): 'still_damaged' | 'restored' | null {
  if (seenAgain) return 'still_damaged';
  return observedFraction >= 0.9 ? 'restored' : null;
}

export type Cadence = 'monthly' | 'quarterly';

const iso = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Windows of a recurring patrol fired at `now`: the after window is the last full period
 * (month or quarter) before `now`; the before window is the same period a year earlier, so
 * seasonal change (harvest, snow, green-up) is not mistaken for damage.
 */
export function recurringWindows(
  cadence: Cadence,
  now: Date,
): { before: { from: string; to: string }; after: { from: string; to: string } } {
  const months = cadence === 'monthly' ? 1 : 3;
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const endMonth = cadence === 'monthly' ? m : m - (m % 3);
  const afterFrom = new Date(Date.UTC(y, endMonth - months, 1));
  const afterTo = new Date(Date.UTC(y, endMonth, 0));
  const beforeFrom = new Date(Date.UTC(y - 1, endMonth - months, 1));
  const beforeTo = new Date(Date.UTC(y - 1, endMonth, 0));
  return {
    before: { from: iso(beforeFrom), to: iso(beforeTo) },
    after: { from: iso(afterFrom), to: iso(afterTo) },
  };
}

/** BullMQ job ids may not contain ':'; tile ids never do and run ids are UUIDs. */
export function tileJobId(runId: string, tileId: string): string {
  return `${runId}_${tileId}`;
}
