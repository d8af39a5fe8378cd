import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ClueFilter } from '../../../adapters/postgis/mvt-store.ts';
import { clueStats } from '../../../adapters/postgis/stats-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { CLUE_STATUSES } from '../../../domain/clues/status.ts';
import { parseBbox } from './params.ts';
import { scopedStatsCounty } from './scope.ts';

// ---------------------------------------------------------------------------------------
// Shared query schemas: every value is validated here and bound as a parameter later.

export const DATE = { pattern: '^\\d{4}-\\d{2}-\\d{2}$', format: 'date' } as const;
export const list = (values: readonly string[]) => `^(${values.join('|')})(,(${values.join('|')}))*$`;

export const ClueFilterQuery = {
  scenario: Type.Optional(
    Type.String({
      pattern: '^[a-z0-9_-]{1,64}(,[a-z0-9_-]{1,64}){0,15}$',
      description: 'scenario id(s), comma-separated',
    }),
  ),
  concerns: Type.Optional(
    Type.String({
      pattern: '^[a-z0-9_-]{1,64}(,[a-z0-9_-]{1,64}){0,15}$',
      description:
        'scenario id(s), comma-separated: clues of these scenarios or that also concern them (also_scenarios)',
    }),
  ),
  status: Type.Optional(
    Type.String({ pattern: list(CLUE_STATUSES), description: 'status(es), comma-separated' }),
  ),
  min_confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  from: Type.Optional(Type.String({ ...DATE, description: 'clues seen on or after (last_seen ≥ from)' })),
  to: Type.Optional(Type.String({ ...DATE, description: 'clues seen on or before (first_seen ≤ to)' })),
  county: Type.Optional(Type.String({ pattern: '^[0-9]{6,12}$', description: 'county adcode' })),
};

export interface ClueFilterParams {
  scenario?: string;
  concerns?: string;
  status?: string;
  min_confidence?: number;
  from?: string;
  to?: string;
  county?: string;
  bbox?: string;
}

/** Validated query → store filter (dates checked to exist, from ≤ to). */
export function toClueFilter(q: ClueFilterParams): ClueFilter {
  checkDates(q.from, q.to);
  return {
    ...(q.scenario ? { scenario: q.scenario.split(',') } : {}),
    ...(q.concerns ? { concerns: q.concerns.split(',') } : {}),
    ...(q.status ? { status: q.status.split(',') } : {}),
    ...(q.min_confidence !== undefined ? { minConfidence: q.min_confidence } : {}),
    ...(q.from ? { from: q.from } : {}),
    ...(q.to ? { to: q.to } : {}),
    ...(q.county ? { county: q.county } : {}),
    ...(q.bbox ? { bbox: parseBbox(q.bbox) } : {}),
  };
}

export function checkDates(from?: string, to?: string): void {
  for (const d of [from, to]) {
    if (d !== undefined && Number.isNaN(Date.parse(`${d}T00:00:00Z`)))
      throw new SkypatrolError('VALIDATION', `${d} is not a calendar date`);
    if (d !== undefined && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) !== d)
      throw new SkypatrolError('VALIDATION', `${d} is not a calendar date`);
  }
  if (from && to && from > to) throw new SkypatrolError('VALIDATION', `from ${from} is after to ${to}`);
}

export async function statsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/stats',
    {
      schema: {
        tags: ['clues'],
        summary:
          'Figures to report: patrolled km², clues, confirmed, cases filed and damage area (ha, 亩) by scenario, status, county and month',
        description:
          'Clues first seen in [from, to] (inclusive); patrolled area = union of the coverage of patrol tiles finished in the window, on the ellipsoid. ' +
          'confirmed = confirmed, case_filed, remediation_check or closed; cases filed = case_filed, remediation_check or closed; ' +
          'area_* sums clues not dismissed, confirmed_area_* sums confirmed ones.',
        querystring: Type.Object({
          from: Type.Optional(Type.String(DATE)),
          to: Type.Optional(Type.String(DATE)),
          county: ClueFilterQuery.county,
        }),
      },
    },
    async (req, reply) => {
      const q = req.query as { from?: string; to?: string; county?: string };
      checkDates(q.from, q.to);
      const county = await scopedStatsCounty(req, q.county);
      const stats = await clueStats(app.deps.pool, {
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        ...(county ? { county } : {}),
      });
      return reply.header('cache-control', 'no-store').send(stats);
    },
  );
}
