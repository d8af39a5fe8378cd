import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadDetector } from '../../services/adapters/files/detector-registry.ts';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { detectPair } from '../../services/usecases/detect-pair.ts';
import { storeDetection } from '../../services/usecases/store-detection.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';
import { describeShared, HAS_SHARED, oscd } from '../support/shared-data.ts';

/** Scene catalog entries written by a stored detection, rendered as map overlays. */
let db: TestDatabase;
let app: FastifyInstance;
let afterId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await build(
    loadConfig({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), SKYPATROL_LOG_LEVEL: 'silent' }),
  );
  if (!HAS_SHARED) return;
  const detector = await loadDetector('detectors', 'change', 1);
  try {
    const result = await detectPair({
      before: oscd('bercy', 'imgs_1'),
      after: oscd('bercy', 'imgs_2'),
      detector,
    });
    await storeDetection(db.pool, result, 'test');
    afterId = result.pair.after.scene.id;
  } finally {
    await detector.runner.release();
  }
});
afterAll(async () => {
  await app.close();
  await db.drop();
});

describeShared('scenes', () => {
  it('lists both scenes of a stored detection with an EPSG:4326 bbox and asset hashes', async () => {
    const r = await app.inject('/scenes');
    expect(r.statusCode).toBe(200);
    const { scenes } = r.json();
    expect(scenes).toHaveLength(2);
    const [w, s, e, n] = scenes[1].bbox;
    expect(w).toBeLessThan(e);
    expect(s).toBeLessThan(n);
    expect(w).toBeCloseTo(2.359, 2);
    const assets = await db.pool.query('SELECT assets FROM scenes WHERE id = $1', [afterId]);
    expect(assets.rows[0].assets.red.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  for (const mode of ['true-color', 'false-color']) {
    it(`renders a ${mode} preview PNG that is not blank, with an ETag honoured by If-None-Match`, async () => {
      const r = await app.inject(`/scenes/${afterId}/preview.png?mode=${mode}&size=256`);
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('image/png');
      const img = sharp(r.rawPayload);
      const meta = await img.metadata();
      expect(Math.max(meta.width!, meta.height!)).toBe(256);
      const stats = await img.stats();
      for (const ch of stats.channels.slice(0, 3)) expect(ch.stdev).toBeGreaterThan(10);
      const again = await app.inject({
        url: `/scenes/${afterId}/preview.png?mode=${mode}&size=256`,
        headers: { 'if-none-match': r.headers.etag as string },
      });
      expect(again.statusCode).toBe(304);
    });
  }

  it('404s a scene that is not in the catalog and 400s an unknown mode', async () => {
    const r = await app.inject('/scenes/nope/preview.png');
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('NOT_FOUND');
    expect((await app.inject(`/scenes/${afterId}/preview.png?mode=infrared`)).statusCode).toBe(400);
  });
});
