import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { availableParallelism, endianness } from 'node:os';
import { dirname, join } from 'node:path';
import { deflate, deflateSync } from 'node:zlib';
import { SkypatrolError, wrapError } from '../../core/errors.ts';
import { isGeographic } from '../../domain/geo/crs.ts';
import type { Grid } from '../../domain/geo/grid.ts';

/**
 * Cloud-Optimized GeoTIFF writer with the layout of GDAL 3.6's COG driver: classic
 * little-endian TIFF, the structural-metadata "ghost area" after the header, every IFD
 * (full resolution, then overviews) before the data, tiles of the smallest overview first,
 * each tile framed by its size (leader) and its last 4 bytes (trailer). Output is a pure
 * function of the options (for a given zlib build): no timestamps, fixed zlib settings.
 */

export interface CogOptions {
  grid: Grid;
  dtype: 'uint8' | 'uint16' | 'int16' | 'float32';
  /** One array per band, row-major width*height. */
  bands: ArrayLike<number>[];
  /** GDAL_NODATA, written on every IFD; average overviews skip these pixels (all-nodata → nodata). */
  nodata?: number | null;
  /** Internal tile size, a multiple of 16 (default 512). */
  blockSize?: number;
  /** Default true: 2×, 4×, … until both sides are ≤ blockSize (as GDAL's COG driver). */
  overviews?: boolean;
  /** Default 'average'; use 'nearest' for class or bit-flag bands (SCL, QA_PIXEL). */
  overviewResampling?: 'average' | 'nearest';
  compression?: 'deflate' | 'none';
  /** Predictor 2 (integers) or 3 (float32); default true except for uint8; off without compression. */
  predictor?: boolean;
  /** zlib level 0–9, default 6. */
  level?: number;
  /** Per-band names (GDAL band DESCRIPTION). */
  description?: string[];
  scale?: number;
  offset?: number;
}

type Samples = Uint8Array | Uint16Array | Int16Array | Float32Array;
type Dtype = CogOptions['dtype'];

interface DtypeInfo {
  bytes: number;
  /** TIFF SampleFormat: 1 unsigned, 2 signed, 3 float. */
  format: number;
  min: number;
  max: number;
  make(n: number): Samples;
  is(a: unknown): a is Samples;
}

const DTYPES: Record<Dtype, DtypeInfo> = {
  uint8: {
    bytes: 1,
    format: 1,
    min: 0,
    max: 255,
    make: (n) => new Uint8Array(n),
    is: (a): a is Samples => a instanceof Uint8Array,
  },
  uint16: {
    bytes: 2,
    format: 1,
    min: 0,
    max: 65535,
    make: (n) => new Uint16Array(n),
    is: (a): a is Samples => a instanceof Uint16Array,
  },
  int16: {
    bytes: 2,
    format: 2,
    min: -32768,
    max: 32767,
    make: (n) => new Int16Array(n),
    is: (a): a is Samples => a instanceof Int16Array,
  },
  float32: {
    bytes: 4,
    format: 3,
    min: -Infinity,
    max: Infinity,
    make: (n) => new Float32Array(n),
    is: (a): a is Samples => a instanceof Float32Array,
  },
};

/** Geographic CRSs beyond WGS84/CGCS2000 that GeographicTypeGeoKey may carry; others are projected. */
const MORE_GEOGRAPHIC = new Set([
  4019, 4148, 4167, 4214, 4230, 4258, 4267, 4269, 4283, 4555, 4610, 4612, 4674,
]);

const TIFF_SHORT = 3;
const TIFF_LONG = 4;
const TIFF_ASCII = 2;
const TIFF_DOUBLE = 12;
const TYPE_SIZE: Record<number, number> = {
  [TIFF_ASCII]: 1,
  [TIFF_SHORT]: 2,
  [TIFF_LONG]: 4,
  [TIFF_DOUBLE]: 8,
};
const MAX_CLASSIC = 2 ** 32 - 1;

/** GDAL 3.6 writes exactly this (the final space pads the block, as GDAL's does). */
const GHOST_BODY =
  'LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n' +
  'BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ';

interface Level {
  width: number;
  height: number;
  bands: Samples[];
}

