import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { createPool } from '../../adapters/postgis/pool.ts';
import { createRedis } from '../../adapters/redis/connection.ts';
import type { Config } from '../../core/config.ts';
import { isSkypatrolError } from '../../core/errors.ts';
import { clueRoutes } from './routes/clues.ts';
import { detectorRoutes } from './routes/detectors.ts';
import { healthRoutes } from './routes/health.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { ogcRoutes } from './routes/ogc.ts';
import { packetRoutes } from './routes/packets.ts';
import { patrolRoutes } from './routes/patrols.ts';
import { reviewPlugin } from './routes/review.ts';
import { sceneRoutes } from './routes/scenes.ts';
import { tilesExportsStatsPlugin } from './routes/tiles.ts';
import { webSupportRoutes } from './routes/web-support.ts';

export interface AppDeps {
  pool: pg.Pool;
  redis: Redis;
  config: Config;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
  }
}

/**
 * Build the HTTP API (no listening here: server.ts listens, tests use `inject`).
 * Database and Redis clients are created from the config unless passed in, and are closed
 * with the app when it created them.
 */
export async function build(
  config: Config,
  injected: Partial<Pick<AppDeps, 'pool' | 'redis'>> = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const pool = injected.pool ?? createPool(config.databaseUrl);
  const redis = injected.redis ?? createRedis(config.redisUrl);
  app.decorate('deps', { pool, redis, config });
  app.addHook('onClose', async () => {
    if (!injected.pool) await pool.end();
    if (!injected.redis) redis.disconnect();
  });

  // One error handler: coded errors keep their status; anything ≥ 500 hides its details.
  app.setErrorHandler((err, req, reply) => {
    if (isSkypatrolError(err)) {
      const status = err.status;
      if (status >= 500) req.log.error({ err }, err.message);
      return reply
        .status(status)
        .send({ code: err.code, message: status >= 500 ? 'internal error' : err.message });
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation) return reply.status(400).send({ code: 'VALIDATION', message: e.message });
    const status = e.statusCode && e.statusCode < 500 ? e.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'unhandled error');
    return reply.status(status).send({
      code: status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST',
      message: status >= 500 ? 'internal error' : e.message,
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Skypatrol API (天巡)',
        description:
          'Satellite patrols for public-interest prosecutors: clues, scenes, patrols, OGC API – Features.',
        version: '0.1.0',
      },
      tags: [
        { name: 'system', description: 'Health and metadata' },
        { name: 'clues', description: '线索 Clues found on satellite imagery' },
        { name: 'scenes', description: '影像 Satellite scenes in the catalog' },
        { name: 'tiles', description: '瓦片 Vector and imagery tiles' },
        { name: 'ogc', description: 'OGC API – Features (QGIS, GDAL)' },
        { name: 'patrols', description: '巡查 Patrol runs on the queue' },
        { name: 'zones', description: '区划 Zoning layers and counties' },
      ],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes);
  await app.register(clueRoutes);
  await app.register(detectorRoutes);
  await app.register(sceneRoutes);
  await app.register(tilesExportsStatsPlugin);
  await app.register(ogcRoutes, { prefix: '/ogc' });
  await app.register(reviewPlugin);
  await app.register(patrolRoutes);
  await app.register(packetRoutes);
  await app.register(notificationRoutes);
  await app.register(webSupportRoutes);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const webDir = resolve(config.webDir);
  if (existsSync(resolve(webDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: webDir, prefix: '/', index: ['index.html'], wildcard: false });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/plain; charset=utf-8')
        .send(`web app not built: run "npm run build:web" (looked in ${webDir})`),
    );
  }
  return app;
}
