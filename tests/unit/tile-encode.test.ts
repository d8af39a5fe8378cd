import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeTilePng, filterAverage } from '../../services/adapters/image/encode.ts';
import { DecodedBlockCache } from '../../services/adapters/raster/block-cache.ts';
import { NDVI_STOPS, renderPlanes } from '../../services/usecases/render-tile.ts';

function pixels(
  width: number,
  height: number,
  channels: number,
  seed: number,
  kind: 'noise' | 'flat' | 'ramp',
) {
  const out = new Uint8Array(width * height * channels);
  let a = seed;
  for (let i = 0; i < out.length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const px = Math.floor(i / channels);
    out[i] =
      kind === 'noise'
        ? a >>> 24
        : kind === 'flat'
          ? 77
          : ((px % width) * 3 + Math.floor(px / width) * 5 + i) & 255;
  }
  if (channels === 4) for (let i = 3; i < out.length; i += 8) out[i] = 0; // some transparent
  return out;
}

describe('encodeTilePng', () => {
  for (const channels of [3, 4] as const) {
    for (const kind of ['noise', 'flat', 'ramp'] as const) {
      for (const [w, h] of [
        [256, 256],
        [1, 1],
        [5, 3],
      ] as const) {
        it(`decodes to the same ${w}×${h} ${channels === 3 ? 'RGB' : 'RGBA'} pixels (${kind})`, async () => {
          const px = pixels(w, h, channels, w * 7 + h + channels, kind);
          const png = await encodeTilePng(px, w, h, channels);
          const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
          expect([info.width, info.height, info.channels]).toEqual([w, h, channels]);
          expect(Buffer.from(data).equals(Buffer.from(px))).toBe(true);
        });
      }
    }
  }

  it('undoes to the input: Average filter rows, as a PNG decoder reverses them', () => {
    const w = 7;
    const h = 4;
    const c = 3;
    const px = pixels(w, h, c, 3, 'noise');
    const f = filterAverage(px, w, h, c);
    const back = new Uint8Array(px.length);
    for (let y = 0; y < h; y++) {
      expect(f[y * (w * c + 1)]).toBe(3);
      for (let i = 0; i < w * c; i++) {
        const left = i >= c ? back[y * w * c + i - c]! : 0;
        const up = y > 0 ? back[(y - 1) * w * c + i]! : 0;
        back[y * w * c + i] = (f[y * (w * c + 1) + 1 + i]! + ((left + up) >> 1)) & 255;
      }
    }
    expect(back).toEqual(px);
  });

  it('is within a few per cent of sharp at level 6 with adaptive filters on field-like imagery', async () => {
    // Parcels of 32 px with 10 % noise, some transparent no-data corner: like a rendered tile.
    const w = 256;
    const px = new Uint8Array(w * w * 4);
    let a = 9;
    for (let i = 0; i < w * w; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      const parcel = (((y >> 5) * 131 + (x >> 5) * 71) % 97) / 97;
      for (let ch = 0; ch < 3; ch++) {
        a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
        px[i * 4 + ch] = Math.round(60 + 120 * parcel + ch * 20 + 25 * (a / 2 ** 32));
      }
      px[i * 4 + 3] = x + y < 60 ? 0 : 255;
      if (x + y < 60) px.fill(0, i * 4, i * 4 + 3);
    }
    const ours = await encodeTilePng(px, w, w, 4);
    const theirs = await sharp(px, { raw: { width: w, height: w, channels: 4 } })
      .png({ compressionLevel: 6, adaptiveFiltering: true, palette: false })
      .toBuffer();
    expect(ours.length).toBeLessThan(theirs.length * 1.1);
  });

  it('rejects a pixel buffer of the wrong size', async () => {
    await expect(encodeTilePng(new Uint8Array(10), 2, 2, 3)).rejects.toThrow(RangeError);
  });
});

