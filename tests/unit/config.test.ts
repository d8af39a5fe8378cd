import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INSTALL_ROOT, loadConfig } from '../../services/core/config.ts';
import { SkypatrolError } from '../../services/core/errors.ts';

function configError(env: Record<string, string | undefined>): SkypatrolError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof SkypatrolError) return err;
    throw err;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/skypatrol',
      redisUrl: 'redis://127.0.0.1:6379',
      port: 8080,
      host: '127.0.0.1',
      logLevel: 'info',
      queuePrefix: 'skypatrol',
      detectorsDir: join(INSTALL_ROOT, 'detectors'),
      workerConcurrency: 1,
      onnxThreads: 0,
      webDir: join(INSTALL_ROOT, 'web/dist'),
      sharedDataDir: join(INSTALL_ROOT, '../shared/data'),
      requireLogin: false,
      jobLockMs: 30_000,
      reconcileMs: 30_000,
      maxTiles: 20_000,
      zoneGate: true,
      publicUrl: 'http://localhost:8080',
      webhookAllowNets: [],
    });
    // Wherever the command runs from, the defaults name this installation's folders.
    expect(existsSync(join(loadConfig({}).detectorsDir, 'mine', 'manifest.json'))).toBe(true);
  });

  it('runs the zone gate unless SKYPATROL_ZONE_GATE=off, and refuses other values', () => {
    expect(loadConfig({ SKYPATROL_ZONE_GATE: 'off' }).zoneGate).toBe(false);
    expect(loadConfig({ SKYPATROL_ZONE_GATE: 'on' }).zoneGate).toBe(true);
    expect(() => loadConfig({ SKYPATROL_ZONE_GATE: 'maybe' })).toThrow(/SKYPATROL_ZONE_GATE/);
  });

  it('reads the webhook allow-list (IP networks, comma-separated) and refuses anything else', () => {
    expect(
      loadConfig({ SKYPATROL_WEBHOOK_ALLOW_NETS: '127.0.0.0/8, 10.20.0.0/16,::1,fd00::/8' }).webhookAllowNets,
    ).toEqual(['127.0.0.0/8', '10.20.0.0/16', '::1', 'fd00::/8']);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', 'example.com/8'])
      expect(() => loadConfig({ SKYPATROL_WEBHOOK_ALLOW_NETS: bad })).toThrow(/SKYPATROL_WEBHOOK_ALLOW_NETS/);
  });

  it('requires login by default in production, and as SKYPATROL_REQUIRE_LOGIN says otherwise', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).requireLogin).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', SKYPATROL_REQUIRE_LOGIN: 'false' }).requireLogin).toBe(false);
    expect(loadConfig({ SKYPATROL_REQUIRE_LOGIN: 'true' }).requireLogin).toBe(true);
    expect(() => loadConfig({ SKYPATROL_REQUIRE_LOGIN: 'yes' })).toThrow(/SKYPATROL_REQUIRE_LOGIN/);
  });

  it('treats empty strings as unset', () => {
    const c = loadConfig({ DATABASE_URL: '', REDIS_URL: '', SKYPATROL_PORT: '', SKYPATROL_LOG_LEVEL: '' });
    expect(c.databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/skypatrol');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.port).toBe(8080);
    expect(c.logLevel).toBe('info');
  });

  it('reads values from the environment and coerces numbers', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://u:p@db:5433/x',
      REDIS_URL: 'rediss://cache:6380',
      SKYPATROL_PORT: '9090',
      SKYPATROL_WORKER_CONCURRENCY: '4',
    });
    expect(c).toMatchObject({
      databaseUrl: 'postgresql://u:p@db:5433/x',
      redisUrl: 'rediss://cache:6380',
      port: 9090,
      workerConcurrency: 4,
    });
  });

  it('ignores unrelated environment keys', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root' }).port).toBe(8080);
  });

  it.each(['0', '65536', 'abc', '80.5'])(
    'rejects SKYPATROL_PORT=%s with CONFIG_INVALID naming the key',
    (port) => {
      const err = configError({ SKYPATROL_PORT: port });
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message).toContain('SKYPATROL_PORT');
    },
  );

  it('rejects a DATABASE_URL with a non-postgres scheme, naming the key', () => {
    const err = configError({ DATABASE_URL: 'mysql://root@127.0.0.1:3306/skypatrol' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('DATABASE_URL');
    expect(err.message).toContain('postgres://');
  });

  it('rejects a DATABASE_URL that is not a URL, naming the key', () => {
    const err = configError({ DATABASE_URL: 'not a url' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('DATABASE_URL');
  });

  it('rejects a REDIS_URL with a non-redis scheme, naming the key', () => {
    const err = configError({ REDIS_URL: 'http://127.0.0.1:6379' });
    expect(err.message).toContain('REDIS_URL');
  });

  it('names every bad key in one error', () => {
    const err = configError({
      SKYPATROL_PORT: '0',
      SKYPATROL_LOG_LEVEL: 'loud',
      SKYPATROL_QUEUE_PREFIX: 'a b',
    });
    expect(err.message).toContain('SKYPATROL_PORT');
    expect(err.message).toContain('SKYPATROL_LOG_LEVEL');
    expect(err.message).toContain('SKYPATROL_QUEUE_PREFIX');
  });

  it('maps CONFIG_INVALID to HTTP 500', () => {
    expect(configError({ SKYPATROL_PORT: '0' }).status).toBe(500);
  });
});
