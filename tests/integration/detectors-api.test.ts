import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../services/apps/api/app.ts';
import { loadConfig } from '../../services/core/config.ts';
import { ROOT, runCli } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { testRedisUrl } from '../support/env.ts';

/**
 * The detector catalogue for the analysts' pages (GET /detectors, /detectors/:id,
 * /detectors/:id/versions) and `detectors tune`/`versions` on a copy of the detectors folder.
 */
let db: TestDatabase;
let app: FastifyInstance;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-detectors-'));
  await cp(join(ROOT, 'detectors'), dir, { recursive: true });
  app = await build(
    loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl(),
      SKYPATROL_LOG_LEVEL: 'silent',
      SKYPATROL_DETECTORS_DIR: dir,
    }),
    { pool: db.pool },
  );
}, 60_000);

afterAll(async () => {
  await app?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('detectors API', () => {
  it('lists every detector with names, version, threshold, MMU, zoning rule and accuracy', async () => {
    const res = await app.inject({ method: 'GET', url: '/detectors' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { detectors: Record<string, unknown>[] };
    const ids = body.detectors.map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['change', 'mine', 'temporary-land', 'hulun-lake']));
    const mine = body.detectors.find((d) => d.id === 'mine') as {
      name: { zh: string };
      zoning: { rule: string; layer: string };
      threshold: number;
      minAreaM2: number;
      metrics: { f1: number } | null;
    };
    expect(mine.name.zh).toBe('矿场监督');
    expect(mine.zoning).toMatchObject({ rule: 'after-deadline', layer: 'mining_permit' });
    expect(mine.threshold).toBeGreaterThan(0);
    expect(mine.minAreaM2).toBeGreaterThan(0);
    expect(mine.metrics?.f1).toBeGreaterThanOrEqual(0);
  });

  it('shows one detector with its manifest, PR curve points and versions', async () => {
    const res = await app.inject({ method: 'GET', url: '/detectors/forest-encroachment' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as {
      manifest: { id: string; legalBasis: string[] };
      metrics: { heldOut: { pr: { threshold: number; precision: number; recall: number }[] } };
      versions: { version: string; current: boolean }[];
    };
    expect(body.manifest.id).toBe('forest-encroachment');
    expect(body.manifest.legalBasis.join()).toMatch(/森林法/);
    expect(body.metrics.heldOut.pr.length).toBeGreaterThan(3);
    expect(body.versions.some((v) => v.current)).toBe(true);
  });

  it('answers 404 for an unknown detector and 400 for a malformed id', async () => {
    const unknown = await app.inject({ method: 'GET', url: '/detectors/no-such-thing' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'DETECTOR_UNKNOWN' });
    const bad = await app.inject({ method: 'GET', url: '/detectors/..%2Fetc' });
    expect(bad.statusCode).toBe(400);
  });

  it('tune makes a new version, keeps the old one, and both are listed', async () => {
    const before = (await app.inject({ method: 'GET', url: '/detectors/mine/versions' })).json() as {
      versions: { version: string; current: boolean; threshold: number }[];
    };
    const current = before.versions.find((v) => v.current)!;
    const r = await runCli(['detectors', 'tune', 'mine', '--threshold', '0.77', '--min-area', '1500'], {
      SKYPATROL_DETECTORS_DIR: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    const after = (
      await app.inject({ method: 'GET', url: '/detectors/mine/versions' })
    ).json() as typeof before;
    expect(after.versions.length).toBe(before.versions.length + 1);
    const now = after.versions.find((v) => v.current)!;
    expect(now.version).not.toBe(current.version);
    expect(now.threshold).toBe(0.77);
    expect(after.versions.find((v) => v.version === current.version)?.threshold).toBe(current.threshold);
    expect(await readdir(join(dir, 'mine', 'versions'))).toContain(now.version);
    const cli = await runCli(['detectors', 'versions', 'mine'], { SKYPATROL_DETECTORS_DIR: dir });
    expect(cli.stdout).toContain(now.version);
    expect(cli.stdout).toContain(current.version);
    // Bad input writes nothing.
    const bad = await runCli(['detectors', 'tune', 'mine', '--threshold', '1.5'], {
      SKYPATROL_DETECTORS_DIR: dir,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/threshold/);
    const again = (
      await app.inject({ method: 'GET', url: '/detectors/mine/versions' })
    ).json() as typeof before;
    expect(again.versions.length).toBe(after.versions.length);
  }, 60_000);

  it('tune --fallback-threshold gives the no-SWIR fallback model its own threshold in a new version', async () => {
    type Versions = {
      versions: { version: string; current: boolean; threshold: number; fallbackThreshold: number | null }[];
    };
    const get = async () =>
      (await app.inject({ method: 'GET', url: '/detectors/grassland/versions' })).json() as Versions;
    const before = await get();
    const current = before.versions.find((v) => v.current)!;
    const r = await runCli(['detectors', 'tune', 'grassland', '--fallback-threshold', '0.8'], {
      SKYPATROL_DETECTORS_DIR: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fallback-model threshold 0\.8/);
    const after = await get();
    expect(after.versions.length).toBe(before.versions.length + 1);
    const now = after.versions.find((v) => v.current)!;
    expect(now.version).not.toBe(current.version);
    expect(now.fallbackThreshold).toBe(0.8);
    expect(now.threshold).toBe(current.threshold); // the full model's threshold is unchanged
    const one = (await app.inject({ method: 'GET', url: '/detectors/grassland' })).json() as {
      manifest: { inputs: { fallbackModel: { threshold?: number } } };
    };
    expect(one.manifest.inputs.fallbackModel.threshold).toBe(0.8);
    const bad = await runCli(['detectors', 'tune', 'grassland', '--fallback-threshold', '1'], {
      SKYPATROL_DETECTORS_DIR: dir,
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/fallback threshold/);
    expect((await get()).versions.length).toBe(after.versions.length);
  }, 60_000);
});
