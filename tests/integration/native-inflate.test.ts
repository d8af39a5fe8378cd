import { Worker } from 'node:worker_threads';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { asyncDeflateDecoder } from '../../services/adapters/raster/async-decoder.ts';
import { NativeDeflateDecoder } from '../../services/adapters/raster/decoders.ts';
import { nativeInflate, nativeInflateStatus } from '../../services/adapters/raster/native-inflate.ts';

// The libdeflate addon (services/adapters/raster/native, built by scripts/build-native.sh from
// setup.sh). Outside CI a checkout without it skips these tests, saying why; under CI=true the
// set-up must have built it: it is what the tile and patrol benchmarks measure.
const describeNative: typeof describe =
  nativeInflate || process.env.CI === 'true' ? describe : (describe.skip as unknown as typeof describe);

function sample(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let a = seed;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    b[i] = (i >> 9) % 7 === 0 ? 0 : ((i * 3) & 0xf0) | (a >>> 28); // runs and noise
  }
  return b;
}

describeNative(`native inflate (${nativeInflateStatus})`, () => {
  it('is loaded', () => {
    expect(nativeInflateStatus).toBe('libdeflate');
  });

  it('inflates what zlib deflated, on the thread pool and on the calling thread', async () => {
    for (const [seed, n, level] of [
      [1, 524_288, 6],
      [2, 1_000, 1],
      [3, 131_072, 9],
      [4, 0, 6],
    ] as const) {
      const raw = sample(seed, n);
      const z = deflateSync(raw, { level });
      const a = new Uint8Array(n + 16);
      const b = new Uint8Array(n + 16);
      expect(await nativeInflate!.inflate(z, a)).toBe(n);
      expect(nativeInflate!.inflateSync(z, b)).toBe(n);
      expect(Buffer.from(a.subarray(0, n)).equals(raw)).toBe(true);
      expect(Buffer.from(b.subarray(0, n)).equals(raw)).toBe(true);
    }
  });

  it('refuses truncated or corrupt streams, short outputs and wrong arguments with clear errors', async () => {
    const raw = sample(5, 65_536);
    const z = deflateSync(raw);
    const out = new Uint8Array(raw.length);
    await expect(nativeInflate!.inflate(z.subarray(0, z.length >> 1), out)).rejects.toThrow(
      'deflate: invalid or truncated data',
    );
    const flipped = Buffer.from(z);
    flipped[flipped.length - 1]! ^= 0xff; // Adler-32 checksum
    expect(() => nativeInflate!.inflateSync(flipped, out)).toThrow('deflate: invalid or truncated data');
    expect(() => nativeInflate!.inflateSync(z, new Uint8Array(100))).toThrow(
      'deflate: output larger than 100 bytes',
    );
    expect(() => nativeInflate!.inflateSync('x' as unknown as Uint8Array, out)).toThrow(TypeError);
    expect(() => nativeInflate!.inflateSync(z, new Float32Array(4) as unknown as Uint8Array)).toThrow(
      'output must be a Uint8Array',
    );
  });

  it('loads and inflates in a worker thread too (patrol and decode workers)', async () => {
    const raw = sample(6, 200_000);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = require(workerData.addon);
      const out = new Uint8Array(workerData.n);
      m.inflate(workerData.z, out).then((n) => parentPort.postMessage({ n, out }));`;
    const addon = new URL('../../services/adapters/raster/native/build/inflate.node', import.meta.url)
      .pathname;
    const got = await new Promise<{ n: number; out: Uint8Array }>((ok, fail) => {
      const w = new Worker(code, { eval: true, workerData: { addon, z: deflateSync(raw), n: raw.length } });
      w.once('message', (m) => {
        ok(m);
        void w.terminate();
      });
      w.once('error', fail);
    });
    expect(got.n).toBe(raw.length);
    expect(Buffer.from(got.out).equals(raw)).toBe(true);
  });

  it('decodes COG blocks through both block decoders exactly as zlib does', async () => {
    // A 512 × 512 uint16 block with predictor 2, as GDAL writes them.
    const fd = {
      Compression: 8,
      Predictor: 2,
      TileWidth: 512,
      TileLength: 512,
      ImageWidth: 2048,
      ImageLength: 2048,
      BitsPerSample: [16],
      SampleFormat: [1],
      SamplesPerPixel: 1,
      PlanarConfiguration: 1,
    };
    const values = new Uint16Array(512 * 512);
    let a = 11;
    for (let i = 0; i < values.length; i++) {
      a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
      values[i] = 400 + ((i % 512) >> 3) * 9 + (a >>> 22);
    }
    const diffs = new Uint16Array(values);
    for (let r = 0; r < 512; r++)
      for (let c = 511; c > 0; c--)
        diffs[r * 512 + c] = (values[r * 512 + c]! - values[r * 512 + c - 1]!) & 0xffff;
    const z = deflateSync(Buffer.from(diffs.buffer));
    const asBuffer = () => z.buffer.slice(z.byteOffset, z.byteOffset + z.byteLength) as ArrayBuffer;
    const viaPool = new Uint16Array(await asyncDeflateDecoder.decode(fd, asBuffer()));
    const viaSync = new Uint16Array(await new NativeDeflateDecoder().decode(fd, asBuffer()));
    expect(Buffer.from(viaPool.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    expect(Buffer.from(viaSync.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    // A block longer than its tags say (here: tagged 256 rows, holding 512) does not fit the
    // buffer libdeflate is given; zlib decodes it instead, as before the addon.
    const short = { ...fd, TileLength: 256 };
    for (const got of [
      await asyncDeflateDecoder.decode(short, asBuffer()),
      await new NativeDeflateDecoder().decode(short, asBuffer()),
    ]) {
      expect(got.byteLength).toBeGreaterThanOrEqual(512 * 512 * 2);
      expect(Buffer.from(got, 0, 256 * 512 * 2).equals(Buffer.from(values.buffer, 0, 256 * 512 * 2))).toBe(
        true,
      );
    }
  });
});
