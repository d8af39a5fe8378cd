import { Redis } from 'ioredis';

/**
 * ioredis connections. BullMQ workers need `maxRetriesPerRequest: null` so a Redis restart
 * pauses them instead of failing jobs; they reconnect with capped back-off.
 */
export function createRedis(url: string, options: { forWorker?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: options.forWorker ? null : 1,
    enableOfflineQueue: options.forWorker ?? false,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: true,
  });
  redis.on('error', () => {}); // reported through health checks and job failures
  return redis;
}

export async function pingRedis(redis: Redis): Promise<{ ok: boolean; version?: string; error?: string }> {
  try {
    if (redis.status === 'wait') await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    return { ok: true, version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown' };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
