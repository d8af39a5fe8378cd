import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SkypatrolError } from '../../../core/errors.ts';
import { CLUE_STATUSES } from '../../../domain/clues/status.ts';
import { cluesExtentFor, getClueFor, queryCluesFor } from '../plugins/auth.ts';
import { Offset, parseBbox, RowId } from './params.ts';

export const ClueProperties = Type.Object(
  {
    scenario: Type.String(),
    status: Type.String({ enum: [...CLUE_STATUSES] }),
    confidence: Type.Number(),
    area_m2: Type.Number(),
    area_ha: Type.Number(),
    area_mu: Type.Number(),
    first_seen: Type.String({ format: 'date' }),
    last_seen: Type.String({ format: 'date' }),
  },
  { additionalProperties: true },
);

export async function clueRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/clues',
    {
      schema: {
        tags: ['clues'],
        summary: 'List clues as GeoJSON (filters, paging)',
        querystring: Type.Object({
          bbox: Type.Optional(Type.String({ description: 'west,south,east,north (EPSG:4326)' })),
          scenario: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]{1,64}$', description: 'scenario id' })),
          concerns: Type.Optional(
            Type.String({
              pattern: '^[a-z0-9_-]{1,64}$',
              description: 'scenario id: clues of this scenario or that also concern it (also_scenarios)',
            }),
          ),
          status: Type.Optional(Type.String({ enum: [...CLUE_STATUSES] })),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          offset: Offset,
        }),
      },
    },
    async (req) => {
      const q = req.query as {
        bbox?: string;
        scenario?: string;
        concerns?: string;
        status?: string;
        limit: number;
        offset: number;
      };
      const { total, rows } = await queryCluesFor(req, app.deps.pool, {
        ...(q.bbox ? { bbox: parseBbox(q.bbox) } : {}),
        ...(q.scenario ? { scenario: q.scenario } : {}),
        ...(q.concerns ? { concerns: q.concerns } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: q.limit,
        offset: q.offset,
      });
      const extent = await cluesExtentFor(req, app.deps.pool);
      return {
        type: 'FeatureCollection',
        total,
        extent,
        features: rows.map((r) => ({
          type: 'Feature',
          id: r.id,
          geometry: r.geometry,
          properties: r.properties,
        })),
      };
    },
  );

  app.get(
    '/clues/:id',
    {
      schema: {
        tags: ['clues'],
        summary: 'One clue with its event history',
        params: Type.Object({ id: RowId }),
      },
    },
    async (req) => {
      const { id } = req.params as { id: number };
      const clue = await getClueFor(req, app.deps.pool, id);
      if (!clue) throw new SkypatrolError('NOT_FOUND', `clue ${id} does not exist`);
      return {
        type: 'Feature',
        id: clue.id,
        geometry: clue.geometry,
        properties: { ...clue.properties, events: clue.events },
      };
    },
  );
}
