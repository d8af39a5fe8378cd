import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe } from 'vitest';

/**
 * `../shared/data` (real OSCD pairs, real rasters). Outside CI a clone without it skips the
 * tests that need it, saying why; under CI=true its absence is a failure.
 */
export const SHARED_DATA = resolve(
  process.env.SKYPATROL_SHARED_DATA ?? resolve(import.meta.dirname, '../../../shared/data'),
);
export const HAS_SHARED = existsSync(resolve(SHARED_DATA, 'oscd'));

export function oscd(city: string, which: 'imgs_1' | 'imgs_2' | 'cm'): string {
  return resolve(SHARED_DATA, 'oscd', city, which);
}

export const describeShared: typeof describe = ((name: string, fn: () => void) => {
  if (HAS_SHARED) return describe(name, fn);
  if (process.env.CI === 'true') {
    return describe(name, () => {
      throw new Error(`CI=true but the shared data folder ${SHARED_DATA} is missing`);
    });
  }
  return describe.skip(`${name} (skipped: ${SHARED_DATA} not found; see ../shared/data/README.md)`, fn);
}) as typeof describe;
