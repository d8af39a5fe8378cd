import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeTilePng, filterAverage } from '../../services/adapters/image/encode.ts';
import { DecodedBlockCache } from '../../services/adapters/raster/block-cache.ts';

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
