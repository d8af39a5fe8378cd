import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { testRedisUrl } from './env.ts';

/** The real API app on a test database and pool (the caller owns and ends the pool). */
export async function buildTestApp(dbUrl: string, pool: pg.Pool): Promise<FastifyInstance> {
  return build(
    loadConfig({ DATABASE_URL: dbUrl, REDIS_URL: testRedisUrl(), SKYPATROL_LOG_LEVEL: 'silent' }),
    { pool },
  );
}
