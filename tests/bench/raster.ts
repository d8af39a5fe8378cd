/**
 * `npx tsx tests/bench/raster.ts`: decode and window-read speed on the ESA WorldCover tile
 * (36000², deflate, 1024² tiles), written to docs/benchmarks-raster.md with machine and date.
 * Each variant runs in its own child process (fresh heap, its own peak RSS, its own decoder
 * registry). Figures are measured, never asserted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fromFile, type GeoTIFFImage } from 'geotiff';
import { DecodePool } from '../../services/adapters/raster/decode-pool.ts';
import {
  type BlockDecoder,
  geotiffDeflateDecoder,
  NativeDeflateDecoder,
  registerNativeDecoders,
} from '../../services/adapters/raster/decoders.ts';
import { openRaster } from '../../services/adapters/raster/source.ts';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';

type Win = [number, number, number, number];

const ROOT = resolve(import.meta.dirname, '../..');
const SHARED = resolve(process.env.SKYPATROL_SHARED_DATA ?? resolve(ROOT, '../shared/data'));
const FILE = join(SHARED, 'real/esa-worldcover-2021-N00E006.tif');
const SIZE = 36000;
const TILE = 1024;
const WIN = 1024;
const REPS = 11;
/** GDAL runs are whole processes (~0.1 s start-up each); fewer passes keep the bench short. */
const GDAL_REPS = 3;
const WARMUP = 2;
/** Blocks decoded at once in the decode-only runs (as RasterSource keeps in flight). */
const IN_FLIGHT = 8;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const tilesTouched = (w: Win) =>
  (Math.ceil(w[2] / TILE) - Math.floor(w[0] / TILE)) * (Math.ceil(w[3] / TILE) - Math.floor(w[1] / TILE));
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;

interface Result {
  /** Median over REPS of the time for all windows, ms. */
  ms: number;
  perWindowMs: number;
  rssMiB: number | null;
}

// ---------------------------------------------------------------------------------------
// Child side: one variant, timed.

async function timeWindows(windows: Win[], readOne: (w: Win) => Promise<unknown>): Promise<Result> {
  for (let r = 0; r < WARMUP; r++) for (const w of windows) await readOne(w); // JIT, page cache
  const reps: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    for (const w of windows) await readOne(w);
    reps.push(performance.now() - t);
  }
  const ms = median(reps);
  return { ms, perWindowMs: ms / windows.length, rssMiB: maxRssMiB() };
}

/** Compressed blocks of the tiles the windows touch, for decode-only timing. */
async function tileBlocks(image: GeoTIFFImage, windows: Win[]): Promise<ArrayBuffer[]> {
  const d = image.fileDirectory as { TileOffsets: number[]; TileByteCounts: number[] };
  const ids = new Set<number>();
  for (const w of windows) {
    for (let ty = Math.floor(w[1] / TILE); ty < Math.ceil(w[3] / TILE); ty++) {
      for (let tx = Math.floor(w[0] / TILE); tx < Math.ceil(w[2] / TILE); tx++) ids.add(ty * 36 + tx);
    }
  }
  const file = await readFile(FILE);
  return [...ids].map((i) => {
    const o = d.TileOffsets[i]!;
    return file.buffer.slice(file.byteOffset + o, file.byteOffset + o + d.TileByteCounts[i]!) as ArrayBuffer;
  });
}

async function timeDecode(
  image: GeoTIFFImage,
  blocks: ArrayBuffer[],
  decoder: BlockDecoder,
): Promise<Result> {
  const dir = image.fileDirectory;
  const run = async () => {
    let next = 0;
    const lane = async () => {
      // Copies, because a pool transfers (detaches) what it is given.
      while (next < blocks.length) await decoder.decode(dir, blocks[next++]!.slice(0));
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  };
  for (let r = 0; r < WARMUP; r++) await run();
  const reps: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    await run();
    reps.push(performance.now() - t);
  }
  const ms = median(reps);
  return { ms, perWindowMs: Number.NaN, rssMiB: maxRssMiB() };
}