interface Plan {
  grid: Grid;
  dt: DtypeInfo;
  levels: Level[];
  spp: number;
  block: number;
  compression: 'deflate' | 'none';
  /** 1 none, 2 horizontal, 3 floating point. */
  predictor: 1 | 2 | 3;
  zlevel: number;
  nodata: number | null;
  metadataXml: string | null;
}

function invalid(message: string): SkypatrolError {
  return new SkypatrolError('VALIDATION', `writeCog: ${message}`);
}

function plan(opts: CogOptions): Plan {
  if (endianness() !== 'LE') throw new SkypatrolError('INTERNAL', 'writeCog needs a little-endian host');
  const { grid } = opts;
  const dt = DTYPES[opts.dtype];
  if (!dt) throw invalid(`unsupported dtype ${String(opts.dtype)}`);
  const { width, height } = grid ?? ({} as Grid);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw invalid(`grid size ${width}×${height} is not a positive integer size`);
  }
  if (!(grid.resX > 0 && grid.resY > 0) || !Number.isFinite(grid.originX) || !Number.isFinite(grid.originY)) {
    throw invalid('grid must be north-up with finite origin and resX, resY > 0');
  }
  if (!Number.isInteger(grid.epsg) || grid.epsg < 1024 || grid.epsg > 32766) {
    throw invalid(`EPSG code ${grid.epsg} cannot be written as a GeoKey`);
  }
  if (!Array.isArray(opts.bands) || opts.bands.length < 1) throw invalid('at least one band is needed');
  const block = opts.blockSize ?? 512;
  if (!Number.isInteger(block) || block < 16 || block > 4096 || block % 16 !== 0) {
    throw invalid(`blockSize ${block} must be a multiple of 16 between 16 and 4096 (TIFF tiles)`);
  }
  const compression = opts.compression ?? 'deflate';
  if (compression !== 'deflate' && compression !== 'none') throw invalid(`compression ${compression}?`);
  const zlevel = opts.level ?? 6;
  if (!Number.isInteger(zlevel) || zlevel < 0 || zlevel > 9) throw invalid(`zlib level ${zlevel} not in 0–9`);
  const nodata = opts.nodata ?? null;
  if (
    nodata !== null &&
    opts.dtype !== 'float32' &&
    !(Number.isInteger(nodata) && nodata >= dt.min && nodata <= dt.max)
  ) {
    throw invalid(`nodata ${nodata} is not a ${opts.dtype} value`);
  }
  const n = width * height;
  const bands = opts.bands.map((b, i) => {
    if (!b || b.length !== n) {
      throw invalid(`band ${i + 1} has ${b?.length} values, the ${width}×${height} grid needs ${n}`);
    }
    return toSamples(b, dt, nodata);
  });
  const wantsPredictor = opts.predictor ?? opts.dtype !== 'uint8';
  // libtiff applies predictors only inside codecs: with no compression the tag would lie.
  const predictor = compression === 'none' || !wantsPredictor ? 1 : opts.dtype === 'float32' ? 3 : 2;
  const resampling = opts.overviewResampling ?? 'average';
  if (resampling !== 'average' && resampling !== 'nearest') throw invalid(`resampling ${resampling}?`);
  const levels: Level[] = [{ width, height, bands }];
  if (opts.overviews ?? true) {
    // GDAL 3.6 COG: overview k is floor(size / 2^k), each level from the previous one.
    for (let k = 1; width >> (k - 1) > block || height >> (k - 1) > block; k++) {
      const prev = levels[k - 1]!;
      const w = Math.max(1, Math.floor(width / 2 ** k));
      const h = Math.max(1, Math.floor(height / 2 ** k));
      const next = prev.bands.map((src) =>
        resampling === 'nearest'
          ? nearest(src, prev.width, prev.height, w, h, dt)
          : average(src, prev.width, prev.height, w, h, dt, opts.dtype, nodata),
      );
      levels.push({ width: w, height: h, bands: next });
    }
  }
  return {
    grid,
    dt,
    levels,
    spp: bands.length,
    block,
    compression,
    predictor,
    zlevel,
    nodata,
    metadataXml: gdalMetadata(opts, bands.length),
  };
}

