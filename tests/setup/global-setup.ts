import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../services/adapters/postgis/migrate.ts';
import { testDatabaseBase, testRedisUrl } from '../support/env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
  }
}

/**
 * Once per test run: check that PostgreSQL (with PostGIS) and Redis answer — fail loudly,
 * never skip — then build a freshly migrated template database. Each test file clones it
 * (CREATE DATABASE … TEMPLATE) so files never share rows; the demo database is never touched.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const base = testDatabaseBase();
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `tests need PostgreSQL at ${admin.host} (run "npm test", which sets it up): ${(err as Error).message}`,
    );
  }
  const template = `${new URL(base).pathname.slice(1)}_template`;
  // Leftovers of an interrupted run: drop clones older than this run.
  const stale = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'skypatrol_t_%'",
  );
  for (const r of stale.rows) await client.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
  await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  await client.end();

  const templateUrl = new URL(base);
  templateUrl.pathname = `/${template}`;
  await migrate(templateUrl.toString());

  const redis = new Redis(testRedisUrl(), {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(
      `tests need Redis at ${testRedisUrl()} (run "npm test", which sets it up): ${(err as Error).message}`,
    );
  } finally {
    redis.disconnect();
  }
  project.provide('templateDatabaseUrl', templateUrl.toString());
  return async () => {
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await c.end();
  };
}