async function child(variant: string, windows: Win[]): Promise<Result> {
  const tiff = await fromFile(FILE);
  const image = await tiff.getImage();
  try {
    switch (variant) {
      case 'decode-pako':
        return await timeDecode(image, await tileBlocks(image, windows), await geotiffDeflateDecoder());
      case 'decode-zlib':
        return await timeDecode(image, await tileBlocks(image, windows), new NativeDeflateDecoder());
      case 'decode-pool': {
        const pool = new DecodePool();
        try {
          return await timeDecode(image, await tileBlocks(image, windows), pool);
        } finally {
          await pool.destroy();
        }
      }
      case 'geotiff':
        return await timeWindows(windows, (w) => image.readRasters({ window: w }));
      case 'geotiff+zlib':
        await registerNativeDecoders();
        return await timeWindows(windows, (w) => image.readRasters({ window: w }));
      case 'source':
      case 'source+pool': {
        const pool = variant === 'source+pool' ? new DecodePool() : undefined;
        const src = await openRaster(FILE, pool ? { decoder: pool } : {});
        try {
          return await timeWindows(windows, (w) => src.readWindow({ window: w }));
        } finally {
          await src.close();
          await pool?.destroy();
        }
      }
      default:
        throw new Error(`unknown variant ${variant}`);
    }
  } finally {
    tiff.close();
  }
}

// ---------------------------------------------------------------------------------------
// GDAL, as separate processes.

function spawnMs(args: string[]): number {
  const t = performance.now();
  const r = spawnSync('gdal_translate', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`gdal_translate ${args.join(' ')}: ${r.stderr}`);
  return performance.now() - t;
}

/** One gdal_translate process per window, as a caller shelling out to GDAL would. */
function gdalPerWindow(windows: Win[]): Result {
  const one = (w: Win) =>
    spawnMs([
      '-q',
      '-srcwin',
      `${w[0]}`,
      `${w[1]}`,
      `${WIN}`,
      `${WIN}`,
      '-of',
      'ENVI',
      FILE,
      '/vsimem/w.bin',
    ]);
  for (const w of windows) one(w);
  const reps: number[] = [];
  for (let r = 0; r < GDAL_REPS; r++) reps.push(windows.reduce((s, w) => s + one(w), 0));
  const ms = median(reps);
  return { ms, perWindowMs: ms / windows.length, rssMiB: null };
}

/** All windows in one process through a VRT (startup paid once): GDAL's own read speed. */
async function gdalOneProcess(windows: Win[], dir: string): Promise<Result> {
  const sources = windows
    .map(
      (
        w,
        i,
      ) => `<SimpleSource><SourceFilename relativeToVRT="0">${FILE}</SourceFilename><SourceBand>1</SourceBand>
      <SrcRect xOff="${w[0]}" yOff="${w[1]}" xSize="${WIN}" ySize="${WIN}"/>
      <DstRect xOff="${i * WIN}" yOff="0" xSize="${WIN}" ySize="${WIN}"/></SimpleSource>`,
    )
    .join('\n');
  const vrt = join(dir, 'windows.vrt');
  await writeFile(
    vrt,
    `<VRTDataset rasterXSize="${windows.length * WIN}" rasterYSize="${WIN}">
    <VRTRasterBand dataType="Byte" band="1">${sources}</VRTRasterBand></VRTDataset>`,
  );
  const run = () => spawnMs(['-q', '-of', 'ENVI', vrt, '/vsimem/all.bin']);
  for (let r = 0; r < WARMUP; r++) run();
  const ms = median(Array.from({ length: GDAL_REPS }, run));
  return { ms, perWindowMs: ms / windows.length, rssMiB: null };
}

// ---------------------------------------------------------------------------------------
// Parent: windows, children, report.