describe('DecodedBlockCache', () => {
  const buf = (n: number) => new ArrayBuffer(n);

  it('decodes a block once, shares a decode in flight, and keeps the most recently used within its bound', async () => {
    const cache = new DecodedBlockCache({ maxBytes: 300 });
    let decodes = 0;
    const decode = (n: number) => async () => {
      decodes++;
      await new Promise((r) => setTimeout(r, 5));
      return buf(n);
    };
    const [a1, a2] = await Promise.all([cache.get('a', decode(100)), cache.get('a', decode(100))]);
    expect(a1).toBe(a2);
    expect(decodes).toBe(1);
    await cache.get('b', decode(100));
    await cache.get('c', decode(100));
    expect(await cache.get('a', decode(100))).toBe(a1); // hit; now most recent
    await cache.get('d', decode(100)); // evicts b, the least recently used
    expect(decodes).toBe(4);
    expect(cache.stats()).toMatchObject({ entries: 3, bytes: 300 });
    await cache.get('b', decode(100));
    expect(decodes).toBe(5);
    await cache.get('a', decode(100));
    expect(decodes).toBe(5); // still there: b's return evicted c (a, d, b remain)
    await cache.get('c', decode(100));
    expect(decodes).toBe(6);
  });

  it('does not keep failures or blocks larger than the bound', async () => {
    const cache = new DecodedBlockCache({ maxBytes: 50 });
    await expect(cache.get('x', async () => Promise.reject(new Error('bad block')))).rejects.toThrow(
      'bad block',
    );
    let calls = 0;
    await cache.get('x', async () => {
      calls++;
      return buf(10);
    });
    expect(calls).toBe(1);
    await cache.get('big', async () => buf(100));
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 10 });
    cache.clear();
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 0, misses: 0 });
  });
});

describe('NDVI colours', () => {
  // render-tile.ts's ramp, interpolated exactly per pixel (what its table approximates).
  const STOPS = NDVI_STOPS;
  function exact(v: number): readonly number[] {
    if (v <= STOPS[0]![0]) return STOPS[0]![1];
    for (let i = 1; i < STOPS.length; i++) {
      const [b, cb] = STOPS[i]!;
      const [a, ca] = STOPS[i - 1]!;
      if (v <= b) return ca.map((c, k) => Math.round(c + ((v - a) / (b - a)) * (cb[k]! - c)));
    }
    return STOPS[STOPS.length - 1]![1];
  }

  it('follow the ramp within one level, and exactly at its stops and beyond its ends', () => {
    // 65,536 pixels: NDVI from -1 to 1 through (nir − red) / (nir + red), reflectances in (0, 1).
    const n = 256 * 256;
    const nir = new Float32Array(n);
    const red = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const ndvi = -1 + (2 * i) / (n - 1);
      red[i] = 0.2;
      nir[i] = (0.2 * (1 + ndvi)) / (1 - ndvi + 1e-9);
    }
    // The stops themselves, in the first pixels.
    STOPS.forEach(([at], k) => {
      nir[1 + k] = 0.2 * ((1 + at) / (1 - at));
    });
    const rgba = renderPlanes([nir, red], 'ndvi');
    let off = 0;
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.fround(nir[i]!);
      const b = Math.fround(red[i]!);
      const want = exact((a - b) / (a + b));
      for (let k = 0; k < 3; k++) {
        const d = Math.abs(rgba[4 * i + k]! - want[k]!);
        worst = Math.max(worst, d);
        if (d > 0) off++;
      }
      expect(rgba[4 * i + 3]).toBe(255);
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(off / (3 * n)).toBeLessThan(0.02); // one level off only next to a rounding boundary
    STOPS.forEach(([, colour], k) => {
      expect([...rgba.subarray(4 * (1 + k), 4 * (1 + k) + 3)]).toEqual(colour);
    });
    // Beyond the ends: the end colours.
    expect([...rgba.subarray(0, 3)]).toEqual(STOPS[0]![1]);
    expect([...rgba.subarray(4 * (n - 1), 4 * (n - 1) + 3)]).toEqual(STOPS[STOPS.length - 1]![1]);
  });

  it('leave no-data pixels transparent', () => {
    const nir = Float32Array.from([0.5, Number.NaN, 0.3, 0.4]);
    const red = Float32Array.from([0.1, 0.1, Number.NaN, 0.1]);
    const rgba = renderPlanes([nir, red], 'ndvi');
    expect([rgba[3], rgba[7], rgba[11], rgba[15]]).toEqual([255, 0, 0, 255]);
  });
});
