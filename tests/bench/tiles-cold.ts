/**
 * Cold imagery tile renders in one process, no HTTP and no database: the tile benchmark's
 * scene (4 bands, 4096 × 4096 px, 10 m, UTM 50N, deflate + predictor 2 COGs from
 * `gdal_translate -of COG`), 40 tiles per row rendered once each, every cache cleared
 * at the start of each row (BENCH_COLD_CLEAR: see CLEAR). Prints p50/p95 per row. For profiles:
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx tests/bench/tiles-cold.ts
 * The COGs are kept in $TMPDIR/skypatrol-tiles-cold (made once, about 30 s).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type pg from 'pg';
import { mulberry32 as rng } from '../../services/domain/detectors/logistic.ts';
import { toLonLatFn } from '../../services/domain/geo/crs.ts';
import { lonLatToTile, type TileCoord } from '../../services/domain/geo/webmercator.ts';
import {
  clearTileCaches,
  renderSceneTile,
  type TileFormat,
  type TileMode,
} from '../../services/usecases/render-tile.ts';

/** The bench scene's grid: UTM 50N, SIZE × SIZE pixels of 10 m from ORIGIN (upper left). */
export const UTM = 32650;
export const SIZE = 4096;
export const ORIGIN = [600000, 5450000] as const;
const N = Number(process.env.BENCH_COLD_TILES ?? 40);
/**
 * 'row' (default): every cache (opened COGs too) cleared at the start of each row, as in
 * tiles.ts; 'blocks': rendered tiles and decoded blocks dropped before each tile (COGs stay
 * open: every block is inflated); 'all': everything before each tile (each render also opens
 * the COGs and parses their IFDs).
 */
const CLEAR = process.env.BENCH_COLD_CLEAR ?? 'row';

/** The bench's scene, made once (same generator and seed as tests/bench/tiles.ts). */
export function benchScene(dir = join(tmpdir(), 'skypatrol-tiles-cold')): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const names = ['red', 'green', 'blue', 'nir'];
  if (names.every((n) => existsSync(join(dir, `${n}.tif`)))) {
    return Object.fromEntries(names.map((n) => [n, join(dir, `${n}.tif`)]));
  }
  const rand = rng(7);
  const bands: Record<string, string> = {};
  for (const [name, lo, hi] of [
    ['red', 400, 2600],
    ['green', 600, 2200],
    ['blue', 400, 1800],
    ['nir', 1500, 4500],
  ] as const) {
    const out = join(dir, `${name}.tif`);
    bands[name] = out;
    const buf = Buffer.alloc(SIZE * SIZE * 2);
    for (let r = 0; r < SIZE; r++)
      for (let col = 0; col < SIZE; col++) {
        const parcel = (((r >> 6) * 131 + (col >> 6) * 71) % 97) / 97;
        buf.writeUInt16LE(Math.round(lo + (hi - lo) * (0.7 * parcel + 0.3 * rand())), (r * SIZE + col) * 2);
      }
    writeFileSync(join(dir, `${name}.bil`), buf);
    writeFileSync(
      join(dir, `${name}.hdr`),
      `ENVI\nsamples = ${SIZE}\nlines = ${SIZE}\nbands = 1\nheader offset = 0\ndata type = 12\ninterleave = bsq\nbyte order = 0\n`,
    );
    execFileSync('gdal_translate', [
      '-q',
      '-of',
      'COG',
      '-a_srs',
      `EPSG:${UTM}`,
      '-a_ullr',
      String(ORIGIN[0]),
      String(ORIGIN[1]),
      String(ORIGIN[0] + SIZE * 10),
      String(ORIGIN[1] - SIZE * 10),
      '-a_nodata',
      '0',
      '-co',
      'COMPRESS=DEFLATE',
      '-co',
      'PREDICTOR=2',
      join(dir, `${name}.bil`),
      out,
    ]);
  }
  return bands;
}

/**
 * How fast this host is right now: median milliseconds to inflate one full-resolution 512 × 512
 * block of the bench scene's red band (Node's zlib, this thread). The same code's tile times
 * moved by a third over one day on the shared test machine; this figure moves with them, so
 * runs are compared by it.
 */
