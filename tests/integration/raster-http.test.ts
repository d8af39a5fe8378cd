import { statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { BlockCache } from '../../services/adapters/raster/block-cache.ts';
import { openRaster, type RasterSource, type WindowRead } from '../../services/adapters/raster/source.ts';
import { isSkypatrolError } from '../../services/core/errors.ts';
import { type RangeServer, startRangeServer } from '../support/range-server.ts';
import { describeShared, SHARED_DATA } from '../support/shared-data.ts';

/**
 * COG reads over HTTP range requests from a local server that can fail on purpose: same
 * values as local reads, few bytes moved, the block cache, and each failure's error code.
 */

const WORLDCOVER = 'real/esa-worldcover-2021-N00E006.tif';
const LANDSAT = 'real/landsat7-rgb-byte-utm18n.tif';
const LAND: [number, number, number, number] = [5300, 32368, 6324, 33392];

let server: RangeServer;
beforeAll(async () => {
  server = await startRangeServer(SHARED_DATA);
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => server?.reset());

async function read(href: string, window: [number, number, number, number], opts = {}): Promise<WindowRead> {
  const s = await openRaster(href, opts);
  try {
    return await s.readWindow({ window });
  } finally {
    await s.close();
  }
}

function expectSameValues(a: WindowRead, b: WindowRead) {
  expect([a.width, a.height, a.data.length]).toEqual([b.width, b.height, b.data.length]);
  a.data.forEach((band, i) => {
    // Byte equality of float32 also compares NaN (nodata) positions.
    expect(Buffer.from(band.buffer).equals(Buffer.from(b.data[i]!.buffer))).toBe(true);
  });
}

async function failure(p: Promise<unknown>) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isSkypatrolError(err), `expected a SkypatrolError, got ${String(err)}`).toBe(true);
  return err as Error & { code: string; retryable: boolean };
}

describeShared('raster source over HTTP range requests', () => {
  it('window reads equal local reads (tiled deflate COG and stripped 3-band file)', async () => {
    const cache = new BlockCache();
    for (const [file, win] of [
      [WORLDCOVER, LAND],
      [LANDSAT, [20, 30, 791, 700]],
    ] as const) {
      const remote = await read(`${server.url}/${file}`, [...win], { cache });
      const local = await read(join(SHARED_DATA, file), [...win]);
      expectSameValues(remote, local);
    }
    expect(server.log.every((r) => r.status === 206 && r.range !== undefined)).toBe(true);
  });

  it('a small window of a big tiled file moves a small fraction of its bytes', async () => {
    const size = statSync(join(SHARED_DATA, WORLDCOVER)).size;
    const r = await read(`${server.url}/${WORLDCOVER}`, [6144, 32768, 6400, 33024], {
      cache: new BlockCache(),
    });
    expect(r.data[0]!.some((v) => v > 0)).toBe(true);
    expect(server.bytes).toBeLessThan(size * 0.1);
    expect(server.requests).toBeLessThanOrEqual(4);
  });

  it('a second read of the same window is served by the block cache', async () => {
    const cache = new BlockCache();
    const s: RasterSource = await openRaster(`${server.url}/${WORLDCOVER}`, { cache });
    try {
      const first = await s.readWindow({ window: LAND });
      const requests = server.requests;
      const { hits, misses } = cache.stats();
      const second = await s.readWindow({ window: LAND });
      expect(server.requests).toBe(requests);
      expect(cache.stats().misses).toBe(misses);
      expect(cache.stats().hits).toBeGreaterThan(hits);
      expectSameValues(first, second);
    } finally {
      await s.close();
    }
    // Re-opening only revalidates the header block (size, ETag); the tiles come from the cache.
    const before = server.requests;
    await read(`${server.url}/${WORLDCOVER}`, LAND, { cache });
    expect(server.requests - before).toBe(1);
  });

  it('404 is SCENE_NOT_FOUND, naming the URL, without retries', async () => {
    const url = `${server.url}/real/no-such-scene.tif`;
    const err = await failure(openRaster(url, { retries: 3, cache: new BlockCache() }));
    expect(err.code).toBe('SCENE_NOT_FOUND');
    expect(err.message).toContain(url);
    expect(server.requests).toBe(1);
  });

  it('a transient 500 (and 503 during a read) is retried and succeeds', async () => {
    server.failNext(1, 500);
    const s = await openRaster(`${server.url}/${WORLDCOVER}`, { retries: 2, cache: new BlockCache() });
    try {
      expect(server.log.map((r) => r.status).slice(0, 2)).toEqual([500, 206]);
      server.failNext(2, 503);
      const r = await s.readWindow({ window: LAND });
      expect(r.data[0]!.some((v) => v > 0)).toBe(true);
      expect(server.log.filter((r) => r.status === 503)).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('5xx beyond the retry budget is SCENE_UNREACHABLE, retryable', async () => {
    server.failNext(10, 502);
    const err = await failure(
      openRaster(`${server.url}/${WORLDCOVER}`, { retries: 1, cache: new BlockCache() }),
    );
    expect(err.code).toBe('SCENE_UNREACHABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('HTTP 502');
    expect(server.requests).toBe(2);
  });

  it('a server that never answers is SCENE_UNREACHABLE after the per-request timeout', async () => {
    server.hang = true;
    const url = `${server.url}/${WORLDCOVER}`;
    const err = await failure(openRaster(url, { timeoutMs: 300, retries: 1, cache: new BlockCache() }));
    expect(err.code).toBe('SCENE_UNREACHABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(url);
    expect(err.message).toContain('300 ms');
    expect(server.requests).toBe(2);
  });

  it('an abort signal cancels a read the server never answers', async () => {
    const s = await openRaster(`${server.url}/${WORLDCOVER}`, { cache: new BlockCache() });
    try {
      server.hang = true;
      const controller = new AbortController();
      const pending = s.readWindow({ window: LAND, signal: controller.signal });
      controller.abort();
      const err = await pending.then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.name).toBe('AbortError');
    } finally {
      await s.close();
    }
  });

  it('a refused connection is SCENE_UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', () => ok()));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const err = await failure(openRaster(`http://127.0.0.1:${port}/x.tif`, { retries: 1, timeoutMs: 2000 }));
    expect(err.code).toBe('SCENE_UNREACHABLE');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('a server without Range support still gives the right values', async () => {
    server.ignoreRange = true;
    const remote = await read(`${server.url}/${LANDSAT}`, [0, 0, 400, 300], { cache: new BlockCache() });
    const local = await read(join(SHARED_DATA, LANDSAT), [0, 0, 400, 300]);
    expectSameValues(remote, local);
    expect(server.requests).toBe(1);
  });

  it('credentials and query strings stay out of error messages', async () => {
    server.notFound = true;
    const err = await failure(
      openRaster(`${server.url}/${WORLDCOVER}?X-Amz-Signature=secret`, { retries: 0 }),
    );
    expect(err.code).toBe('SCENE_NOT_FOUND');
    expect(err.message).toContain(`${server.url}/${WORLDCOVER}`);
    expect(err.message).not.toContain('secret');
  });
});
