// Tiny service probes for scripts/setup.sh (plain JS so it runs before anything is built).
//   node scripts/probe.mjs pg <url>        exit 0 when the server answers
//   node scripts/probe.mjs postgis <url>   prints yes/no: is the extension installable
//   node scripts/probe.mjs pgmajor <url>   prints the server's major version
//   node scripts/probe.mjs redis <url>     exit 0 on PONG

import { Redis } from 'ioredis';
import pg from 'pg';

const [what, url] = process.argv.slice(2);

/** Connect to the server's maintenance database: the target database may not exist yet. */
async function pgQuery(sql) {
  const u = new URL(url);
  u.pathname = '/postgres';
  const client = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

try {
  if (what === 'pg') {
    await pgQuery('SELECT 1');
  } else if (what === 'postgis') {
    const rows = await pgQuery("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'");
    process.stdout.write(rows.length ? 'yes' : 'no');
  } else if (what === 'pgmajor') {
    const rows = await pgQuery('SHOW server_version_num');
    process.stdout.write(String(Math.floor(Number(rows[0].server_version_num) / 10000)));
  } else if (what === 'redis') {
    const r = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    await r.connect();
    await r.ping();
    r.disconnect();
  } else {
    throw new Error(`unknown probe ${what}`);
  }
  process.exit(0);
} catch (err) {
  process.stderr.write(`${what}: ${err.message}\n`);
  process.exit(1);
}
