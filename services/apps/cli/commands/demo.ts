import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { hashPassword } from '../../../adapters/auth/crypto.ts';
import { listDetectorIds, loadDetector } from '../../../adapters/files/detector-registry.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import { createUser } from '../../../adapters/postgis/user-store.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { simulate } from '../../../simulator/simulate.ts';
import { addStac } from '../../../usecases/catalog.ts';
import { detectPair } from '../../../usecases/detect-pair.ts';
import { importZones } from '../../../usecases/import-zones.ts';
import { planPatrol } from '../../../usecases/patrol.ts';
import { storeDetection } from '../../../usecases/store-detection.ts';
import { serveUntilSignal } from '../../api/server.ts';
import { startPatrolWorker } from '../../worker/patrol-worker.ts';
import { followRun } from './patrol.ts';

const BEFORE = { from: '2024-06-01', to: '2024-06-30' };
/** The demo's own admin, created only on a database without users. */
const DEMO_USER = 'demo';
const DEMO_PASSWORD = 'tianxun-demo';
const AFTER = { from: '2025-06-01', to: '2025-08-31' };

/**
 * The self-contained demo: simulate the demo region once (cached in data/demo-region),
 * catalogue its scenes, import its zoning layers, patrol it tile by tile with the change
 * detector, print a summary, serve the map. Needs nothing from ../shared.
 */
