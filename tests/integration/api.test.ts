import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

let db: TestDatabase;
let app: FastifyInstance;

const square = (x: number, y: number, d = 0.001) =>
  JSON.stringify({
    type: 'MultiPolygon',
    coordinates: [
      [
        [
          [x, y],
          [x + d, y],
          [x + d, y + d],
          [x, y + d],
          [x, y],
        ],
      ],
    ],
  });

beforeAll(async () => {
  db = await createTestDatabase();
  // Five clues on a row along 49°N, 119.0–119.4°E, seen on different dates.
  for (let i = 0; i < 5; i++) {
    await db.pool.query(
      `INSERT INTO clues (scenario, confidence, geom, area_m2, first_seen, last_seen, detector, model_version)
       SELECT 'change', $2, g, ST_Area(g::geography), $3, $3, 'change', '0.1.0'
         FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON($1), 4326) AS g) s`,
      [square(119 + i * 0.1, 49), 0.6 + i * 0.05, `2024-0${i + 1}-15`],
    );
  }
  app = await build(
    loadConfig({ DATABASE_URL: db.url, REDIS_URL: testRedisUrl(), SKYPATROL_LOG_LEVEL: 'silent' }),
  );
});
afterAll(async () => {
  await app.close();
  await db.drop();
});

describe('system', () => {
  it('/health reports PostGIS and Redis up', async () => {
    const r = await app.inject('/health');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok', postgis: { ok: true }, redis: { ok: true } });
    expect(r.json().postgis.version).toMatch(/^3\./);
  });

  it('/health is 503 and names the failing service when Redis is unreachable', async () => {
    // Port 1 on loopback: nothing listens there.
    const broken = await build(
      loadConfig({ DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:1', SKYPATROL_LOG_LEVEL: 'silent' }),
    );
    try {
      const r = await broken.inject('/health');
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ status: 'degraded', postgis: { ok: true }, redis: { ok: false } });
    } finally {
      await broken.close();
    }
  });

  it('/openapi.json is a valid OpenAPI 3 document listing the routes', async () => {
    const r = await app.inject('/openapi.json');
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/health', '/clues', '/clues/{id}', '/ogc/collections/{collectionId}/items']),
    );
  });

  it('serves browsable API docs', async () => {
    const r = await app.inject('/docs/');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/html/);
  });

  it('answers unknown routes with a coded 404', async () => {
    const r = await app.inject('/nope');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('clues', () => {
  it('lists clues as GeoJSON with the contract properties', async () => {
    const r = await app.inject('/clues');
    expect(r.statusCode).toBe(200);
    const fc = r.json();
    expect(fc.total).toBe(5);
    for (const f of fc.features) {
      for (const key of [
        'scenario',
        'status',
        'confidence',
        'area_m2',
        'area_mu',
        'first_seen',
        'last_seen',
      ]) {
        expect(f.properties).toHaveProperty(key);
      }
    }
    expect(fc.extent[0]).toBeCloseTo(119, 6);
  });

  it('one clue carries its event history; a missing one is a coded 404', async () => {
    const list = (await app.inject('/clues?limit=1')).json();
    const id = list.features[0].id;
    const r = await app.inject(`/clues/${id}`);
    expect(r.statusCode).toBe(200);
    expect(r.json().properties.events).toEqual([]);
    const missing = await app.inject('/clues/999999');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ code: 'NOT_FOUND', message: 'clue 999999 does not exist' });
  });

  it('rejects ids and offsets beyond the database range with 400, never 500', async () => {
    for (const url of [
      '/clues/1e99',
      '/clues?offset=1e99',
      '/ogc/collections/clues/items/99999999999999999999',
    ]) {
      const r = await app.inject(url);
      expect(r.statusCode).toBe(400);
      expect(r.json().code).toBe('VALIDATION');
    }
  });

  it('rejects a malformed id and bbox with 400', async () => {
    expect((await app.inject('/clues/abc')).statusCode).toBe(400);
    const r = await app.inject('/clues?bbox=1,2,3');
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('VALIDATION');
  });
});

describe('OGC API – Features', () => {
  it('has a landing page, conformance and the clues collection', async () => {
    const landing = (await app.inject('/ogc')).json();
    expect(landing.links.map((l: { rel: string }) => l.rel)).toEqual(
      expect.arrayContaining(['self', 'conformance', 'data', 'service-desc']),
    );
    const conf = (await app.inject('/ogc/conformance')).json();
    expect(conf.conformsTo).toContain('http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core');
    const cols = (await app.inject('/ogc/collections')).json();
    expect(cols.collections.map((c: { id: string }) => c.id)).toEqual(['clues']);
  });

  it('pages items with next/prev links and numberMatched', async () => {
    const r = await app.inject('/ogc/collections/clues/items?limit=2');
    expect(r.headers['content-type']).toMatch(/application\/geo\+json/);
    const page1 = r.json();
    expect(page1).toMatchObject({ type: 'FeatureCollection', numberMatched: 5, numberReturned: 2 });
    const next = page1.links.find((l: { rel: string }) => l.rel === 'next');
    expect(next.href).toContain('offset=2');
    const page3 = (await app.inject('/ogc/collections/clues/items?limit=2&offset=4')).json();
    expect(page3.numberReturned).toBe(1);
    expect(page3.links.some((l: { rel: string }) => l.rel === 'next')).toBe(false);
    expect(page3.links.some((l: { rel: string }) => l.rel === 'prev')).toBe(true);
  });

  it('filters items by bbox and datetime', async () => {
    const inBox = (await app.inject('/ogc/collections/clues/items?bbox=118.95,48.9,119.15,49.1')).json();
    expect(inBox.numberMatched).toBe(2);
    const byDate = (await app.inject('/ogc/collections/clues/items?datetime=2024-03-01/..')).json();
    expect(byDate.numberMatched).toBe(3);
    const instant = (await app.inject('/ogc/collections/clues/items?datetime=2024-02-15')).json();
    expect(instant.numberMatched).toBe(1);
  });

  it('404s an unknown collection and 400s a bad datetime', async () => {
    expect((await app.inject('/ogc/collections/nope/items')).statusCode).toBe(404);
    const r = await app.inject('/ogc/collections/clues/items?datetime=yesterday');
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('VALIDATION');
  });
});