export async function hostReferenceMs(bands: Record<string, string>): Promise<number> {
  const { fromFile } = await import('geotiff');
  const image = await (await fromFile(bands.red!)).getImage();
  const fd = (image as unknown as { fileDirectory: { TileOffsets: number[]; TileByteCounts: number[] } })
    .fileDirectory;
  const file = openSync(bands.red!, 'r');
  const times: number[] = [];
  try {
    for (let rep = 0; rep < 3; rep++) {
      for (let i = 0; i < 16; i++) {
        const block = Buffer.alloc(fd.TileByteCounts[i]!);
        readSync(file, block, 0, block.length, fd.TileOffsets[i]!);
        const t0 = performance.now();
        inflateSync(block, { chunkSize: 512 * 512 * 2 + 8 });
        times.push(performance.now() - t0);
      }
    }
  } finally {
    closeSync(file);
  }
  return pct(times, 50);
}

/** The bench's tiles of a zoom (same sampling as tiles.ts). */
export function benchTiles(z: number, n: number): TileCoord[] {
  const toLonLat = toLonLatFn(UTM)!;
  const out = new Map<string, TileCoord>();
  const rr = rng(z);
  for (let k = 0; k < n * 4 && out.size < n; k++) {
    const [lon, lat] = toLonLat(
      ORIGIN[0] + (0.1 + 0.8 * rr()) * SIZE * 10,
      ORIGIN[1] - (0.1 + 0.8 * rr()) * SIZE * 10,
    );
    const t = lonLatToTile(lon, lat, z);
    out.set(`${t.z}/${t.x}/${t.y}`, t);
  }
  return [...out.values()];
}

/** A pool stand-in answering the scene-row query of render-tile.ts. */
export function fakePool(bands: Record<string, string>): pg.Pool {
  const toLonLat = toLonLatFn(UTM)!;
  const corners = [
    toLonLat(ORIGIN[0], ORIGIN[1]),
    toLonLat(ORIGIN[0] + SIZE * 10, ORIGIN[1]),
    toLonLat(ORIGIN[0], ORIGIN[1] - SIZE * 10),
    toLonLat(ORIGIN[0] + SIZE * 10, ORIGIN[1] - SIZE * 10),
  ];
  const bbox = [
    Math.min(...corners.map((c) => c[0])),
    Math.min(...corners.map((c) => c[1])),
    Math.max(...corners.map((c) => c[0])),
    Math.max(...corners.map((c) => c[1])),
  ];
  const row = {
    id: 'BENCH_S2',
    sensor: 'sentinel-2-l2a',
    datetime: new Date('2025-07-01T03:00:00Z'),
    assets: Object.fromEntries(
      Object.entries(bands).map(([k, href]) => [k, { href, scale: 1e-4, offset: 0 }]),
    ),
    bbox,
  };
  return { query: async () => ({ rows: [row] }) } as unknown as pg.Pool;
}

const pct = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('tiles-cold.ts')) {
  const bands = benchScene();
  const pool = fakePool(bands);
  const rows: [number, TileMode, TileFormat][] = [
    [12, 'true-color', 'png'],
    [13, 'true-color', 'png'],
    [14, 'true-color', 'png'],
    [14, 'false-color', 'webp'],
    [14, 'ndvi', 'png'],
  ];
  // Warm-up (JIT, sharp's thread pool, proj4 definitions): one tile of another zoom.
  await renderSceneTile(pool, 'BENCH_S2', benchTiles(11, 1)[0]!, { mode: 'true-color', format: 'png' });
  console.log(
    `load average ${loadavg()[0]!.toFixed(1)}; ${N} tiles per row; clear=${CLEAR}; host reference ${(await hostReferenceMs(bands)).toFixed(2)} ms per block inflate`,
  );
  for (const [z, mode, format] of rows) {
    const times: number[] = [];
    let bytes = 0;
    clearTileCaches();
    const cpu0 = process.cpuUsage();
    for (const t of benchTiles(z, N)) {
      if (CLEAR === 'all') clearTileCaches();
      else if (CLEAR === 'blocks') clearTileCaches({ sources: false });
      const t0 = performance.now();
      const r = await renderSceneTile(pool, 'BENCH_S2', t, { mode, format });
      times.push(performance.now() - t0);
      bytes += r?.body.byteLength ?? 0;
    }
    // CPU time of the process (main thread, thread pool, sharp's threads) per tile: what a
    // render costs when it need not wait for a core.
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `z${z} ${mode} ${format}: p50 ${pct(times, 50).toFixed(1)} ms, p95 ${pct(times, 95).toFixed(1)} ms, CPU ${((cpu.user + cpu.system) / 1000 / times.length).toFixed(1)} ms per tile, ${(bytes / times.length / 1024).toFixed(1)} KiB`,
    );
  }
  console.log(`load average ${loadavg()[0]!.toFixed(1)}`);
}
