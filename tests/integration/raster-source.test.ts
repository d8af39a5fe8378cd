import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fromFile } from 'geotiff';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCache } from '../../services/adapters/raster/block-cache.ts';
import { DecodePool } from '../../services/adapters/raster/decode-pool.ts';
import { geotiffDeflateDecoder } from '../../services/adapters/raster/decoders.ts';
import { openGeoTiff } from '../../services/adapters/raster/geotiff-file.ts';
import { openRaster, type RasterSource } from '../../services/adapters/raster/source.ts';
import { isSkypatrolError } from '../../services/core/errors.ts';
import { ROOT } from '../support/cli.ts';
import { describeShared, oscd, SHARED_DATA } from '../support/shared-data.ts';

/**
 * The raster source layer against real files, with GDAL as the reference: every value a
 * window read returns must be what `gdal_translate` extracts from the same file.
 */

const HAS_GDAL = spawnSync('gdalinfo', ['--version']).status === 0;
/** GDAL-backed tests: skipped with the reason outside CI, a failure under CI=true. */
const itGdal = ((name: string, fn: () => Promise<void>, timeout?: number) => {
  if (HAS_GDAL) return it(name, fn, timeout);
  if (process.env.CI === 'true') {
    return it(name, () => {
      throw new Error('CI=true but gdalinfo is missing (apt-get install gdal-bin)');
    });
  }
  return it.skip(`${name} (skipped: gdalinfo not found; apt-get install gdal-bin)`, fn);
}) as (name: string, fn: () => Promise<void>, timeout?: number) => void;