async function simulatedDemo(
  config: Config,
  opts: { serve: boolean; size?: string; resimulate?: boolean },
): Promise<void> {
  const started = performance.now();
  const out = resolve('data/demo-region');
  const size = opts.size ?? 'demo';
  const marker = join(out, 'manifest.json');
  let cached = existsSync(marker);
  if (cached) {
    const m = JSON.parse(await readFile(marker, 'utf8')) as { size_km?: unknown };
    const want = size === 'demo' ? 38 : size === 'small' ? 6 : Number(size);
    const have = Number(m.size_km ?? Number.NaN);
    if (Number.isFinite(have) && Number.isFinite(want) && Math.abs(have - want) > 0.5) cached = false;
  }
  if (!cached || opts.resimulate) {
    console.log(`simulating the ${size} region into ${out} (once; later runs reuse it)…`);
    const r = await simulate({ out, size, seed: 1, log: (l) => console.log(`  ${l}`) });
    console.log(
      `  ${r.files.length} files, ${r.scenes.length} scenes, ${r.events} events, ${r.decoys} decoys in ${r.seconds.toFixed(0)} s`,
    );
  } else console.log(`using the simulated region in ${out}`);

  const pool = createPool(config.databaseUrl, 6);
  // The demo patrol goes through the queue like any other: tile jobs on BullMQ, processed by a
  // worker started in this process (more workers may join from other processes).
  const worker = startPatrolWorker(
    { ...config, workerConcurrency: Math.max(config.workerConcurrency, 2) },
    pool,
    {
      log: (l) => {
        if (l.msg === 'tile failed' && l.final) process.stderr.write(`\ntile ${l.tile} failed: ${l.error}\n`);
      },
    },
  );
  try {
    const cat = await addStac(pool, join(out, 'catalog.json'));
    console.log(
      `catalog: ${cat.added.length} scenes${cat.failed.length ? `, ${cat.failed.length} failed` : ''}`,
    );
    for (const f of (await readdir(join(out, 'zoning'))).filter((n) => n.endsWith('.geojson')).sort()) {
      const r = await importZones(pool, {
        file: join(out, 'zoning', f),
        kind: basename(f, '.geojson'),
        replace: true,
      });
      console.log(`zoning: ${r.kind} ${r.features} features${r.repaired ? ` (${r.repaired} repaired)` : ''}`);
    }
    const col = JSON.parse(await readFile(join(out, 'sentinel-2-l2a', 'collection.json'), 'utf8')) as {
      extent: { spatial: { bbox: number[][] } };
    };
    const [w, s, e, n] = col.extent.spatial.bbox[0] as [number, number, number, number];
    const aoi = {
      type: 'Polygon' as const,
      coordinates: [
        [
          [w, s],
          [e, s],
          [e, n],
          [w, n],
          [w, s],
        ],
      ],
    };
    // The workspace needs a sign-in: on a database without users the demo creates one admin.
    const users = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    if (users.rows[0]!.n === 0) {
      await createUser(pool, {
        username: DEMO_USER,
        displayName: '演示管理员 Demo admin',
        passwordHash: await hashPassword(DEMO_PASSWORD),
        role: 'admin',
        counties: [],
      });
      console.log(`user: ${DEMO_USER} (admin) created — demo only, change its password before real use`);
    }
    // Idempotent demo: a re-run patrols again and updates the same clues (seen again).
    const run = await planPatrol(
      { pool, queue: worker.queue, detectorsDir: config.detectorsDir, maxTiles: config.maxTiles },
      {
        name: '演示巡查 demo patrol',
        aoi,
        before: BEFORE,
        after: AFTER,
        sensors: ['sentinel-2-l2a'],
        // The eight scenarios; the general `change` detector flags every strong spectral change
        // (hundreds of clues on this region) and is for analysts to run on request.
        scenarios: (await listDetectorIds(config.detectorsDir)).filter((id) => id !== 'change'),
        actor: 'demo',
      },
    );
    console.log(`patrol run ${run.id}: ${run.tilesTotal} tiles, scenarios ${run.scenarios.join(', ')}`);
    const end = await followRun(pool, run.id);
    const byScenario = await pool.query<{ scenario: string; n: number; ha: number }>(
      `SELECT scenario, count(*)::int AS n, sum(area_ha) AS ha FROM clues
        WHERE last_run_id = $1 AND merged_into IS NULL GROUP BY 1 ORDER BY 1`,
      [run.id],
    );
    console.log(
      `\n  巡查面积 patrolled: ${(end.coveredKm2 ?? 0).toFixed(1)} km² clear-observed in ${end.tilesTotal} tiles (${end.status})`,
    );
    for (const r of byScenario.rows)
      console.log(`  线索 clues (${r.scenario}): ${r.n}, ${Number(r.ha).toFixed(2)} ha`);
    if (end.tilesFailed)
      console.log(`  tiles failed: ${end.tilesFailed} (npx skypatrol patrol resume ${run.id})`);
    console.log(`  elapsed: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  } finally {
    await worker.close();
    await pool.end();
  }
  if (opts.serve) {
    const url = await serveUntilSignal(config);
    console.log(`  sign in as ${DEMO_USER} / ${DEMO_PASSWORD} (created by the demo on an empty database)`);
    console.log(`  天巡 Skypatrol: open ${url.replace('127.0.0.1', 'localhost')}/  (API docs: /docs)\n`);
  }
}

/**
 * The demo until the simulated Hulunbuir region exists: run the change detector on real
 * Sentinel-2 pairs from OSCD, store the polygons as clues (once per city and model), serve
 * the map.
 */
export async function demoCommand(
  config: Config,
  opts: { city: string; serve: boolean; oscd?: boolean; size?: string; resimulate?: boolean },
): Promise<void> {
  if (!opts.oscd) return simulatedDemo(config, opts);
  const started = performance.now();
  const oscd = resolve(config.sharedDataDir, 'oscd');
  const cities = opts.city.split(',').map((c) => c.trim());
  for (const city of cities) {
    if (!existsSync(join(oscd, city, 'imgs_1'))) {
      throw new SkypatrolError(
        'SCENE_NOT_FOUND',
        `demo data ${join(oscd, city)} not found: set SKYPATROL_SHARED_DATA to the folder holding oscd/`,
      );
    }
  }
  const detector = await loadDetector(config.detectorsDir, 'change', config.onnxThreads);
  const pool = createPool(config.databaseUrl, 2);
  try {
    for (const city of cities) {
      const result = await detectPair({
        before: join(oscd, city, 'imgs_1'),
        after: join(oscd, city, 'imgs_2'),
        detector,
      });
      const ids = await storeDetection(
        pool,
        result,
        'demo',
        `demo:${city}:${detector.manifest.model.sha256}`,
      );
      const ha = result.features.reduce((a, f) => a + f.properties.area_ha, 0);
      const km2 = (result.stats.validPixels * 100) / 1e6;
      console.log(
        `${city}: ${km2.toFixed(1)} km² compared, ${result.features.length} clues (${ha.toFixed(2)} ha), ` +
          `ids ${ids.length ? `${ids[0]}–${ids.at(-1)}` : '-'}, ${(result.stats.elapsedMs / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    await detector.runner.release();
    await pool.end();
  }
  console.log(`demo finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (opts.serve) {
    const url = await serveUntilSignal(config);
    console.log(`\n  天巡 Skypatrol: open ${url.replace('127.0.0.1', 'localhost')}/  (API docs: /docs)\n`);
  }
}
