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
/** PostgreSQL's deadlock_detected and serialization_failure: the transaction may simply be run again. */
const CONFLICT_CODES = new Set(['40P01', '40001']);

/**
 * Runs `fn` in a transaction. With `retryConflicts: n`, a transaction that PostgreSQL aborted
 * for a deadlock or a serialization failure is rolled back and run again, up to n more times
 * (`fn` must then be safe to repeat: it is, when all it does is in the transaction).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { retryConflicts?: number } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await transactionOnce(pool, fn);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= (opts.retryConflicts ?? 0) || !code || !CONFLICT_CODES.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1) * (1 + Math.random())));
    }
  }
}

async function transactionOnce<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new SkypatrolError('DB_UNAVAILABLE', `PostgreSQL is unreachable: ${(err as Error).message}`, {
      cause: err,
      retryable: true,
    });
  }
  // pg-pool drops its idle error listener while a client is checked out: a connection lost
  // between two queries of the transaction (server restart, pg_terminate_backend) would emit an
  // 'error' nobody listens to and crash the process. Keep it instead; the next query fails and
  // the client is destroyed on release rather than returned to the pool.
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(lost);
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