function runChild(variant: string, windows: Win[]): Result {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--child', variant, JSON.stringify(windows)],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (r.status !== 0) throw new Error(`bench child ${variant} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}

async function parent(): Promise<void> {
  if (!existsSync(FILE)) {
    console.error(`${FILE} not found (set SKYPATROL_SHARED_DATA); nothing measured`);
    process.exitCode = 1;
    return;
  }
  // Two seeded sets: uniform over the tile (mostly ocean: cheap all-zero tiles) and windows
  // around tiles that hold land (the decode-heavy case).
  const rand = mulberry32(20240601);
  const pick = () => Math.floor(rand() * (SIZE - WIN));
  const uniform: Win[] = Array.from({ length: 20 }, () => {
    const x = pick();
    const y = pick();
    return [x, y, x + WIN, y + WIN];
  });
  const tiff = await fromFile(FILE);
  const counts = Array.from((await tiff.getImage()).fileDirectory.TileByteCounts as ArrayLike<number>);
  tiff.close();
  const landTiles = counts.flatMap((n, i) => (n > 4000 ? [i] : []));
  const land: Win[] = Array.from({ length: 20 }, () => {
    const t = landTiles[Math.floor(rand() * landTiles.length)]!;
    const x = Math.min(Math.max((t % 36) * TILE + Math.floor(rand() * TILE) - WIN / 2, 0), SIZE - WIN);
    const y = Math.min(
      Math.max(Math.floor(t / 36) * TILE + Math.floor(rand() * TILE) - WIN / 2, 0),
      SIZE - WIN,
    );
    return [x, y, x + WIN, y + WIN];
  });

  const hasGdal = spawnSync('gdalinfo', ['--version']).status === 0;
  const gdalVersion = hasGdal
    ? execFileSync('gdalinfo', ['--version'], { encoding: 'utf8' }).trim()
    : 'absent';
  const tmp = await mkdtemp(join(tmpdir(), 'skypatrol-bench-raster-'));
  const sections: string[] = [];
  const summary: string[] = [];
  try {
    const startupMs = hasGdal
      ? median(
          Array.from({ length: 5 }, () =>
            spawnMs(['-q', '-srcwin', '0', '0', '1', '1', '-of', 'ENVI', FILE, '/vsimem/x.bin']),
          ),
        )
      : Number.NaN;

    for (const [name, windows] of [
      ['uniform random', uniform],
      ['land', land],
    ] as const) {
      const tiles = windows.reduce((s, w) => s + tilesTouched(w), 0);
      const windowMpx = (windows.length * WIN * WIN) / 1e6;
      const decodedMpx = (tiles * TILE * TILE) / 1e6;
      console.error(`${name}: ${windows.length} windows, ${tiles} tiles touched`);

      const decode: string[] = [];
      const decodeMs: Record<string, number> = {};
      for (const [variant, label] of [
        ['decode-pako', 'geotiff.js DeflateDecoder (pako)'],
        ['decode-zlib', 'NativeDeflateDecoder (node:zlib)'],
        ['decode-pool', `DecodePool, ${cpus().length} workers (node:zlib)`],
      ] as const) {
        const r = runChild(variant, windows);
        decodeMs[variant] = r.ms;
        decode.push(
          `| ${label} | ${r.ms.toFixed(0)} | ${((decodedMpx / r.ms) * 1e3).toFixed(0)} | ${(decodeMs['decode-pako']! / r.ms).toFixed(1)}× |`,
        );
        console.error(`  ${variant}: ${r.ms.toFixed(0)} ms`);
      }

      const reads: { label: string; r: Result }[] = [];
      for (const [variant, label] of [
        ['geotiff', '(a) geotiff.js 2.1.3 as shipped: `readRasters({window})`, pako'],
        ['geotiff+zlib', '(b) geotiff.js `readRasters` + native zlib decoder'],
        ['source', '(b′) `RasterSource.readWindow` (native zlib, own assembly → float32/NaN)'],
        ['source+pool', `(c) \`RasterSource.readWindow\` + DecodePool (${cpus().length} workers)`],
      ] as const) {
        const r = runChild(variant, windows);
        reads.push({ label, r });
        console.error(`  ${variant}: ${r.perWindowMs.toFixed(1)} ms/window`);
      }
      if (hasGdal) {
        const perWindow = gdalPerWindow(windows);
        reads.push({
          label: '(d) GDAL: one `gdal_translate -srcwin … -of ENVI /vsimem` process per window',
          r: perWindow,
        });
        const oneProc = await gdalOneProcess(windows, tmp);
        reads.push({ label: '(d′) GDAL: all windows in one `gdal_translate` process (VRT)', r: oneProc });
        console.error(
          `  gdal: ${perWindow.perWindowMs.toFixed(1)} / ${oneProc.perWindowMs.toFixed(1)} ms/window`,
        );
      }
      const base = reads[0]!.r.ms;
      const rows = reads.map(
        ({ label, r }) =>
          `| ${label} | ${r.perWindowMs.toFixed(1)} | ${((windowMpx / r.ms) * 1e3).toFixed(1)} | ${((decodedMpx / r.ms) * 1e3).toFixed(0)} | ${(base / r.ms).toFixed(1)}× | ${r.rssMiB === null ? 'n/a' : r.rssMiB.toFixed(0)} |`,
      );
      sections.push(
        `### ${name} windows (${windows.length} × ${WIN}×${WIN}, ${tiles} tile decodes per pass)\n\n` +
          `Decode only (the compressed tiles those windows touch, ${IN_FLIGHT} in flight):\n\n` +
          `| decoder | ms | decoded Mpx/s | vs pako |\n|---|---|---|---|\n${decode.join('\n')}\n\n` +
          `Window reads (median of ${REPS} passes, GDAL ${GDAL_REPS}, after ${WARMUP} warm-up passes):\n\n` +
          `| reader | ms / window | window Mpx/s | decoded Mpx/s | vs (a) | peak RSS MiB |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
      );
      const source = reads.find((x) => x.label.startsWith('(b′)'))!.r;
      const pool = reads.find((x) => x.label.startsWith('(c)'))!.r;
      const gdalSpawn = reads.find((x) => x.label.startsWith('(d)'))?.r;
      const gdalOne = reads.find((x) => x.label.startsWith('(d′)'))?.r;
      const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
      const vsGdal = (ours: number) =>
        gdalSpawn && gdalOne
          ? `${x(ours, gdalSpawn.ms)} / ${x(ours, gdalOne.ms)} / ${x(ours, Math.max(gdalOne.ms - startupMs, 1e-9))}`
          : 'n/a';
      summary.push(
        `| ${name} | ${x(base, source.ms)} | ${x(base, pool.ms)} | ${vsGdal(source.ms)} | ${vsGdal(pool.ms)} | ${x(source.ms, pool.ms)} |`,
      );
    }

    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const gib = (b: number) => (b / 2 ** 30).toFixed(0);
    const now = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const md = `# Raster source benchmarks

Measured by \`npx tsx tests/bench/raster.ts\` on ${now} UTC, ${cpu}, ${cpus().length} cores, ${gib(totalmem())} GiB RAM (${gib(freemem())} GiB free), Node ${process.version}, ${gdalVersion}.

File: \`../shared/data/real/esa-worldcover-2021-N00E006.tif\` (36000×36000 uint8, deflate, 1024×1024 tiles, no predictor, 2.5 MB). Window positions are seeded (mulberry32), the same for every reader. Each reader runs in its own process; "peak RSS" is that process's \`maxRSS\`. "Decoded Mpx/s" counts every tile decoded (a 1024² window not aligned to tiles decodes 4 tiles). geotiff.js (a, b) returns the raw uint8 window; RasterSource (b′, c) returns float32 with nodata as NaN; GDAL (d) writes uint8 to /vsimem. GDAL process start-up alone (1×1 window): ${Number.isNaN(startupMs) ? 'n/a' : `${startupMs.toFixed(1)} ms`}.

## Summary

Speed-up = time of (a) ÷ time of ours (target ≥ 3×). Time vs GDAL = our time ÷ GDAL's (target ≤ 1.5×), against GDAL with one process per window / all windows in one process / that one process minus its start-up.

| windows | speed-up, main thread (b′) | speed-up, pool (c) | time vs GDAL, main thread | time vs GDAL, pool | pool speed-up over main thread (> 1 = pool faster) |
|---|---|---|---|---|---|
${summary.join('\n')}

Notes: GDAL is timed as separate \`gdal_translate\` processes (no Python bindings here), so its figures include process start-up, VRT assembly and writing the output to /vsimem; they bound GDAL's in-process cost from above. The machine may be shared with other work (2 cores), so single runs vary by ±30 %; compare rows of one run. The decode pool is opt-in (\`openRaster(href, { decoder: new DecodePool() })\`): it speeds up pure decoding (decode tables) but each worker costs ~50 MiB RSS, and with few cores the main thread's copy to float32 competes with the workers; its end-to-end effect is the last summary column.

## Figures

${sections.join('\n')}`;
    await writeFile(join(ROOT, 'docs/benchmarks-raster.md'), md);
    console.log(md);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const result = await child(process.argv[3]!, JSON.parse(process.argv[4]!) as Win[]);
  console.log(JSON.stringify(result));
} else {
  await parent();
}
