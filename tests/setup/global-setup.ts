import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../services/adapters/postgis/migrate.ts';
import { testDatabaseBase, testRedisUrl } from '../support/env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabaseUrl: string;
    testRunId: number;
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
  // Names carry this run's pid, so two test runs on one machine never touch each other's
  // databases; leftovers of runs whose process is gone are dropped.
  const runId = process.pid;
  const template = `${new URL(base).pathname.slice(1)}_tpl_${runId}`;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const existing = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname ~ '^skypatrol_t_[0-9]+_' OR datname ~ '_tpl_[0-9]+$'",
  );
  for (const { datname } of existing.rows) {
    const pid = Number(/^skypatrol_t_(\d+)_/.exec(datname)?.[1] ?? /_tpl_(\d+)$/.exec(datname)?.[1]);
    if (pid === runId || !alive(pid)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
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
  project.provide('testRunId', runId);
  return async () => {
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await c.end();
  };
}
