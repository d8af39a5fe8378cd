import { rename, writeFile } from 'node:fs/promises';
import { loadDetector } from '../../../adapters/files/detector-registry.ts';
import { createPool } from '../../../adapters/postgis/pool.ts';
import type { Config } from '../../../core/config.ts';
import { detectPair } from '../../../usecases/detect-pair.ts';
import { storeDetection } from '../../../usecases/store-detection.ts';

export interface DetectOptions {
  before: string;
  after: string;
  detector: string;
  out?: string;
  store?: boolean;
  threshold?: number;
  minArea?: number;
}

export async function detectCommand(config: Config, opts: DetectOptions): Promise<void> {
  const detector = await loadDetector(config.detectorsDir, opts.detector, config.onnxThreads);
  try {
    const result = await detectPair({
      before: opts.before,
      after: opts.after,
      detector,
      ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
      ...(opts.minArea !== undefined ? { minAreaM2: opts.minArea } : {}),
    });
    let ids: number[] = [];
    if (opts.store) {
      const pool = createPool(config.databaseUrl, 2);
      try {
        ids = await storeDetection(pool, result, 'cli');
      } finally {
        await pool.end();
      }
    }
    if (opts.out) {
      const fc = {
        type: 'FeatureCollection',
        features: result.features.map((f, i) => (ids[i] ? { ...f, id: ids[i] } : f)),
      };
      // Write beside the target and rename, so a failure never leaves a half-written file.
      const tmp = `${opts.out}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(fc)}\n`);
      await rename(tmp, opts.out);
    }
    const s = result.stats;
    const area = result.features.reduce((a, f) => a + f.properties.area_m2, 0);
    console.log(
      `${result.features.length} polygons (${(area / 10000).toFixed(2)} ha) from ${s.width}×${s.height} px, ` +
        `${s.validPixels} observed, ${(s.elapsedMs / 1000).toFixed(1)} s` +
        (opts.out ? ` → ${opts.out}` : '') +
        (opts.store ? `; stored as clues ${ids.length ? `${ids[0]}–${ids.at(-1)}` : '(none)'}` : ''),
    );
  } finally {
    await detector.runner.release();
  }
}
