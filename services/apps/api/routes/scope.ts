import type { FastifyRequest } from 'fastify';
import type { ClueFilter } from '../../../adapters/postgis/mvt-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { isCountyScoped } from '../../../domain/clues/review.ts';
import { currentUser } from '../plugins/auth.ts';

/**
 * A clue filter limited to what the request's reader may see: prosecutors and field teams
 * only their counties (a `county` outside them is 403), admins, analysts and anonymous
 * readers (when login is not required) everything. Used by clue tiles, exports and stats.
 */
export async function scopedClueFilter(req: FastifyRequest, filter: ClueFilter): Promise<ClueFilter> {
  const user = await currentUser(req);
  if (!user) {
    if (req.server.deps.config.requireLogin)
      throw new SkypatrolError('UNAUTHORIZED', 'sign in first (session cookie or Bearer token)');
    return filter;
  }
  if (!isCountyScoped(user.role)) return filter;
  if (filter.county && !user.counties.includes(filter.county))
    throw new SkypatrolError('FORBIDDEN', `county ${filter.county} is outside your counties`);
  return { ...filter, counties: [...user.counties] };
}

/**
 * The county a scoped reader's statistics are about: the one asked for (403 outside their
 * counties), else their only county; a reader of several counties must choose one.
 */
export async function scopedStatsCounty(req: FastifyRequest, county?: string): Promise<string | undefined> {
  const f = await scopedClueFilter(req, county ? { county } : {});
  if (!f.counties) return county;
  if (county) return county;
  if (f.counties.length === 1) return f.counties[0];
  throw new SkypatrolError('VALIDATION', `county is required: one of ${f.counties.join(', ')}`);
}
