/**
 * `npm run bench`: planning a very large patrol — every analysis tile stored in PostGIS and
 * queued on BullMQ — with the memory it takes (RSS and heap sampled every 20 ms) and the time.
 * Written to docs/benchmarks-patrol-enqueue.md.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { ensureDatabase, migrate } from '../../services/adapters/postgis/migrate.ts';
import { createPool } from '../../services/adapters/postgis/pool.ts';
import { patrolQueue } from '../../services/adapters/redis/patrol-queue.ts';
import { loadConfig } from '../../services/core/config.ts';
import { cancelPatrol, planPatrol } from '../../services/usecases/patrol.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DB_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/skypatrol_bench_enqueue';

const adminUrl = new URL(DB_URL);
adminUrl.pathname = '/postgres';
const admin = new pg.Client({ connectionString: adminUrl.toString() });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS "${new URL(DB_URL).pathname.slice(1)}" WITH (FORCE)`);
await admin.end();
await ensureDatabase(DB_URL);
await migrate(DB_URL);
const pool = createPool(DB_URL, 4);
const config = { ...loadConfig({}), databaseUrl: DB_URL, queuePrefix: `sp-bench-enqueue-${process.pid}` };
const queue = patrolQueue(config);
await queue.waitUntilReady();

const mib = (b: number) => b / 2 ** 20;
global.gc?.();
const base = process.memoryUsage();
let peakRss = base.rss;
let peakHeap = base.heapUsed;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 20);

// Roughly the whole of Inner Mongolia's east and beyond: three UTM zones.
const aoi = {
  type: 'Polygon',
  coordinates: [
    [
      [111, 40],
      [125.5, 40],
      [125.5, 49.6],
      [111, 49.6],
      [111, 40],
    ],
  ],
};
const t0 = performance.now();
const run = await planPatrol(
  { pool, queue, detectorsDir: join(ROOT, 'detectors'), maxTiles: 20_000 },
  {
    aoi,
    before: { from: '2024-06-01', to: '2024-06-30' },
    after: { from: '2025-06-01', to: '2025-08-31' },
    scenarios: ['change'],
    actor: 'bench',
  },
);
const planS = (performance.now() - t0) / 1000;
const waiting = await queue.getWaitingCount();
const t1 = performance.now();
await cancelPatrol(pool, queue, run.id);
const cancelS = (performance.now() - t1) / 1000;
clearInterval(sampler);
await queue.obliterate({ force: true });
await queue.close();
await pool.end();

const lines = [
  '# Planning a large patrol (issue 6)',
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${new Date().toISOString().slice(0, 10)}.`,
  `An AOI of 111–125.5°E × 40–49.6°N (three UTM zones): ${run.tilesTotal.toLocaleString('en-US')} analysis tiles`,
  `(≈ ${Math.round(run.tilesTotal * 104.86).toLocaleString('en-US')} km²) stored in PostGIS in batches of 1,000 and queued on BullMQ in`,
  `batches of 500 (${waiting.toLocaleString('en-US')} jobs waiting afterwards), then cancelled (waiting jobs removed by id).`,
  '',
  '| plan + enqueue s | cancel s | RSS before MiB | peak RSS MiB | heap before MiB | peak heap MiB |',
  '|---:|---:|---:|---:|---:|---:|',
  `| ${planS.toFixed(1)} | ${cancelS.toFixed(1)} | ${mib(base.rss).toFixed(0)} | ${mib(peakRss).toFixed(0)} | ${mib(base.heapUsed).toFixed(0)} | ${mib(peakHeap).toFixed(0)} |`,
  '',
];
await writeFile(join(ROOT, 'docs/benchmarks-patrol-enqueue.md'), lines.join('\n'));
console.log(lines.join('\n'));
const drop = new pg.Client({ connectionString: adminUrl.toString() });
await drop.connect();
await drop.query(`DROP DATABASE IF EXISTS "${new URL(DB_URL).pathname.slice(1)}" WITH (FORCE)`);
await drop.end();
process.exit(0);
