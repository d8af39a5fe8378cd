import pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';

// Dates (not timestamps) come back as 'YYYY-MM-DD' strings, never shifted by a time zone.
pg.types.setTypeParser(1082, (v) => v);
// bigint ids fit in a JS number for any realistic count of clues.
pg.types.setTypeParser(20, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(databaseUrl: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection (server restart, pg_terminate_backend) must not
  // crash the process; the pool replaces it on the next checkout.
  pool.on('error', () => {});
  return pool;
}

/** Run `fn` in a transaction; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new SkypatrolError('DB_UNAVAILABLE', `PostgreSQL is unreachable: ${(err as Error).message}`, {
      cause: err,
      retryable: true,
    });
  }
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Round-trip check for /health. */
export async function pingDatabase(
  pool: pg.Pool,
): Promise<{ ok: boolean; postgis?: string; error?: string }> {
  try {
    const { rows } = await pool.query<{ v: string }>('SELECT postgis_lib_version() AS v');
    return { ok: true, postgis: rows[0]!.v };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