/** Typed arrays of the right type are used as is; anything else is rounded and clamped. */
function toSamples(src: ArrayLike<number>, dt: DtypeInfo, nodata: number | null): Samples {
  if (dt.is(src)) return src;
  const out = dt.make(src.length);
  if (dt.format === 3) {
    out.set(src as ArrayLike<number>);
    return out;
  }
  const fill = nodata ?? 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    out[i] = Number.isNaN(v) ? fill : v <= dt.min ? dt.min : v >= dt.max ? dt.max : Math.round(v);
  }
  return out;
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}

/** The GDAL_METADATA XML GDAL writes for band offset, scale and description. */
function gdalMetadata(opts: CogOptions, spp: number): string | null {
  const desc = opts.description ?? [];
  if (desc.length > spp) throw invalid(`${desc.length} descriptions for ${spp} band(s)`);
  for (const v of [opts.scale, opts.offset]) {
    if (v !== undefined && !Number.isFinite(v)) throw invalid(`scale/offset ${v} is not finite`);
  }
  const items: string[] = [];
  for (let b = 0; b < spp; b++) {
    if (opts.offset !== undefined) {
      items.push(`  <Item name="OFFSET" sample="${b}" role="offset">${opts.offset}</Item>`);
    }
    if (opts.scale !== undefined) {
      items.push(`  <Item name="SCALE" sample="${b}" role="scale">${opts.scale}</Item>`);
    }
    const d = desc[b];
    if (d) items.push(`  <Item name="DESCRIPTION" sample="${b}" role="description">${xmlEscape(d)}</Item>`);
  }
  return items.length ? `<GDALMetadata>\n${items.join('\n')}\n</GDALMetadata>\n` : null;
}

// ---------------------------------------------------------------------------------------
// Overviews, following GDAL's overview.cpp so that pixels match gdal_translate -of COG.

/** GDAL's float→integer conversion (GDALCopyWord): round half away from zero, clamp. */
function roundClamp(v: number, dt: DtypeInfo): number {
  const r = v < 0 ? Math.ceil(v - 0.5) : Math.floor(v + 0.5);
  return Math.min(Math.max(r, dt.min), dt.max);
}

/** GDAL replaces an average that lands on nodata by the nearest other value. */
function replacement(nodata: number, dt: DtypeInfo): number {
  if (dt.format === 3) return nodata === 0 ? Number.MIN_VALUE : nodata * (1 + 2 ** -23);
  return nodata === dt.max ? nodata - 1 : nodata + 1;
}

interface Span {
  start: number;
  end: number;
  /** Weights of the first and last source pixel (fractional when the ratio is not whole). */
  first: number;
  last: number;
  full: number;
}

function spans(srcSize: number, dstSize: number): Span[] {
  const ratio = srcSize / dstSize;
  const out: Span[] = [];
  for (let i = 0; i < dstSize; i++) {
    const a = i * ratio;
    const b = (i + 1) * ratio;
    const start = Math.trunc(a + 1e-8);
    let end = Math.ceil(b - 1e-8);
    if (end === start) end++;
    if (end > srcSize) end = srcSize;
    const first = end === start + 1 ? 1 : 1 - (a - start);
    const last = 1 - (end - b);
    const full = start + 1 < end ? first + (end - start - 2) + last : first;
    out.push({ start, end, first, last, full });
  }
  return out;
}

