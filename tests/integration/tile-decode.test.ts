import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncDeflateDecoder } from '../../services/adapters/raster/async-decoder.ts';
import { DecodedBlockCache } from '../../services/adapters/raster/block-cache.ts';
import { openRaster, type ReadWindowOptions } from '../../services/adapters/raster/source.ts';

// The tile path's block decoding (thread-pool inflate, decoded-block cache) against the
// default reader, on COGs GDAL writes with the layouts it commonly uses.
let dir: string;
const SIZE = 1200;

function writeCog(name: string, dtype: 'uint8' | 'uint16' | 'uint32' | 'float32', co: string[]): string {
  const bytes = dtype === 'uint8' ? 1 : dtype === 'uint16' ? 2 : 4;
  const buf = Buffer.alloc(SIZE * SIZE * bytes);
  let a = 5;
  for (let i = 0; i < SIZE * SIZE; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const r = Math.floor(i / SIZE);
    const c = i % SIZE;
    const v = 500 + (((r >> 5) * 37 + (c >> 5) * 11) % 900) + (a >>> 23);
    const nd = r < 20 && c < 20;
    if (dtype === 'uint8') buf.writeUInt8(nd ? 0 : v % 251, i);
    else if (dtype === 'uint16') buf.writeUInt16LE(nd ? 0 : v, i * 2);
    else if (dtype === 'uint32') buf.writeUInt32LE(nd ? 0 : v * 100_003, i * 4);
    else buf.writeFloatLE(nd ? 0 : v / 7, i * 4);
  }
  writeFileSync(join(dir, `${name}.bil`), buf);
  writeFileSync(
    join(dir, `${name}.hdr`),
    `ENVI\nsamples = ${SIZE}\nlines = ${SIZE}\nbands = 1\nheader offset = 0\ndata type = ${{ uint8: 1, uint16: 12, uint32: 13, float32: 4 }[dtype]}\ninterleave = bsq\nbyte order = 0\n`,
  );
  const out = join(dir, `${name}.tif`);
  execFileSync('gdal_translate', [
    '-q',
    '-of',
    'COG',
    '-a_srs',
    'EPSG:32650',
    '-a_ullr',
    '600000',
    '5450000',
    String(600000 + SIZE * 10),
    String(5450000 - SIZE * 10),
    '-a_nodata',
    '0',
    ...co.flatMap((o) => ['-co', o]),
    join(dir, `${name}.bil`),
    out,
  ]);
  return out;
}

const layouts: Record<string, () => string> = {
  'uint16, deflate, predictor 2': () => writeCog('u16p2', 'uint16', ['COMPRESS=DEFLATE', 'PREDICTOR=2']),
  'uint8, deflate, predictor 2': () => writeCog('u8p2', 'uint8', ['COMPRESS=DEFLATE', 'PREDICTOR=2']),
  'uint32, deflate, predictor 2': () => writeCog('u32p2', 'uint32', ['COMPRESS=DEFLATE', 'PREDICTOR=2']),
  'uint16, deflate, 256 px blocks': () => writeCog('u16', 'uint16', ['COMPRESS=DEFLATE', 'BLOCKSIZE=256']),
  'float32, deflate, predictor 3': () => writeCog('f32p3', 'float32', ['COMPRESS=DEFLATE', 'PREDICTOR=3']),
  'uint16, LZW, predictor 2': () => writeCog('lzw', 'uint16', ['COMPRESS=LZW', 'PREDICTOR=2']),
  'uint16, uncompressed': () => writeCog('raw', 'uint16', ['COMPRESS=NONE']),
};
const files: Record<string, string> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'skypatrol-tile-decode-'));
  for (const [k, make] of Object.entries(layouts)) files[k] = make();
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const windows: ReadWindowOptions[] = [
  { window: [0, 0, 300, 300] },
  { window: [490, 500, 830, 1100] },
  { window: [1000, 1000, 1200, 1200] },
  { window: [100, 900, 700, 1150], overview: 1 },
];

describe('tile block decoding', () => {
  for (const layout of Object.keys(layouts)) {
    it(`reads ${layout} exactly as the default decoder, through the decoded-block cache too`, async () => {
      const cache = new DecodedBlockCache();
      const plain = await openRaster(files[layout]!);
      const fast = await openRaster(files[layout]!, { decoder: asyncDeflateDecoder, decodedCache: cache });
      try {
        for (let pass = 0; pass < 2; pass++) {
          for (const w of windows) {
            const want = await plain.readWindow(w);
            const got = await fast.readWindow(w);
            expect(got.window).toEqual(want.window);
            expect(Buffer.from(got.data[0]!.buffer).equals(Buffer.from(want.data[0]!.buffer))).toBe(true);
          }
        }
        const { hits, misses } = cache.stats();
        expect(misses).toBeGreaterThan(0);
        expect(hits).toBeGreaterThanOrEqual(misses); // the second pass is all hits
      } finally {
        await plain.close();
        await fast.close();
      }
    });
  }

  // Predictor 2 of 8- and 16-bit single-band files is undone while a window is copied, only
  // over the rows and columns it reaches (source.ts, predictorInCopy): checked here against
  // geotiff.js's own reader, which undoes it over whole blocks, on windows starting mid-block,
  // spanning blocks, on an overview and at the image's edge, with no data.
  // With `predictorInBlocks` (patrol reads) it is undone over each whole block before the
  // block is cached: the same values.
  for (const [layout, predictorInBlocks] of [
    ['uint16, deflate, predictor 2', false],
    ['uint8, deflate, predictor 2', false],
    ['uint16, LZW, predictor 2', false],
    ['uint16, deflate, predictor 2', true],
    ['uint8, deflate, predictor 2', true],
  ] as const) {
    it(`reads ${layout} as geotiff.js does, summing predictor 2 ${predictorInBlocks ? 'over whole blocks' : 'in the copy'}`, async () => {
      const tiff = await fromFile(files[layout]!);
      const src = await openRaster(files[layout]!, {
        decoder: asyncDeflateDecoder,
        decodedCache: new DecodedBlockCache(),
        predictorInBlocks,
      });
      try {
        const info = src.info;
        let nodata = 0;
        for (const w of [
          ...windows,
          { window: [SIZE - 333, SIZE - 211, SIZE, SIZE] as [number, number, number, number] },
        ]) {
          const image = await tiff.getImage(w.overview ?? 0);
          const got = await src.readWindow(w);
          const want = (await image.readRasters({
            window: got.window,
            interleave: true,
          })) as unknown as ArrayLike<number>;
          expect(got.width * got.height).toBe(want.length);
          let wrong = 0;
          for (let i = 0; i < want.length; i++) {
            const v = want[i]!;
            if (v === info.nodata) nodata++;
            if (!Object.is(got.data[0]![i], v === info.nodata ? Number.NaN : v)) wrong++;
          }
          expect(wrong).toBe(0);
        }
        expect(nodata).toBeGreaterThanOrEqual(400); // the 20 × 20 corner of no data
      } finally {
        await src.close();
      }
    });
  }

  it('shares a decoded block between sources of one file', async () => {
    const cache = new DecodedBlockCache();
    const a = await openRaster(files['uint16, deflate, predictor 2']!, { decodedCache: cache });
    const b = await openRaster(files['uint16, deflate, predictor 2']!, { decodedCache: cache });
    await a.readWindow({ window: [0, 0, 100, 100] });
    await b.readWindow({ window: [0, 0, 100, 100] });
    expect(cache.stats()).toMatchObject({ misses: 1, hits: 1 });
    await a.close();
    await b.close();
  });
});
