import pg from 'pg';
import { testDatabaseBase } from '../support/env.ts';

/**
 * A database of a benchmark's own (`skypatrol_bench_<name>_<pid>`, created empty, dropped by
 * `drop()`), on the server the tests use.
 */
export async function benchDatabase(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(testDatabaseBase());
  const dbName = `skypatrol_bench_${name}_${process.pid}`;
  const admin = new URL(base);
  admin.pathname = '/postgres';
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  const adminQuery = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await adminQuery(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${dbName}"`);
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`) };
}
