import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDetector } from '../../../adapters/files/detector-registry.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { detectPair } from '../../../usecases/detect-pair.ts';
import { storeDetection } from '../../../usecases/store-detection.ts';
import { serve } from '../../api/server.ts';

/**
 * The demo until the simulated Hulunbuir region exists: run the change detector on real
 * Sentinel-2 pairs from OSCD, store the polygons as clues (once per city and model), serve
 * the map.
 */
export async function demoCommand(config: Config, opts: { city: string; serve: boolean }): Promise<void> {
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
    const server = await serve(config);
    console.log(
      `\n  天巡 Skypatrol: open ${server.url.replace('127.0.0.1', 'localhost')}/  (API docs: /docs)\n`,
    );
    const stop = async () => {
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}
