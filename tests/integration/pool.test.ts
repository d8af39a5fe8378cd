import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../services/adapters/postgis/pool.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** withTransaction when PostgreSQL drops the connection in the middle of a transaction. */

let db: TestDatabase;
let admin: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

describe('withTransaction', () => {
  it('a connection terminated between two queries fails the transaction, not the process; the pool recovers', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const attempt = withTransaction(db.pool, async (client) => {
        await client.query('CREATE TABLE IF NOT EXISTS t_pool (v int)');
        await client.query('INSERT INTO t_pool VALUES (1)');
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Terminated while the transaction waits between two queries (no query in flight).
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
        await sleep(300);
        await client.query('INSERT INTO t_pool VALUES (2)');
      });
      await expect(attempt).rejects.toThrow();
      await sleep(100);
      expect(uncaught).toEqual([]);
      // Nothing of the transaction was kept, and the pool hands out working connections.
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 't_pool'",
      );
      expect(rows[0]!.n).toBe(0);
      await withTransaction(db.pool, async (client) => {
        await client.query('SELECT 1');
      });
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