const REAL = join(SHARED_DATA, 'real');
const WORLDCOVER = join(REAL, 'esa-worldcover-2021-N00E006.tif');
const LANDSAT = join(REAL, 'landsat7-rgb-byte-utm18n.tif');
const band = (name: string) => {
  const dir = oscd('paris', 'imgs_1');
  const file = readdirSync(dir).find((f) => f.endsWith(`_${name}.tif`));
  if (!file) throw new Error(`no ${name} in ${dir}`);
  return join(dir, file);
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-raster-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function gdal(tool: string, args: string[]): void {
  execFileSync(tool, ['-q', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `gdal_translate` to a raw band-sequential file, read back as bytes (uint8 rasters). */
async function gdalBytes(src: string, args: string[]): Promise<Buffer> {
  const out = join(dir, `ref-${Math.random().toString(36).slice(2)}.bin`);
  gdal('gdal_translate', [...args, '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', src, out]);
  return readFile(out);
}

/** `gdal_translate -ot Float32` of a window, for rasters of any sample type. */
async function gdalFloats(src: string, args: string[]): Promise<Float32Array> {
  const out = join(dir, `ref-${Math.random().toString(36).slice(2)}.bin`);
  gdal('gdal_translate', ['-ot', 'Float32', ...args, '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', src, out]);
  const bytes = await readFile(out);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Compare window bands with GDAL bytes; GDAL's nodata value must be NaN on our side. */
function expectSameAsGdal(data: Float32Array[], ref: Buffer, nodata: number | null) {
  const n = data[0]!.length;
  expect(ref.length).toBe(n * data.length);
  let mismatches = 0;
  data.forEach((values, b) => {
    for (let i = 0; i < n; i++) {
      const g = ref[b * n + i]!;
      const v = values[i]!;
      if (g === nodata ? !Number.isNaN(v) : v !== g) mismatches++;
    }
  });
  expect(mismatches).toBe(0);
}

async function expectCode(p: Promise<unknown>, code: string, mention?: string) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isSkypatrolError(err), `expected ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  if (mention) expect((err as Error).message).toContain(mention);
  return err as Error & { code: string; retryable: boolean };
}

async function withSource<T>(href: string, fn: (s: RasterSource) => Promise<T>, opts = {}): Promise<T> {
  const s = await openRaster(href, opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describeShared('raster source: OSCD Sentinel-2 band files (uncompressed strips, EPSG:4326)', () => {
  it('reports the grid of 10 m, 20 m and 60 m bands over the same extent', async () => {
    const infos = [];
    for (const name of ['B02', 'B11', 'B01']) infos.push(await withSource(band(name), async (s) => s.info));
    const [b02, b11, b01] = infos as [(typeof infos)[0], (typeof infos)[0], (typeof infos)[0]];
    for (const info of infos) {
      expect(info).toMatchObject({ bands: 1, dtype: 'uint16', epsg: 4326, tileSize: null, overviews: [] });
      expect(info.compression).toBe('none');
      expect(info.grid.epsg).toBe(4326);
      // The three resolutions cover the same ground (to within one 60 m pixel).
      info.bounds.forEach((v, i) => {
        expect(Math.abs(v - b02.bounds[i]!)).toBeLessThan(b01.grid.resX);
      });
    }
    expect(Math.abs(b11.width - b02.width / 2)).toBeLessThanOrEqual(1);
    expect(Math.abs(b01.width - b02.width / 6)).toBeLessThanOrEqual(1);
    expect(Math.abs(b01.height - b02.height / 6)).toBeLessThanOrEqual(1);
  });

  it('window reads equal the whole-band reader, for each resolution', async () => {
    for (const name of ['B02', 'B11', 'B01']) {
      const path = band(name);
      const whole = await openGeoTiff(path);
      const all = await whole.readBand(0);
      await whole.close();
      await withSource(path, async (s) => {
        const { width: W, height: H } = s.info;
        const win: [number, number, number, number] = [3, 5, Math.floor(W * 0.7), Math.floor(H * 0.8)];
        const r = await s.readWindow({ window: win });
        expect([r.width, r.height]).toEqual([win[2] - win[0], win[3] - win[1]]);
        let mismatches = 0;
        for (let y = 0; y < r.height; y++) {
          for (let x = 0; x < r.width; x++) {
            const a = r.data[0]![y * r.width + x]!;
            const b = all[(y + win[1]) * W + x + win[0]]!;
            if (!Object.is(a, b)) mismatches++;
          }
        }
        expect(mismatches).toBe(0);
        // Values are real L1C digital numbers, not zeros.
        expect(r.data[0]!.some((v) => v > 100)).toBe(true);
      });
    }
  });

  it('clamps windows to the image and opens file:// URLs', async () => {
    await withSource(pathToFileURL(band('B01')).href, async (s) => {
      const r = await s.readWindow({ window: [-10, -10, 1e6, 20] });
      expect([r.width, r.height]).toEqual([s.info.width, 20]);
      expect(r.window).toEqual([0, 0, s.info.width, 20]);
      const outside = await s.readWindow({ window: [1e6, 0, 2e6, 10] });
      expect([outside.width, outside.data[0]!.length]).toEqual([0, 0]);
    });
  });
});

describeShared('raster source: Landsat 7 subset (UTM 18N, 3 bands, nodata 0)', () => {
  it('reports size, bands, CRS, bounds and nodata', async () => {
    const info = await withSource(LANDSAT, async (s) => s.info);
    expect(info).toMatchObject({
      width: 791,
      height: 718,
      bands: 3,
      dtype: 'uint8',
      epsg: 32618,
      nodata: 0,
      tileSize: null,
      compression: 'none',
    });
    expect(info.grid.resX).toBeCloseTo(300.0379, 3);
    expect(info.bounds[0]).toBeCloseTo(101985, 6);
    expect(info.bounds[3]).toBeCloseTo(2826915, 6);
  });

  itGdal('reads all bands equal to GDAL, nodata 0 as NaN', async () => {
    await withSource(LANDSAT, async (s) => {
      const r = await s.readWindow({ window: [0, 0, 791, 718] });
      expect(r.data).toHaveLength(3);
      expectSameAsGdal(r.data, await gdalBytes(LANDSAT, []), 0);
      expect(r.data[0]!.some(Number.isNaN)).toBe(true);
      expect(r.data[0]!.some((v) => v > 0)).toBe(true);
    });
  });

  itGdal('reads a band subset, in the order asked', async () => {
    await withSource(LANDSAT, async (s) => {
      const r = await s.readWindow({ window: [13, 17, 500, 400], bands: [2, 0] });
      const ref = await gdalBytes(LANDSAT, ['-srcwin', '13', '17', '487', '383', '-b', '3', '-b', '1']);
      expectSameAsGdal(r.data, ref, 0);
    });
  });

  it('a missing band is SCENE_MISSING_BAND', async () => {
    await withSource(LANDSAT, async (s) => {
      await expectCode(s.readWindow({ window: [0, 0, 10, 10], bands: [3] }), 'SCENE_MISSING_BAND', LANDSAT);
    });
  });
});

describeShared('raster source: ESA WorldCover tile (36000², deflate COG)', () => {
  // Both straddle four internal tiles; one is land (8 classes), one coast with ocean (0 = nodata).
  const LAND: [number, number, number, number] = [5300, 32368, 6324, 33392];
  const COAST: [number, number, number, number] = [17152, 22272, 18176, 23296];

  it('reports tiles, overviews and compression', async () => {
    const info = await withSource(WORLDCOVER, async (s) => s.info);
    expect(info).toMatchObject({
      width: 36000,
      height: 36000,
      bands: 1,
      dtype: 'uint8',
      epsg: 4326,
      tileSize: [1024, 1024],
      nodata: 0,
      compression: 'deflate',
    });
    expect(info.overviews.map((o) => o.width)).toEqual([18000, 9000, 4500, 2250, 1125, 562]);
    info.bounds.forEach((v, i) => {
      expect(v).toBeCloseTo([6, 0, 9, 3][i]!, 9);
    });
  });

  itGdal('1024×1024 windows equal gdal_translate -srcwin byte for byte', async () => {
    await withSource(WORLDCOVER, async (s) => {
      for (const win of [LAND, COAST]) {
        const r = await s.readWindow({ window: win });
        expect([r.width, r.height]).toEqual([1024, 1024]);
        const ref = await gdalBytes(WORLDCOVER, ['-srcwin', `${win[0]}`, `${win[1]}`, '1024', '1024']);
        expectSameAsGdal(r.data, ref, 0);
        expect(new Set(ref).size).toBeGreaterThan(1);
      }
      const coast = await s.readWindow({ window: COAST });
      expect(coast.data[0]!.some(Number.isNaN)).toBe(true);
    });
  });

  itGdal('an overview window equals the same region of GDAL’s overview', async () => {
    await withSource(WORLDCOVER, async (s) => {
      // Overview 3 is 4500²: a window of full-res pixels maps to an eighth of its size.
      const r = await s.readWindow({ window: [4000, 30000, 12000, 36000], overview: 3 });
      expect([r.width, r.height]).toEqual([1000, 750]);
      expect(r.window).toEqual([500, 3750, 1500, 4500]);
      const ref = await gdalBytes(WORLDCOVER, ['-ovr', '2', '-srcwin', '4000', '30000', '8000', '6000']);
      expectSameAsGdal(r.data, ref, 0);
    });
  });

  it('the native zlib decoder, geotiff.js’s own decoder and the worker pool agree', async () => {
    const tiff = await fromFile(WORLDCOVER);
    const image = await tiff.getImage();
    const shipped = (await image.readRasters({
      window: LAND,
      pool: await geotiffDeflateDecoder(),
    })) as unknown as Uint8Array[];
    tiff.close();
    const pool = new DecodePool(2);
    try {
      for (const decoder of ['native', 'geotiff', pool] as const) {
        await withSource(
          WORLDCOVER,
          async (s) => {
            const r = await s.readWindow({ window: LAND });
            expectSameAsGdal(r.data, Buffer.from(shipped[0]!), 0);
          },
          { decoder },
        );
      }
    } finally {
      await pool.destroy();
    }
  });

  it('a 1024×1024 window keeps peak RSS under 300 MB (measured in a child process)', async () => {
    const script = `
      const { openRaster } = await import(${JSON.stringify(pathToFileURL(resolve(ROOT, 'services/adapters/raster/source.ts')).href)});
      const s = await openRaster(${JSON.stringify(WORLDCOVER)});
      const r = await s.readWindow({ window: ${JSON.stringify(LAND)} });
      let valid = 0;
      for (const v of r.data[0]) if (v === v) valid++;
      await s.close();
      console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, width: r.width, valid }));
    `;
    const out = await new Promise<string>((ok, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', fail);
      child.on('close', (code) =>
        code === 0 ? ok(stdout) : fail(new Error(`child exited ${code}: ${stderr}`)),
      );
    });
    const probe = JSON.parse(out.trim().split('\n').pop()!) as {
      maxRssKiB: number;
      width: number;
      valid: number;
    };
    expect(probe.width).toBe(1024);
    expect(probe.valid).toBe(1024 * 1024);
    expect(probe.maxRssKiB / 1024).toBeLessThan(300);
  });

  it('a shared block cache serves repeated local reads', async () => {
    const cache = new BlockCache({ maxBytes: 8 * 1024 * 1024 });
    await withSource(
      WORLDCOVER,
      async (s) => {
        await s.readWindow({ window: LAND });
        const before = cache.stats();
        await s.readWindow({ window: LAND });
        const after = cache.stats();
        expect(after.misses).toBe(before.misses);
        expect(after.hits).toBeGreaterThan(before.hits);
      },
      { cache },
    );
    // A second source of the same file shares the blocks.
    const before = cache.stats().misses;
    await withSource(WORLDCOVER, (s) => s.readWindow({ window: LAND }), { cache });
    expect(cache.stats().misses).toBe(before);
    expect(cache.stats().bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});

describeShared('raster source: files written by GDAL (COGs, other layouts)', () => {
  let byteCog: string;
  let floatCog: string;
  beforeAll(async () => {
    if (!HAS_GDAL) return;
    byteCog = join(dir, 'landsat-cog.tif');
    gdal('gdal_translate', [
      ...['-of', 'COG', '-co', 'BLOCKSIZE=256', '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=YES'],
      ...[LANDSAT, byteCog],
    ]);
    floatCog = join(dir, 'b02-float-cog.tif');
    gdal('gdal_translate', [
      ...['-of', 'COG', '-ot', 'Float32', '-co', 'BLOCKSIZE=128', '-co', 'COMPRESS=DEFLATE'],
      ...['-co', 'PREDICTOR=FLOATING_POINT', band('B02'), floatCog],
    ]);
  });

  itGdal('overview reads equal GDAL’s overviews (deflate, horizontal predictor)', async () => {
    await withSource(byteCog, async (s) => {
      expect(s.info.tileSize).toEqual([256, 256]);
      expect(s.info.overviews).toEqual([
        { width: 395, height: 359 },
        { width: 197, height: 179 },
      ]);
      for (const level of [1, 2]) {
        const ov = s.info.overviews[level - 1]!;
        const r = await s.readWindow({ window: [0, 0, 791, 718], overview: level });
        expect([r.width, r.height]).toEqual([ov.width, ov.height]);
        expectSameAsGdal(r.data, await gdalBytes(byteCog, ['-ovr', `${level - 1}`]), 0);
      }
      const full = await s.readWindow({ window: [100, 50, 600, 700] });
      expectSameAsGdal(full.data, await gdalBytes(LANDSAT, ['-srcwin', '100', '50', '500', '650']), 0);
    });
  });

  itGdal('floating-point predictor: native and geotiff.js decoders give identical floats', async () => {
    const reads = [];
    for (const decoder of ['native', 'geotiff'] as const) {
      reads.push(await withSource(floatCog, (s) => s.readWindow({ window: [7, 9, 300, 333] }), { decoder }));
    }
    const [a, b] = reads as [(typeof reads)[0], (typeof reads)[0]];
    expect(a.data[0]!.length).toBe(293 * 324);
    expect(Buffer.from(a.data[0]!.buffer).equals(Buffer.from(b.data[0]!.buffer))).toBe(true);
    // And they are the uint16 digital numbers of the source band.
    const whole = await openGeoTiff(band('B02'));
    const src = await whole.readBand(0);
    await whole.close();
    const W = whole.grid.width;
    expect(a.data[0]![0]).toBe(src[9 * W + 7]);
    expect(a.data[0]![293 * 324 - 1]).toBe(src[332 * W + 299]);
  });

  itGdal('other layouts GDAL writes read the same as GDAL reads them', async () => {
    // Band-interleaved tiles, big-endian words with and without predictors, pixel-interleaved
    // tiles of 16-bit samples, and geotiff.js's own weak spot: predictor 2 on big-endian words.
    const layouts: [string, string, string[]][] = [
      [
        'planar-lzw',
        LANDSAT,
        [
          '-co',
          'INTERLEAVE=BAND',
          '-co',
          'TILED=YES',
          '-co',
          'BLOCKXSIZE=128',
          '-co',
          'BLOCKYSIZE=64',
          '-co',
          'COMPRESS=LZW',
        ],
      ],
      [
        'be-u16-pred2',
        band('B02'),
        ['-co', 'ENDIANNESS=BIG', '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2'],
      ],
      ['be-u16-raw', band('B02'), ['-co', 'ENDIANNESS=BIG']],
      [
        'be-f32-pred3',
        band('B02'),
        [
          '-ot',
          'Float32',
          '-co',
          'ENDIANNESS=BIG',
          '-co',
          'COMPRESS=DEFLATE',
          '-co',
          'PREDICTOR=3',
          '-co',
          'TILED=YES',
        ],
      ],
      [
        'be-i32-pred2-planar',
        LANDSAT,
        [
          '-ot',
          'Int32',
          '-scale',
          '0',
          '255',
          '-100000',
          '100000',
          '-co',
          'ENDIANNESS=BIG',
          '-co',
          'COMPRESS=LZW',
          '-co',
          'PREDICTOR=2',
          '-co',
          'INTERLEAVE=BAND',
        ],
      ],
      [
        'be-u16-pixel-tiles',
        LANDSAT,
        [
          '-ot',
          'UInt16',
          '-co',
          'ENDIANNESS=BIG',
          '-co',
          'COMPRESS=DEFLATE',
          '-co',
          'PREDICTOR=2',
          '-co',
          'TILED=YES',
          '-co',
          'BLOCKXSIZE=64',
          '-co',
          'BLOCKYSIZE=64',
        ],
      ],
    ];
    for (const [name, src, co] of layouts) {
      const file = join(dir, `${name}.tif`);
      gdal('gdal_translate', [...co, src, file]);
      await withSource(file, async (s) => {
        const r = await s.readWindow({ window: [5, 7, 301, 250] });
        const ref = await gdalFloats(file, ['-srcwin', '5', '7', '296', '243']);
        const n = r.width * r.height;
        expect(ref.length, name).toBe(n * r.data.length);
        let mismatches = 0;
        r.data.forEach((values, b) => {
          for (let i = 0; i < n; i++) {
            const g = ref[b * n + i]!;
            if (g === s.info.nodata ? !Number.isNaN(values[i]!) : values[i] !== g) mismatches++;
          }
        });
        expect(mismatches, name).toBe(0);
      });
    }
  });

  itGdal('sparse tiles read as nodata (NaN), or 0 without nodata, as GDAL does', async () => {
    for (const [name, nodata] of [
      ['sparse-nodata', ['-a_nodata', '7']],
      ['sparse-plain', []],
    ] as const) {
      const file = join(dir, `${name}.tif`);
      gdal('gdal_create', [
        ...['-of', 'GTiff', '-outsize', '600', '500', '-bands', '1', '-ot', 'Byte', '-co', 'TILED=YES'],
        ...['-co', 'SPARSE_OK=TRUE', '-a_srs', 'EPSG:4326', '-a_ullr', '0', '1', '1', '0', ...nodata, file],
      ]);
      const r = await withSource(file, (s) => s.readWindow({ window: [0, 0, 600, 500] }));
      expect(r.data[0]!.every(nodata.length ? Number.isNaN : (v) => v === 0)).toBe(true);
    }
  });

  itGdal('reads into caller-allocated buffers holding old values (every value is written)', async () => {
    // Edge blocks cut by the image's border, a sparse block and a window across them all.
    const file = join(dir, 'allocate-sparse.tif');
    gdal('gdal_create', [
      ...['-of', 'GTiff', '-outsize', '300', '200', '-bands', '2', '-ot', 'UInt16', '-co', 'TILED=YES'],
      ...['-co', 'BLOCKXSIZE=128', '-co', 'BLOCKYSIZE=128', '-co', 'SPARSE_OK=TRUE'],
      ...['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-a_srs', 'EPSG:4326'],
      ...['-a_ullr', '0', '1', '1', '0', '-a_nodata', '9', file],
    ]);
    const filled = join(dir, 'allocate-filled.tif');
    gdal('gdal_translate', [
      ...['-co', 'TILED=YES', '-co', 'BLOCKXSIZE=128', '-co', 'BLOCKYSIZE=128', '-co', 'SPARSE_OK=TRUE'],
      ...['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-srcwin', '0', '0', '300', '200'],
      ...['-outsize', '300', '200', '-b', '1', '-b', '1', '-a_nodata', '9', LANDSAT, filled],
    ]);
    for (const f of [file, filled]) {
      await withSource(f, async (s) => {
        const window: [number, number, number, number] = [20, 30, 300, 200];
        const fresh = await s.readWindow({ window });
        const dirty = await s.readWindow({
          window,
          allocate: (n) => new Float32Array(n).fill(12345),
        });
        expect(dirty.data.length).toBe(fresh.data.length);
        dirty.data.forEach((values, b) => {
          const ref = fresh.data[b]!;
          for (let i = 0; i < ref.length; i++) {
            if (!Object.is(values[i], ref[i]))
              throw new Error(`${f} band ${b} value ${i}: ${values[i]} vs ${ref[i]}`);
          }
        });
      });
    }
  });

  it('an overview that does not exist is SCENE_INVALID', async () => {
    await withSource(LANDSAT, async (s) => {
      await expectCode(s.readWindow({ window: [0, 0, 10, 10], overview: 1 }), 'SCENE_INVALID', LANDSAT);
    });
  });
});

describeShared('raster source: bad input', () => {
  it('a missing file is SCENE_NOT_FOUND', async () => {
    const missing = join(dir, 'missing.tif');
    await expectCode(openRaster(missing), 'SCENE_NOT_FOUND', missing);
  });

  it('a text file and a directory are SCENE_NOT_TIFF', async () => {
    const text = join(dir, 'notes.tif');
    await writeFile(text, 'not an image at all\n');
    await expectCode(openRaster(text), 'SCENE_NOT_TIFF', text);
    const folder = join(dir, 'folder.tif');
    await mkdir(folder, { recursive: true });
    await expectCode(openRaster(folder), 'SCENE_NOT_TIFF', folder);
  });

  it('truncated files are SCENE_CORRUPT, never zeros', async () => {
    for (const [src, keep] of [
      [LANDSAT, 900_000],
      [WORLDCOVER, 1_200_000],
      [LANDSAT, 100],
    ] as const) {
      const cut = join(dir, `cut-${keep}-${src.length}.tif`);
      const fh = await open(src, 'r');
      const buf = Buffer.alloc(keep);
      await fh.read(buf, 0, keep, 0);
      await fh.close();
      await writeFile(cut, buf);
      await expectCode(openRaster(cut), 'SCENE_CORRUPT', cut);
    }
  });

  itGdal('a TIFF without an EPSG code or without georeferencing is SCENE_CRS_UNSUPPORTED', async () => {
    const localCs = join(dir, 'local-cs.tif');
    gdal('gdal_translate', ['-a_srs', 'LOCAL_CS["arbitrary"]', LANDSAT, localCs]);
    await expectCode(openRaster(localCs), 'SCENE_CRS_UNSUPPORTED', localCs);
    const bare = join(dir, 'no-georef.tif');
    gdal('gdal_translate', ['-co', 'PROFILE=BASELINE', '--config', 'GDAL_PAM_ENABLED', 'NO', LANDSAT, bare]);
    await expectCode(openRaster(bare), 'SCENE_CRS_UNSUPPORTED', bare);
  });

  it('bad windows are SCENE_INVALID', async () => {
    await withSource(LANDSAT, async (s) => {
      await expectCode(s.readWindow({ window: [10, 10, 5, 20] }), 'SCENE_INVALID');
      await expectCode(s.readWindow({ window: [0, 0, Number.NaN, 5] }), 'SCENE_INVALID');
    });
  });
});

describe('raster source: hrefs', () => {
  it('an unsupported scheme is SCENE_INVALID', async () => {
    await expectCode(openRaster('s3://bucket/key.tif'), 'SCENE_INVALID', 's3://bucket/key.tif');
  });
});
