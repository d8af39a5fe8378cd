import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { pingDatabase } from '../../../adapters/postgis/pool.ts';
import { pingRedis } from '../../../adapters/redis/connection.ts';

const Check = Type.Object({
  ok: Type.Boolean(),
  version: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Service health: PostGIS and Redis round-trips',
        response: {
          200: Type.Object({ status: Type.Literal('ok'), postgis: Check, redis: Check }),
          503: Type.Object({ status: Type.Literal('degraded'), postgis: Check, redis: Check }),
        },
      },
    },
    async (_req, reply) => {
      const [db, redis] = await Promise.all([pingDatabase(app.deps.pool), pingRedis(app.deps.redis)]);
      const postgis = db.ok ? { ok: true, version: db.postgis } : { ok: false, error: db.error };
      const ok = db.ok && redis.ok;
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', postgis, redis });
    },
  );
}
