import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { SkypatrolError } from '../../core/errors.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

/** Create the database named in `databaseUrl` when it does not exist. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) {
    throw new SkypatrolError('CONFIG_INVALID', `database name "${name}" must be letters, digits and _ only`);
  }
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new SkypatrolError(
      'DB_UNAVAILABLE',
      `PostgreSQL at ${url.host} is unreachable: ${(err as Error).message}`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Another process (a parallel set-up) created it first: that is fine.
      if ((err as { code?: string }).code === '42P04') return false;
      throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Bring a database to the newest schema: create it if needed, enable PostGIS, apply the
 * forward-only SQL migrations in `migrations/` (recorded in table `pgmigrations`).
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<string[]> {
  const created = await ensureDatabase(databaseUrl);
  if (created) log(`created database ${new URL(databaseUrl).pathname.slice(1)}`);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS postgis').catch((err: { code?: string }) => {
      // Two set-ups racing: IF NOT EXISTS is not atomic, the loser sees a unique violation.
      if (err.code !== '23505') throw err;
    });
  } catch (err) {
    throw new SkypatrolError(
      'DB_UNAVAILABLE',
      `cannot enable PostGIS (${(err as Error).message}); install postgresql-<version>-postgis-3 (npm run setup does)`,
      { cause: err },
    );
  } finally {
    await client.end();
  }
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    singleTransaction: true,
    log: () => {},
    verbose: false,
  });
  for (const m of applied) log(`applied ${m.name}`);
  return applied.map((m) => m.name);
}