function average(
  src: Samples,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  dt: DtypeInfo,
  dtype: Dtype,
  nodata: number | null,
): Samples {
  const dst = dt.make(dw * dh);
  // GDAL averages bytes and uint16 in integers, everything else in float32.
  const integerWork = dtype === 'uint8' || dtype === 'uint16';
  const nd = nodata === null ? null : dtype === 'float32' ? Math.fround(nodata) : nodata;
  const ndIsNaN = nd !== null && Number.isNaN(nd);
  if (nd === null && sw === 2 * dw && sh === 2 * dh) {
    const simd = dw - (dw % 4);
    for (let y = 0; y < dh; y++) {
      let s = 2 * y * sw;
      let d = y * dw;
      for (let x = 0; x < dw; x++, s += 2, d++) {
        const t = src[s]! + src[s + 1]! + src[s + sw]! + src[s + sw + 1]!;
        if (integerWork) dst[d] = (t + 2) >> 2;
        else if (dtype === 'float32') {
          // Float32 sums in GDAL's order: its SSE2 loop (4 outputs at a time) adds columns
          // first, the scalar tail adds left to right.
          const f =
            x < simd
              ? Math.fround(Math.fround(src[s]! + src[s + sw]!) + Math.fround(src[s + 1]! + src[s + sw + 1]!))
              : Math.fround(
                  Math.fround(Math.fround(src[s]! + src[s + 1]!) + src[s + sw]!) + src[s + sw + 1]!,
                );
          dst[d] = 0.25 * f;
        } else dst[d] = roundClamp(t * 0.25, dt);
      }
    }
    return dst;
  }
  const xs = spans(sw, dw);
  const ys = spans(sh, dh);
  const repl = nd === null || ndIsNaN ? Number.NaN : replacement(nd, dt);
  for (let y = 0; y < dh; y++) {
    const sy = ys[y]!;
    for (let x = 0; x < dw; x++) {
      const sx = xs[x]!;
      let total = 0;
      let weight = 0;
      if (nd === null) {
        for (let r = sy.start; r < sy.end; r++) {
          const row = r * sw;
          let line = src[row + sx.start]! * sx.first;
          if (sx.start + 1 < sx.end) {
            for (let c = sx.start + 1; c + 1 < sx.end; c++) line += src[row + c]!;
            line += src[row + sx.end - 1]! * sx.last;
          }
          total += line * (r === sy.start ? sy.first : r + 1 === sy.end ? sy.last : 1);
        }
        weight = sx.full * sy.full;
      } else {
        let count = 0;
        for (let r = sy.start; r < sy.end; r++) {
          const row = r * sw;
          let line = 0;
          let lineWeight = 0;
          for (let c = sx.start; c < sx.end; c++) {
            const v = src[row + c]!;
            if (v === nd || (ndIsNaN && Number.isNaN(v))) continue;
            const w = c === sx.start ? sx.first : c + 1 === sx.end ? sx.last : 1;
            count++;
            line += v * w;
            lineWeight += w;
          }
          const wy = r === sy.start ? sy.first : r + 1 === sy.end ? sy.last : 1;
          total += line * wy;
          weight += lineWeight * wy;
        }
        if (count === 0) {
          dst[y * dw + x] = nd;
          continue;
        }
      }
      let v: number;
      if (integerWork) v = Math.trunc(total / weight + 0.5);
      else v = Math.fround(total / weight);
      if (nd !== null && v === nd) v = repl;
      if (dtype === 'int16') {
        v = roundClamp(v, dt);
        if (v === nd) v = repl;
      }
      dst[y * dw + x] = v;
    }
  }
  return dst;
}

function nearest(src: Samples, sw: number, sh: number, dw: number, dh: number, dt: DtypeInfo): Samples {
  const dst = dt.make(dw * dh);
  const rx = sw / dw;
  const ry = sh / dh;
  const cols = new Int32Array(dw);
  for (let x = 0; x < dw; x++) cols[x] = Math.min(sw - 1, Math.trunc(0.5 + x * rx));
  for (let y = 0; y < dh; y++) {
    const row = Math.min(sh - 1, Math.trunc(0.5 + y * ry)) * sw;
    const d = y * dw;
    for (let x = 0; x < dw; x++) dst[d + x] = src[row + cols[x]!]!;
  }
  return dst;
}

// ---------------------------------------------------------------------------------------
// Tiles.

interface TileRef {
  level: number;
  tx: number;
  ty: number;
}

/** Tiles in file order: smallest overview first, row-major inside each level. */
function tileOrder(p: Plan): TileRef[] {
  const out: TileRef[] = [];
  for (let level = p.levels.length - 1; level >= 0; level--) {
    const { width, height } = p.levels[level]!;
    for (let ty = 0; ty < Math.ceil(height / p.block); ty++) {
      for (let tx = 0; tx < Math.ceil(width / p.block); tx++) out.push({ level, tx, ty });
    }
  }
  return out;
}

