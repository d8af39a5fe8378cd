import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { clueConditions, SqlArgs } from '../../../adapters/postgis/mvt-store.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { clueScopeFilter, currentUser } from '../plugins/auth.ts';
import { Offset, RowId } from './params.ts';
import { type ClueFilterParams, ClueFilterQuery, toClueFilter } from './stats.ts';

/**
 * Read-only helpers for the web workspace (issue 8): a light clue list with every filter the
 * workspace offers (county, dates, confidence, area, priority, bbox) and sorting, and the zoning
 * features a clue overlaps (permit numbers, holders, deadlines). Both apply the reader's county
 * scope like GET /clues.
 */

const SORTS = {
  last_seen: 'c.last_seen',
  first_seen: 'c.first_seen',
  confidence: 'c.confidence',
  area: 'c.area_m2',
  priority: 'c.priority',
  id: 'c.id',
} as const;
type SortKey = keyof typeof SORTS;
const SORT_PATTERN = `^-?(${Object.keys(SORTS).join('|')})$`;

interface ListQuery extends ClueFilterParams {
  min_area_m2?: number;
  max_area_m2?: number;
  max_confidence?: number;
  priority?: string;
  sort: string;
  limit: number;
  offset: number;
}

async function scopeOf(req: Parameters<typeof currentUser>[0]) {
  const user = await currentUser(req);
  const requireLogin = (req.server.deps.config as { requireLogin?: boolean }).requireLogin === true;
  if (!user && requireLogin)
    throw new SkypatrolError('UNAUTHORIZED', 'sign in first (session cookie or Bearer token)');
  return user;
}

export async function webSupportRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/web/clues',
    {
      schema: {
        tags: ['clues'],
        summary: 'Clue list for the workspace: every filter, sorting and paging; bbox instead of geometry',
        querystring: Type.Object({
          ...ClueFilterQuery,
          bbox: Type.Optional(Type.String({ description: 'west,south,east,north (EPSG:4326)' })),
          max_confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          min_area_m2: Type.Optional(Type.Number({ minimum: 0 })),
          max_area_m2: Type.Optional(Type.Number({ minimum: 0 })),
          priority: Type.Optional(
            Type.String({ pattern: '^[0-3](,[0-3]){0,3}$', description: 'priorities, comma-separated' }),
          ),
          sort: Type.String({
            pattern: SORT_PATTERN,
            default: '-last_seen',
            description: 'field, "-" for descending',
          }),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          offset: Offset,
        }),
      },
    },
    async (req, reply) => {
      const q = req.query as ListQuery;
      if (q.min_area_m2 !== undefined && q.max_area_m2 !== undefined && q.min_area_m2 > q.max_area_m2)
        throw new SkypatrolError('VALIDATION', 'min_area_m2 is larger than max_area_m2');
      const filter = toClueFilter(q);
      const user = await scopeOf(req);
      const args = new SqlArgs();
      const where = clueConditions(filter, args);
      const scope = clueScopeFilter(user, args.values.length + 1);
      if (scope.sql) {
        args.values.push(...scope.params);
        where.push(scope.sql);
      }
      if (q.max_confidence !== undefined) where.push(`c.confidence <= ${args.add(q.max_confidence)}::real`);
      if (q.min_area_m2 !== undefined) where.push(`c.area_m2 >= ${args.add(q.min_area_m2)}::float8`);
      if (q.max_area_m2 !== undefined) where.push(`c.area_m2 <= ${args.add(q.max_area_m2)}::float8`);
      if (q.priority)
        where.push(`c.priority = ANY(${args.add(q.priority.split(',').map(Number))}::smallint[])`);
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const desc = q.sort.startsWith('-');
      const key = (desc ? q.sort.slice(1) : q.sort) as SortKey;
      const dir = desc ? 'DESC' : 'ASC';
      const total = await app.deps.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM clues c ${clause}`,
        args.values,
      );
      const { rows } = await app.deps.pool.query(
        `SELECT c.id::int AS id, c.scenario, c.status, c.dismiss_reason, c.confidence::float8 AS confidence,
                c.priority::int AS priority, c.area_m2, c.area_ha, c.area_mu,
                c.first_seen::text AS first_seen, c.last_seen::text AS last_seen, c.county_adcode AS county,
                c.detector, c.before_scene, c.after_scene,
                ARRAY[ST_XMin(c.geom), ST_YMin(c.geom), ST_XMax(c.geom), ST_YMax(c.geom)] AS bbox
           FROM clues c ${clause}
          ORDER BY ${SORTS[key]} ${dir}, c.id ${dir}
          LIMIT ${args.add(q.limit)} OFFSET ${args.add(q.offset)}`,
        args.values,
      );
      return reply.header('cache-control', 'no-store').send({ total: total.rows[0]!.n, items: rows });
    },
  );

  app.get(
    '/web/clues/:id/zones',
    {
      schema: {
        tags: ['clues'],
        summary:
          'Zoning features a clue overlaps (permits with numbers, holders, deadlines; protected areas)',
        params: Type.Object({ id: RowId }),
      },
    },
    async (req) => {
      const { id } = req.params as { id: number };
      const user = await scopeOf(req);
      const scope = clueScopeFilter(user, 2);
      const found = await app.deps.pool.query(
        `SELECT 1 FROM clues c WHERE c.id = $1${scope.sql ? ` AND ${scope.sql}` : ''}`,
        [id, ...scope.params],
      );
      if (!found.rows[0]) throw new SkypatrolError('NOT_FOUND', `clue ${id} does not exist`);
      const { rows } = await app.deps.pool.query(
        `SELECT z.id::int AS id, z.kind, z.properties,
                ST_Area(ST_Intersection(z.geom, c.geom)::geography)::float8 AS overlap_m2
           FROM clues c JOIN zones z ON z.geom && c.geom AND ST_Intersects(z.geom, c.geom)
          WHERE c.id = $1 AND z.kind <> 'admin_division'
          ORDER BY overlap_m2 DESC, z.id`,
        [id],
      );
      return rows;
    },
  );
}
