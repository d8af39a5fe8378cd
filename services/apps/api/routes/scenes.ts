import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { renderScenePreview } from '../../../usecases/render-scene.ts';
import { Offset } from './params.ts';

export async function sceneRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/scenes',
    {
      schema: {
        tags: ['scenes'],
        summary: 'Catalogued scenes with their footprint bbox',
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          offset: Offset,
        }),
      },
    },
    async (req) => {
      const q = req.query as { limit: number; offset: number };
      const { rows } = await app.deps.pool.query(
        `SELECT id, sensor, platform, datetime, epsg, status,
                ARRAY[ST_XMin(footprint), ST_YMin(footprint), ST_XMax(footprint), ST_YMax(footprint)] AS bbox
           FROM scenes ORDER BY datetime, id LIMIT $1 OFFSET $2`,
        [q.limit, q.offset],
      );
      return { scenes: rows };
    },
  );

  app.get(
    '/scenes/:id/preview.png',
    {
      schema: {
        tags: ['scenes'],
        summary: 'Scene overview as PNG (true colour or NIR-red-green false colour)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) }),
        querystring: Type.Object({
          mode: Type.Union([Type.Literal('true-color'), Type.Literal('false-color')], {
            default: 'true-color',
          }),
          size: Type.Integer({ minimum: 64, maximum: 4096, default: 1024 }),
        }),
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const q = req.query as { mode: 'true-color' | 'false-color'; size: number };
      const preview = await renderScenePreview(app.deps.pool, id, q.mode, q.size);
      if (req.headers['if-none-match'] === preview.etag) return reply.status(304).send();
      return reply
        .header('etag', preview.etag)
        .header('cache-control', 'public, max-age=3600')
        .type('image/png')
        .send(preview.png);
    },
  );
}