/** One tile's uncompressed bytes, pixel-interleaved, zero-padded, predictor applied. */
function rawTile(p: Plan, { level, tx, ty }: TileRef): Uint8Array {
  const { width, bands } = p.levels[level]!;
  const bs = p.block;
  const spp = p.spp;
  const x0 = tx * bs;
  const y0 = ty * bs;
  const w = Math.min(bs, width - x0);
  const h = Math.min(bs, p.levels[level]!.height - y0);
  const tile = p.dt.make(bs * bs * spp);
  if (spp === 1) {
    const band = bands[0]!;
    for (let r = 0; r < h; r++) {
      const s = (y0 + r) * width + x0;
      tile.set(band.subarray(s, s + w), r * bs);
    }
  } else {
    for (let b = 0; b < spp; b++) {
      const band = bands[b]!;
      for (let r = 0; r < h; r++) {
        const s = (y0 + r) * width + x0;
        let d = r * bs * spp + b;
        for (let c = 0; c < w; c++, d += spp) tile[d] = band[s + c]!;
      }
    }
  }
  const bytes = new Uint8Array(tile.buffer, tile.byteOffset, tile.byteLength);
  // Rows below the image are zeros, which both predictors leave as zeros.
  const rowSamples = bs * spp;
  const used = Math.min(bs, w + 1) * spp;
  if (p.predictor === 2) {
    const u = p.dt.bytes === 1 ? bytes : new Uint16Array(tile.buffer, tile.byteOffset, tile.length);
    for (let r = 0; r < h; r++) {
      const base = r * rowSamples;
      for (let i = base + used - 1; i >= base + spp; i--) u[i] = u[i]! - u[i - spp]!;
    }
  } else if (p.predictor === 3) {
    floatPredictor(bytes, bs, spp, h);
  }
  return bytes;
}

/** libtiff's floating-point predictor: per row, split bytes into planes (MSB first), then byte deltas. */
function floatPredictor(bytes: Uint8Array, bs: number, spp: number, rows: number): void {
  const words = bs * spp;
  const rowBytes = words * 4;
  const tmp = new Uint8Array(rowBytes);
  for (let r = 0; r < rows; r++) {
    const base = r * rowBytes;
    tmp.set(bytes.subarray(base, base + rowBytes));
    for (let k = 0; k < words; k++) {
      const s = 4 * k;
      bytes[base + k] = tmp[s + 3]!;
      bytes[base + words + k] = tmp[s + 2]!;
      bytes[base + 2 * words + k] = tmp[s + 1]!;
      bytes[base + 3 * words + k] = tmp[s]!;
    }
    for (let i = base + rowBytes - 1; i >= base + spp; i--) bytes[i] = bytes[i]! - bytes[i - spp]!;
  }
}

// ---------------------------------------------------------------------------------------
// TIFF structure.

interface Entry {
  tag: number;
  type: number;
  values: number[] | Buffer;
}

const ascii = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const count = (e: Entry) => e.values.length;
const payload = (e: Entry) => count(e) * TYPE_SIZE[e.type]!;

function ifdSize(entries: Entry[]): number {
  let size = 2 + 12 * entries.length + 4;
  for (const e of entries) if (payload(e) > 4) size += payload(e) + (payload(e) & 1);
  return size;
}

function putValues(buf: Buffer, at: number, e: Entry): void {
  if (Buffer.isBuffer(e.values)) {
    e.values.copy(buf, at);
    return;
  }
  const vs = e.values;
  for (let i = 0; i < vs.length; i++) {
    if (e.type === TIFF_SHORT) buf.writeUInt16LE(vs[i]!, at + 2 * i);
    else if (e.type === TIFF_LONG) buf.writeUInt32LE(vs[i]!, at + 4 * i);
    else buf.writeDoubleLE(vs[i]!, at + 8 * i);
  }
}

function writeIfd(buf: Buffer, at: number, entries: Entry[], next: number): void {
  buf.writeUInt16LE(entries.length, at);
  let extra = at + 2 + 12 * entries.length + 4;
  entries.forEach((e, i) => {
    const pos = at + 2 + 12 * i;
    buf.writeUInt16LE(e.tag, pos);
    buf.writeUInt16LE(e.type, pos + 2);
    buf.writeUInt32LE(count(e), pos + 4);
    if (payload(e) <= 4) putValues(buf, pos + 8, e);
    else {
      buf.writeUInt32LE(extra, pos + 8);
      putValues(buf, extra, e);
      extra += payload(e) + (payload(e) & 1);
    }
  });
  buf.writeUInt32LE(next, at + 2 + 12 * entries.length);
}

function geoKeys(epsg: number): number[] {
  const geographic = isGeographic(epsg) || MORE_GEOGRAPHIC.has(epsg);
  const keys = [
    [1024, 0, 1, geographic ? 2 : 1], // GTModelTypeGeoKey: geographic / projected
    [1025, 0, 1, 1], // GTRasterTypeGeoKey: PixelIsArea
    geographic ? [2048, 0, 1, epsg] : [3072, 0, 1, epsg], // GeographicType / ProjectedCSType
  ];
  return [1, 1, 0, keys.length, ...keys.flat()];
}

function nodataText(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

function ifdEntries(p: Plan, level: number, offsets: number[], counts: number[]): Entry[] {
  const { width, height } = p.levels[level]!;
  const dim = (v: number) => ({ type: v > 0xffff ? TIFF_LONG : TIFF_SHORT, values: [v] });
  const perSample = (v: number) => Array.from({ length: p.spp }, () => v);
  const e: Entry[] = [];
  if (level > 0) e.push({ tag: 254, type: TIFF_LONG, values: [1] }); // reduced-resolution image
  e.push({ tag: 256, ...dim(width) }, { tag: 257, ...dim(height) });
  e.push({ tag: 258, type: TIFF_SHORT, values: perSample(p.dt.bytes * 8) });
  e.push({ tag: 259, type: TIFF_SHORT, values: [p.compression === 'deflate' ? 8 : 1] });
  e.push({ tag: 262, type: TIFF_SHORT, values: [1] }); // MinIsBlack
  e.push({ tag: 277, type: TIFF_SHORT, values: [p.spp] });
  e.push({ tag: 284, type: TIFF_SHORT, values: [1] }); // contiguous, as GDAL 3.6's COG driver
  if (p.predictor !== 1) e.push({ tag: 317, type: TIFF_SHORT, values: [p.predictor] });
  e.push(
    { tag: 322, type: TIFF_SHORT, values: [p.block] },
    { tag: 323, type: TIFF_SHORT, values: [p.block] },
  );
  e.push({ tag: 324, type: TIFF_LONG, values: offsets }, { tag: 325, type: TIFF_LONG, values: counts });
  if (p.spp > 1) e.push({ tag: 338, type: TIFF_SHORT, values: Array.from({ length: p.spp - 1 }, () => 0) });
  e.push({ tag: 339, type: TIFF_SHORT, values: perSample(p.dt.format) });
  if (level === 0) {
    const g = p.grid;
    e.push({ tag: 33550, type: TIFF_DOUBLE, values: [g.resX, g.resY, 0] });
    e.push({ tag: 33922, type: TIFF_DOUBLE, values: [0, 0, 0, g.originX, g.originY, 0] });
    e.push({ tag: 34735, type: TIFF_SHORT, values: geoKeys(g.epsg) });
    if (p.metadataXml) e.push({ tag: 42112, type: TIFF_ASCII, values: ascii(p.metadataXml) });
  }
  if (p.nodata !== null) e.push({ tag: 42113, type: TIFF_ASCII, values: ascii(nodataText(p.nodata)) });
  return e;
}

/** Header, ghost area and all IFDs, with the tile offsets filled in; `chunks` follow it. */
function assemble(p: Plan, tiles: TileRef[], data: Uint8Array[]): Buffer[] {
  const ghostBody = Buffer.from(GHOST_BODY, 'ascii');
  const ghost = Buffer.from(
    `GDAL_STRUCTURAL_METADATA_SIZE=${String(ghostBody.length).padStart(6, '0')} bytes\n${GHOST_BODY}`,
    'ascii',
  );
  const perLevel = p.levels.map((l) => Math.ceil(l.width / p.block) * Math.ceil(l.height / p.block));
  const zeros = (n: number) => Array.from({ length: n }, () => 0);
  const sizes = p.levels.map((_, k) => ifdSize(ifdEntries(p, k, zeros(perLevel[k]!), zeros(perLevel[k]!))));
  const firstIfd = 8 + ghost.length + ((8 + ghost.length) & 1);
  const ifdAt: number[] = [];
  let pos = firstIfd;
  for (const s of sizes) {
    ifdAt.push(pos);
    pos += s;
  }
  const offsets = perLevel.map(zeros);
  const counts = perLevel.map(zeros);
  const framing: Buffer[] = [];
  tiles.forEach((t, i) => {
    const bytes = data[i]!;
    const index = t.ty * Math.ceil(p.levels[t.level]!.width / p.block) + t.tx;
    const leader = Buffer.alloc(4);
    leader.writeUInt32LE(bytes.length);
    offsets[t.level]![index] = pos + 4;
    counts[t.level]![index] = bytes.length;
    framing.push(leader, Buffer.from(bytes.subarray(bytes.length - 4)));
    pos += bytes.length + 8;
  });
  if (pos > MAX_CLASSIC) {
    throw invalid(`the COG would be ${pos} bytes; classic TIFF stops at 4 GiB (BigTIFF is not written)`);
  }
  const head = Buffer.alloc(ifdAt[0]! + sizes.reduce((a, b) => a + b, 0));
  head.write('II*\0', 0, 'latin1');
  head.writeUInt32LE(firstIfd, 4);
  ghost.copy(head, 8);
  p.levels.forEach((_, k) => {
    writeIfd(head, ifdAt[k]!, ifdEntries(p, k, offsets[k]!, counts[k]!), ifdAt[k + 1] ?? 0);
  });
  const out: Buffer[] = [head];
  data.forEach((bytes, i) => {
    out.push(
      framing[2 * i]!,
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      framing[2 * i + 1]!,
    );
  });
  return out;
}

/** Sequential writev in batches (IOV_MAX, and Linux's ~2 GiB per call), finishing short writes. */
async function writeAll(fh: FileHandle, chunks: Buffer[]): Promise<number> {
  let position = 0;
  for (let i = 0; i < chunks.length; ) {
    const batch: Buffer[] = [];
    let size = 0;
    while (i < chunks.length && batch.length < 1000 && size < 256 * 2 ** 20) {
      batch.push(chunks[i]!);
      size += chunks[i++]!.length;
    }
    let { bytesWritten } = await fh.writev(batch, position);
    position += bytesWritten;
    while (bytesWritten < size) {
      const rest = Buffer.concat(batch).subarray(bytesWritten);
      const { bytesWritten: n } = await fh.write(rest, 0, rest.length, position);
      if (n === 0) throw new Error('the disk accepted no more bytes');
      bytesWritten += n;
      position += n;
    }
  }
  return position;
}

// ---------------------------------------------------------------------------------------
// Public API.

/**
 * Encode a COG in memory (synchronous; one core compresses). Throws VALIDATION for bad
 * options (band lengths, dtype/nodata, block size) and for files beyond 4 GiB.
 */
export function encodeCog(opts: CogOptions): Buffer {
  const p = plan(opts);
  const tiles = tileOrder(p);
  const data = tiles.map((t) => {
    const raw = rawTile(p, t);
    return p.compression === 'deflate' ? deflateSync(raw, { level: p.zlevel }) : raw;
  });
  return Buffer.concat(assemble(p, tiles, data));
}

/**
 * Write a COG to `path` (atomically: a temporary file in the same folder, then renamed),
 * compressing tiles on libuv's thread pool (UV_THREADPOOL_SIZE, default 4). The bytes are
 * those of encodeCog. Returns the size and SHA-256 of the file.
 */
export async function writeCog(path: string, opts: CogOptions): Promise<{ bytes: number; sha256: string }> {
  const p = plan(opts);
  const tiles = tileOrder(p);
  const data: Uint8Array[] = new Array(tiles.length);
  if (p.compression === 'deflate') {
    let next = 0;
    const lane = async () => {
      while (next < tiles.length) {
        const i = next++;
        data[i] = await new Promise<Buffer>((resolve, reject) => {
          deflate(rawTile(p, tiles[i]!), { level: p.zlevel }, (err, out) =>
            err ? reject(err) : resolve(out),
          );
        });
      }
    };
    const lanes = Math.min(tiles.length, availableParallelism() + 2);
    await Promise.all(Array.from({ length: lanes }, lane));
  } else {
    for (let i = 0; i < tiles.length; i++) data[i] = rawTile(p, tiles[i]!);
  }
  const chunks = assemble(p, tiles, data);
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.cog.tmp`);
  let bytes = 0;
  try {
    const fh = await open(tmp, 'w');
    try {
      bytes = await writeAll(fh, chunks);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw wrapError(err, 'INTERNAL', `writeCog: cannot write ${path}`);
  }
  return { bytes, sha256: hash.digest('hex') };
}
