import { type FileHandle, open } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GeoTIFF, type GeoTIFFImage, getDecoder } from 'geotiff';
import { SkypatrolError, wrapError } from '../../core/errors.ts';
import { type Grid, gridBounds } from '../../domain/geo/grid.ts';
import { type BlockCache, type DecodedBlockCache, defaultBlockCache } from './block-cache.ts';
import {
  type BlockDecoder,
  DEFLATE_CODES,
  geotiffDeflateDecoder,
  ownBuffer,
  registerNativeDecoders,
} from './decoders.ts';

/**
 * Windowed reading of GeoTIFF / COG rasters from local files and HTTP(S) range requests.
 * geotiff.js parses the IFDs and decodes blocks; fetching (cache, retries, timeouts),
 * integrity checks and the assembly of windows into float32 are done here, because
 * geotiff.js's per-pixel DataView copy costs more than the decoding itself.
 */

export interface RasterInfo {
  href: string;
  width: number;
  height: number;
  bands: number;
  dtype: string;
  epsg: number;
  bounds: [number, number, number, number];
  grid: Grid;
  tileSize: [number, number] | null;
  overviews: { width: number; height: number }[];
  nodata: number | null;
  compression: string;
}

export interface WindowRead {
  width: number;
  height: number;
  /** One array per requested band, row-major; nodata becomes NaN. */
  data: Float32Array[];
  /** The window actually read, after clamping and rounding, in pixels of the level read. */
  window: [number, number, number, number];
}

export interface ReadWindowOptions {
  /** x0, y0, x1, y1 in full-resolution pixel coordinates (end-exclusive), clamped to the image. */
  window: [number, number, number, number];
  /** 0-based band indices, default all. */
  bands?: number[];
  /** 0 = full resolution, k = the k-th overview (k-th largest reduced-resolution image). */
  overview?: number;
  signal?: AbortSignal;
  /**
   * Allocates each band's output (`length` values; every one is written): for callers that
   * reuse buffers (map tiles, `ScratchPool`). Default: new zero-filled arrays.
   */
  allocate?: (length: number) => Float32Array;
}

export interface RasterSource {
  readonly info: RasterInfo;
  readWindow(opts: ReadWindowOptions): Promise<WindowRead>;
  close(): Promise<void>;
}

export interface OpenRasterOptions {
  /** Per HTTP request (default 20 s). */
  timeoutMs?: number;
  /** Extra attempts after a network error, timeout, 5xx or 429 (default 3; never on 4xx). */
  retries?: number;
  /** Byte-block cache; HTTP sources default to the process-wide one, local files use none. */
  cache?: BlockCache;
  /** Cancels the open and every later request of this source. */
  signal?: AbortSignal;
  /**
   * Block decoder: 'native' (default; Node zlib for deflate), 'geotiff' (geotiff.js's own
   * pako deflate — for comparisons), or a pool such as DecodePool.
   */
  decoder?: 'native' | 'geotiff' | BlockDecoder;
  /**
   * Keeps decoded blocks (after predictor and byte swapping) across reads and sources, keyed by
   * the file's identity and version; none by default.
   */
  decodedCache?: DecodedBlockCache;
  /**
   * Undo predictor 2 over each whole block once it is inflated (so a `decodedCache` keeps
   * finished blocks) instead of summing, on every read, the rows a window copies. For reads
   * that take most of a block and meet blocks again (patrol tiles: 10 m bands in 1,040 px
   * windows, neighbouring tiles sharing blocks); map tiles, reading a ninth of a block, keep
   * the default (false).
   */
  predictorInBlocks?: boolean;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_RETRIES = 3;
/** A broken IFD chain could loop; real files have a handful of IFDs. */
const MAX_IFDS = 256;
/** Tiles in flight per window read: enough to hide HTTP latency, bounded for memory. */
const TILE_CONCURRENCY = 8;
/** Output bytes one readWindow may allocate. */
const MAX_WINDOW_BYTES = 2 ** 31;
/** Largest body accepted from a server that ignores Range (it is kept in memory). */
const MAX_WHOLE_BODY = 64 * 1024 * 1024;
const TIFF_MAGIC = new Set(['49492a00', '4d4d002a', '49492b00', '4d4d002b']);
const EMPTY = new Uint8Array(0);

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none',
  2: 'ccittrle',
  3: 'ccittfax3',
  4: 'ccittfax4',
  5: 'lzw',
  6: 'ojpeg',
  7: 'jpeg',
  8: 'deflate',
  32773: 'packbits',
  32946: 'deflate',
  34712: 'jpeg2000',
  34887: 'lerc',
  34925: 'lzma',
  50000: 'zstd',
  50001: 'webp',
};

// ---------------------------------------------------------------------------------------
// Byte readers: local files and HTTP range requests.

interface ByteReader {
  /** File size once known (HTTP: after the first response). */
  readonly size: number | null;
  /** Changes when the file does (mtime / ETag), so cached blocks of an old copy are not reused. */
  readonly version: string;
  /** Bytes [offset, offset+length), fewer at the end of the file. */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface Target {
  kind: 'file' | 'http';
  /** Path or full URL: identity for the cache. */
  location: string;
  /** For messages: the href without credentials or query string (signed URLs). */
  display: string;
}

function resolveHref(href: string): Target {
  if (/^https?:\/\//i.test(href)) {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      throw new SkypatrolError('SCENE_INVALID', `${href} is not a valid URL`);
    }
    const display = `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
    return { kind: 'http', location: url.toString(), display };
  }
  if (/^file:/i.test(href)) {
    let path: string;
    try {
      path = fileURLToPath(href);
    } catch (err) {
      throw wrapError(err, 'SCENE_INVALID', `${href} is not a valid file URL`);
    }
    return { kind: 'file', location: path, display: path };
  }
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(href)) {
    throw new SkypatrolError(
      'SCENE_INVALID',
      `${href}: unsupported scheme (use a local path, file:// or http(s)://)`,
    );
  }
  const path = resolvePath(href);
  return { kind: 'file', location: path, display: href };
}

async function openFileReader(path: string, display: string): Promise<ByteReader> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' || code === 'ENOTDIR'
        ? 'does not exist'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read (permission denied)'
          : `cannot be opened (${(err as Error).message})`;
    throw new SkypatrolError('SCENE_NOT_FOUND', `${display} ${why}`, { cause: err });
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new SkypatrolError('SCENE_NOT_TIFF', `${display} is not a file`);
  }
  const size = st.size;
  return {
    size,
    version: `${size}:${st.mtimeMs}`,
    async read(offset, length) {
      const end = Math.min(offset + length, size);
      if (!(end > offset)) return EMPTY;
      const buf = new Uint8Array(end - offset);
      let got = 0;
      while (got < buf.byteLength) {
        const { bytesRead } = await fh.read(buf, got, buf.byteLength - got, offset + got);
        if (bytesRead === 0) break; // shrank since stat; the caller's length checks catch it
        got += bytesRead;
      }
      return got === buf.byteLength ? buf : buf.subarray(0, got);
    },
    async close() {
      await fh.close();
    },
  };
}

function parseContentRange(
  header: string | null,
): { start: number; end: number; total: number | null } | null {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(header?.trim() ?? '');
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

function retryAfterMs(header: string | null): number {
  if (!header) return 0;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 10_000) : 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

class HttpReader implements ByteReader {
  size: number | null = null;
  version = '';
  #whole: Uint8Array | null = null;

  constructor(
    readonly url: string,
    readonly display: string,
    readonly timeoutMs: number,
    readonly retries: number,
    readonly signal: AbortSignal | undefined,
  ) {}

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.size !== null) length = Math.min(offset + length, this.size) - offset;
    if (!(length > 0)) return EMPTY;
    if (this.#whole) return this.#whole.slice(offset, offset + length);
    return this.#request(offset, length, signal ?? this.signal);
  }

  async close(): Promise<void> {
    this.#whole = null;
  }

  async #request(offset: number, length: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let reason = '';
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      let wait = 0;
      try {
        const timeout = AbortSignal.timeout(this.timeoutMs);
        const res = await fetch(this.url, {
          headers: { Range: `bytes=${offset}-${offset + length - 1}`, 'Accept-Encoding': 'identity' },
          signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
        });
        if (res.status === 206 || res.status === 200) return await this.#body(res, offset, length);
        await res.body?.cancel().catch(() => {});
        const status = res.status;
        if (status === 416) {
          // Asked past the end: only happens for a damaged file's offsets.
          const total = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
          if (total) this.size = Number(total[1]);
          return EMPTY;
        }
        if (status === 404 || status === 410) {
          throw new SkypatrolError('SCENE_NOT_FOUND', `${this.display} does not exist (HTTP ${status})`);
        }
        if (status === 401 || status === 403) {
          throw new SkypatrolError('SCENE_NOT_FOUND', `${this.display}: access denied (HTTP ${status})`);
        }
        if (status !== 429 && status < 500) {
          throw new SkypatrolError(
            'SCENE_INVALID',
            `${this.display} answered HTTP ${status} to a range request`,
          );
        }
        reason = `HTTP ${status}`;
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof SkypatrolError) throw err;
        if (signal?.aborted) throw signal.reason;
        reason = networkReason(err, this.timeoutMs);
      }
      if (attempt >= this.retries) break;
      // Exponential back-off with jitter, so that many readers do not retry in step.
      const backoff = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await sleep(Math.max(wait, backoff), signal);
    }
    throw new SkypatrolError(
      'SCENE_UNREACHABLE',
      `${this.display} is unreachable after ${this.retries + 1} attempts: ${reason}`,
      { retryable: true, details: { href: this.display, attempts: this.retries + 1, reason } },
    );
  }

  async #body(res: Response, offset: number, length: number): Promise<Uint8Array> {
    if (!this.version) {
      this.version =
        res.headers.get('etag') ?? res.headers.get('last-modified') ?? res.headers.get('content-range') ?? '';
    }
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || range.start !== offset) {
        await res.body?.cancel().catch(() => {});
        throw new SkypatrolError(
          'SCENE_INVALID',
          `${this.display} answered bytes ${range ? `${range.start}-${range.end}` : '?'} to a request for ${offset}-${offset + length - 1}`,
        );
      }
      if (range.total !== null) this.size = range.total;
      const data = new Uint8Array(await res.arrayBuffer());
      return data.byteLength > length ? data.slice(0, length) : data;
    }
    // 200: the server ignores Range; keep the whole (bounded) file rather than refetch it.
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > MAX_WHOLE_BODY) {
      await res.body?.cancel().catch(() => {});
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${this.display}: the server ignores HTTP range requests and the file is ${declared} bytes`,
      );
    }
    const whole = new Uint8Array(await res.arrayBuffer());
    this.#whole = whole;
    this.size = whole.byteLength;
    return whole.slice(offset, offset + length);
  }
}

// ---------------------------------------------------------------------------------------
// The byte source handed to geotiff.js (its BaseSource shape: fetch(slices) → ArrayBuffer[]).

class TiffByteSource {
  constructor(
    readonly reader: ByteReader,
    readonly cache: BlockCache | null,
    readonly fileKey: string,
  ) {}

  get fileSize(): number | null {
    return this.reader.size;
  }

  fetch(slices: { offset: number; length: number }[], signal?: AbortSignal): Promise<ArrayBuffer[]> {
    return Promise.all(
      slices.map(async ({ offset, length }) => {
        const bytes = this.cache
          ? await this.cache.read(
              this.fileKey,
              offset,
              length,
              (o, l) => this.reader.read(o, l, signal),
              this.reader.size,
            )
          : await this.reader.read(offset, length, signal);
        // Callers may transfer the buffer to a worker, so it must be exactly theirs.
        return ownBuffer(bytes);
      }),
    );
  }

  async close(): Promise<void> {
    await this.reader.close();
  }
}

// ---------------------------------------------------------------------------------------
// Metadata.

interface FileDirectory {
  ImageWidth: number;
  ImageLength: number;
  BitsPerSample: number[];
  SampleFormat?: number[];
  Compression?: number;
  Predictor?: number;
  PlanarConfiguration?: number;
  NewSubfileType?: number;
  SubfileType?: number;
  TileWidth?: number;
  TileLength?: number;
  TileOffsets?: ArrayLike<number>;
  TileByteCounts?: ArrayLike<number>;
  StripOffsets?: ArrayLike<number>;
  StripByteCounts?: ArrayLike<number>;
  ModelPixelScale?: number[];
  ModelTiepoint?: number[];
  ModelTransformation?: number[];
  GDAL_NODATA?: string;
}

const dirOf = (image: GeoTIFFImage) => image.fileDirectory as FileDirectory;

function epsgOf(image: GeoTIFFImage, display: string): number {
  const keys = (image.getGeoKeys() ?? {}) as Record<string, unknown>;
  const valid = (c: unknown): c is number => typeof c === 'number' && c > 0 && c < 32767;
  const projected = keys.ProjectedCSTypeGeoKey;
  const geographic = keys.GeographicTypeGeoKey;
  if (valid(projected)) return projected;
  // A projected model with a user-defined projection must not fall back to its base CRS.
  if (keys.GTModelTypeGeoKey !== 1 && valid(geographic)) return geographic;
  throw new SkypatrolError(
    'SCENE_CRS_UNSUPPORTED',
    `${display} has no EPSG code in its GeoKeys (missing or user-defined CRS); reproject it, e.g. gdalwarp -t_srs EPSG:4326`,
  );
}

function gridOf(image: GeoTIFFImage, epsg: number, display: string): Grid {
  const d = dirOf(image);
  const unsupported = (why: string) => new SkypatrolError('SCENE_CRS_UNSUPPORTED', `${display} ${why}`);
  let originX: number;
  let originY: number;
  let resX: number;
  let resY: number;
  const mt = d.ModelTransformation;
  const tp = d.ModelTiepoint;
  const ps = d.ModelPixelScale;
  if (mt && mt.length >= 16) {
    if (mt[1] !== 0 || mt[4] !== 0) throw unsupported('has a rotated or sheared grid');
    [resX, resY, originX, originY] = [mt[0]!, -mt[5]!, mt[3]!, mt[7]!];
  } else if (tp && tp.length >= 6 && ps && ps.length >= 2) {
    if (tp.length > 6) throw unsupported('is georeferenced by ground control points, not an affine grid');
    [resX, resY] = [ps[0]!, ps[1]!];
    originX = tp[3]! - tp[0]! * resX;
    originY = tp[4]! + tp[1]! * resY;
  } else {
    throw unsupported('has no georeferencing (no ModelTiepoint/ModelPixelScale or ModelTransformation)');
  }
  if (!(resX > 0 && resY > 0 && Number.isFinite(originX) && Number.isFinite(originY))) {
    throw unsupported('is not a north-up grid');
  }
  const keys = (image.getGeoKeys() ?? {}) as Record<string, unknown>;
  if (keys.GTRasterTypeGeoKey === 2) {
    // PixelIsPoint: the tie point is a pixel centre; GDAL shifts it to the corner too.
    originX -= resX / 2;
    originY += resY / 2;
  }
  return { epsg, width: image.getWidth(), height: image.getHeight(), originX, originY, resX, resY };
}

function parseNodata(raw: string | undefined): number | null {
  if (raw === undefined) return null;
  const s = raw.replace(/\0+$/, '').trim().toLowerCase();
  if (s === '') return null;
  if (/^[-+]?inf(inity)?$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (s === 'nan') return Number.NaN;
  const v = Number(s);
  return Number.isNaN(v) ? null : v;
}

function dtypeOf(d: FileDirectory): string {
  const format = d.SampleFormat?.[0] ?? 1;
  const bits = d.BitsPerSample[0] ?? 8;
  const kind = format === 3 ? 'float' : format === 2 ? 'int' : format === 1 ? 'uint' : `format${format}_`;
  return `${kind}${bits}`;
}

function blockArrays(d: FileDirectory): { offsets?: ArrayLike<number>; counts?: ArrayLike<number> } {
  return d.TileOffsets
    ? { offsets: d.TileOffsets, counts: d.TileByteCounts }
    : { offsets: d.StripOffsets, counts: d.StripByteCounts };
}

/**
 * geotiff.js reads past the end of a truncated file as zeros (looks like valid "no data");
 * every strip/tile of every IFD must lie inside the file.
 */
function assertComplete(images: GeoTIFFImage[], size: number | null, display: string): void {
  for (const image of images) {
    const { offsets, counts } = blockArrays(dirOf(image));
    if (!offsets || !counts || counts.length < offsets.length) {
      throw new SkypatrolError('SCENE_CORRUPT', `${display} has no (or incomplete) strip/tile offsets`);
    }
    if (size === null) continue;
    let end = 0;
    for (let i = 0; i < offsets.length; i++) end = Math.max(end, offsets[i]! + counts[i]!);
    if (end > size) {
      throw new SkypatrolError(
        'SCENE_CORRUPT',
        `${display} is truncated: its pixel data needs ${end} bytes, the file has ${size}`,
      );
    }
  }
}

async function readAllImages(tiff: GeoTIFF, display: string, signal?: AbortSignal): Promise<GeoTIFFImage[]> {
  const images: GeoTIFFImage[] = [];
  for (let i = 0; ; i++) {
    if (i >= MAX_IFDS) throw new SkypatrolError('SCENE_CORRUPT', `${display}: more than ${MAX_IFDS} IFDs`);
    try {
      images.push(await tiff.getImage(i));
    } catch (err) {
      // geotiff.js signals the end of the IFD chain with GeoTIFFImageIndexError (not exported).
      if (i > 0 && err instanceof Error && 'index' in err && /No image at index/.test(err.message)) break;
      if (signal?.aborted) throw signal.reason;
      throw wrapError(err, 'SCENE_CORRUPT', `${display}: cannot parse IFD ${i}`);
    }
  }
  return images;
}

// ---------------------------------------------------------------------------------------
// Window assembly.

const isNormalized = (format: number, bits: number) =>
  !(
    ((format === 1 || format === 2) && bits <= 32 && bits % 8 === 0) ||
    (format === 3 && (bits === 16 || bits === 32 || bits === 64))
  );

function bigEndianPredictor2(image: GeoTIFFImage): boolean {
  const d = dirOf(image);
  const bits = d.BitsPerSample;
  return (
    !(image as unknown as { littleEndian: boolean }).littleEndian &&
    d.Predictor === 2 &&
    (bits[0] === 16 || bits[0] === 32) &&
    bits.every((b) => b === bits[0])
  );
}

/**
 * How decoded blocks must be treated. Multi-byte samples of big-endian files are swapped
 * to native order once per block so the typed-array path applies; floating-point predictor
 * output is already native (geotiff.js, like libtiff, rebuilds host-order floats).
 */
function byteOrder(image: GeoTIFFImage): { swap: boolean; predictor2: boolean; little: boolean } {
  const d = dirOf(image);
  const bits = d.BitsPerSample;
  const format = d.SampleFormat?.[0] ?? 1;
  const fileLittle = (image as unknown as { littleEndian: boolean }).littleEndian;
  const uniform = bits.every((b) => b === bits[0]) && (d.SampleFormat ?? [1]).every((f) => f === format);
  const predictor2 = bigEndianPredictor2(image);
  const swap = !fileLittle && uniform && bits[0]! > 8 && !isNormalized(format, bits[0]!) && d.Predictor !== 3;
  return { swap, predictor2, little: fileLittle || swap || d.Predictor === 3 };
}

/**
 * Whether predictor 2 is undone while a block's pixels are copied into a window
 * (`copyPredicted`) instead of over the whole block once it is inflated: unsigned 8- or 16-bit
 * samples, one per pixel of a block (single-band or band-interleaved-by-block files), in
 * little-endian files. The block is then inflated as if it had no predictor, and only the
 * rows a window needs are summed, up to its last column: a map tile at z14 reads about a
 * ninth of a 512 × 512 block, and the whole-block pass cost about 0.5 ms per block.
 */
function predictorInCopy(image: GeoTIFFImage): boolean {
  const d = dirOf(image);
  const bits = d.BitsPerSample;
  const format = d.SampleFormat ?? [1];
  return (
    d.Predictor === 2 &&
    (image as unknown as { littleEndian: boolean }).littleEndian &&
    (bits[0] === 8 || bits[0] === 16) &&
    bits.every((b) => b === bits[0]) &&
    format.every((f) => f === 1) &&
    (image.getSamplesPerPixel() === 1 || d.PlanarConfiguration === 2)
  );
}

function swapBytes(buf: ArrayBuffer, bytes: number): void {
  const b = Buffer.from(buf, 0, buf.byteLength - (buf.byteLength % bytes));
  if (bytes === 2) b.swap16();
  else if (bytes === 4) b.swap32();
  else if (bytes === 8) b.swap64();
}

/** TIFF predictor 2 on native-order words: each sample adds its left neighbour's. */
function undoHorizontalPredictor(
  buf: ArrayBuffer,
  bytes: number,
  rowLen: number,
  rows: number,
  stride: number,
) {
  const a =
    bytes === 1
      ? new Uint8Array(buf)
      : bytes === 2
        ? new Uint16Array(buf, 0, buf.byteLength >> 1)
        : new Uint32Array(buf, 0, buf.byteLength >> 2);
  const n = Math.min(rows, Math.floor(a.length / rowLen));
  for (let r = 0; r < n; r++) {
    const base = r * rowLen;
    for (let i = base + stride; i < base + rowLen; i++) a[i] = a[i]! + a[i - stride]!;
  }
}

type Numeric =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** A typed view of a decoded block, or null when the slow DataView path is needed. */
function fastView(buf: ArrayBuffer, format: number, bits: number, native: boolean): Numeric | null {
  const normalized = isNormalized(format, bits);
  // Odd bit depths come back unpacked into native arrays (geotiff's normalizeArray).
  const bytes = bits <= 8 ? 1 : bits <= 16 ? 2 : bits <= 32 ? 4 : 8;
  if (!normalized && bytes > 1 && !native) return null;
  const n = Math.floor(buf.byteLength / bytes);
  if (format === 1) {
    if (bytes === 1) return new Uint8Array(buf, 0, n);
    if (bytes === 2) return new Uint16Array(buf, 0, n);
    if (bytes === 4) return new Uint32Array(buf, 0, n);
  } else if (format === 2) {
    if (bits === 8) return new Int8Array(buf, 0, n);
    if (bits === 16) return new Int16Array(buf, 0, n);
    if (bits === 32) return new Int32Array(buf, 0, n);
  } else if (format === 3) {
    if (bits === 32) return new Float32Array(buf, 0, n);
    if (bits === 64) return new Float64Array(buf, 0, n);
  }
  return null; // float16, mixed formats: slow path
}

interface Rect {
  /** Source: first row/col inside the block, and its row stride in samples. */
  srcRow: number;
  srcCol: number;
  srcStride: number;
  /** Destination: first row/col in the window. */
  dstRow: number;
  dstCol: number;
  dstWidth: number;
  w: number;
  h: number;
}

function copyFast(src: Numeric, spp: number, s: number, r: Rect, dst: Float32Array, nd: number | null): void {
  for (let y = 0; y < r.h; y++) {
    let si = (r.srcRow + y) * r.srcStride + r.srcCol * spp + s;
    let di = (r.dstRow + y) * r.dstWidth + r.dstCol;
    if (spp === 1) {
      dst.set(src.subarray(si, si + r.w), di);
      // Compare the source values: distinct large ints can round to one float32.
      if (nd !== null) for (let x = 0; x < r.w; x++) if (src[si + x] === nd) dst[di + x] = Number.NaN;
      continue;
    }
    for (let x = 0; x < r.w; x++, si += spp, di++) {
      const v = src[si]!;
      dst[di] = v === nd ? Number.NaN : v;
    }
  }
}

/**
 * `copyFast` for blocks whose predictor 2 is not yet undone (`predictorInCopy`): each row of
 * the rectangle is summed from the block's first column (a running sum wrapping at the sample
 * width, as TIFF's horizontal differencing does), the values copied as they are reached.
 */
function copyPredicted(src: Uint8Array | Uint16Array, r: Rect, dst: Float32Array, nd: number | null): void {
  const mask = src instanceof Uint8Array ? 0xff : 0xffff;
  const noData = nd ?? -1; // never equal to an unsigned sample
  for (let y = 0; y < r.h; y++) {
    const row = (r.srcRow + y) * r.srcStride;
    let acc = 0;
    for (let i = row, end = row + r.srcCol; i < end; i++) acc = (acc + src[i]!) & mask;
    const di = (r.dstRow + y) * r.dstWidth + r.dstCol;
    for (let x = 0, si = row + r.srcCol; x < r.w; x++, si++) {
      acc = (acc + src[si]!) & mask;
      dst[di + x] = acc === noData ? Number.NaN : acc;
    }
  }
}

function fill(dst: Float32Array, r: Rect, value: number): void {
  for (let y = 0; y < r.h; y++) {
    const di = (r.dstRow + y) * r.dstWidth + r.dstCol;
    dst.fill(value, di, di + r.w);
  }
}

async function runLimited(limit: number, jobs: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (next < jobs.length && !failure) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, lane));
  if (failure) throw failure.err;
}

// ---------------------------------------------------------------------------------------

/**
 * Open a GeoTIFF/COG for windowed reads: a local path, a file:// URL or an http(s):// URL
 * (range requests with per-request timeout, retries and a shared block cache). Fails with
 * SCENE_NOT_FOUND, SCENE_UNREACHABLE (retryable), SCENE_NOT_TIFF, SCENE_CORRUPT or
 * SCENE_CRS_UNSUPPORTED, naming the href.
 */
export async function openRaster(href: string, opts: OpenRasterOptions = {}): Promise<RasterSource> {
  const target = resolveHref(href);
  opts.signal?.throwIfAborted();
  await registerNativeDecoders();
  const { display } = target;
  let cache: BlockCache | null;
  let reader: ByteReader;
  let head: Uint8Array;
  if (target.kind === 'http') {
    cache = opts.cache ?? defaultBlockCache();
    const http = new HttpReader(
      target.location,
      display,
      opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      opts.retries ?? DEFAULT_RETRIES,
      opts.signal,
    );
    reader = http;
    // Always fetched afresh: it tells the size and ETag, and so which cached blocks are valid.
    head = await http.read(0, cache.blockSize);
  } else {
    cache = opts.cache ?? null;
    reader = await openFileReader(target.location, display);
    head = EMPTY;
  }
  try {
    if (target.kind === 'file') head = await reader.read(0, 8);
    const hex = Buffer.from(head.subarray(0, 4)).toString('hex');
    if (head.byteLength < 8 || !TIFF_MAGIC.has(hex)) {
      throw new SkypatrolError('SCENE_NOT_TIFF', `${display} is not a TIFF file`);
    }
    const fileKey = `${target.location}|${reader.version}`;
    if (
      cache &&
      target.kind === 'http' &&
      (head.byteLength === cache.blockSize || head.byteLength === reader.size)
    ) {
      cache.put(fileKey, 0, head);
    }
    const source = new TiffByteSource(reader, cache, fileKey);
    let tiff: GeoTIFF;
    try {
      tiff = await GeoTIFF.fromSource(source, {}, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw wrapError(err, 'SCENE_CORRUPT', `${display} is not a readable TIFF`);
    }
    const images = await readAllImages(tiff, display, opts.signal);
    const main = images[0]!;
    assertComplete(images, reader.size, display);
    const epsg = epsgOf(main, display);
    const grid = gridOf(main, epsg, display);
    const d = dirOf(main);
    const overviewImages = images
      .slice(1)
      .filter((im) => {
        const { NewSubfileType: nst = 0, SubfileType: st } = dirOf(im);
        return ((nst & 1) === 1 || st === 2) && (nst & 4) === 0; // reduced resolution, not a mask
      })
      .sort((a, b) => b.getWidth() - a.getWidth());
    const info: RasterInfo = {
      href,
      width: grid.width,
      height: grid.height,
      bands: main.getSamplesPerPixel(),
      dtype: dtypeOf(d),
      epsg,
      bounds: gridBounds(grid),
      grid,
      tileSize: d.TileWidth && d.TileLength ? [d.TileWidth, d.TileLength] : null,
      overviews: overviewImages.map((im) => ({ width: im.getWidth(), height: im.getHeight() })),
      nodata: parseNodata(d.GDAL_NODATA),
      compression: COMPRESSION_NAMES[d.Compression ?? 1] ?? `code ${d.Compression}`,
    };
    return new Source(info, display, tiff, [main, ...overviewImages], opts, fileKey);
  } catch (err) {
    await reader.close().catch(() => {});
    throw err;
  }
}

class Source implements RasterSource {
  readonly #decoders = new Map<GeoTIFFImage, Promise<BlockDecoder>>();
  #closed = false;

  constructor(
    readonly info: RasterInfo,
    readonly display: string,
    readonly tiff: GeoTIFF,
    /** Full resolution first, then the overviews, largest first. */
    readonly levels: GeoTIFFImage[],
    readonly opts: OpenRasterOptions,
    /** Path or URL and version (mtime / ETag) of the file: the decoded-block cache's key. */
    readonly fileKey: string,
  ) {}

  #decoderFor(image: GeoTIFFImage): Promise<BlockDecoder> {
    let p = this.#decoders.get(image);
    if (!p) {
      const d = dirOf(image);
      const compression = d.Compression ?? 1;
      const choice = this.opts.decoder ?? 'native';
      p = (async () => {
        try {
          let decoder: BlockDecoder;
          if (typeof choice === 'object' && compression !== 1) decoder = choice;
          else if (choice === 'geotiff' && (DEFLATE_CODES as readonly number[]).includes(compression)) {
            decoder = await geotiffDeflateDecoder();
          } else decoder = (await getDecoder(d)) as BlockDecoder;
          if (predictorInCopy(image)) {
            // Inflated as if without predictor: readWindow sums the rows it copies.
            const inner = decoder;
            const plain = { ...d, Predictor: 1 };
            return { decode: (_dir: unknown, buf: ArrayBuffer) => inner.decode(plain, buf) };
          }
          if (!bigEndianPredictor2(image)) return decoder;
          // geotiff.js undoes predictor 2 on big-endian words as if they were little-endian;
          // decode without it here, and readWindow swaps and undoes it itself.
          const inner = decoder;
          const plain = { ...d, Predictor: 1 };
          return { decode: (_dir: unknown, buf: ArrayBuffer) => inner.decode(plain, buf) };
        } catch (err) {
          throw wrapError(
            err,
            'SCENE_INVALID',
            `${this.display}: compression ${compression} is not supported`,
          );
        }
      })();
      this.#decoders.set(image, p);
    }
    return p;
  }

  async readWindow(opts: ReadWindowOptions): Promise<WindowRead> {
    const { display, info } = this;
    if (this.#closed) throw new SkypatrolError('SCENE_INVALID', `${display}: read after close`);
    const signal = opts.signal ?? this.opts.signal;
    const win = opts.window;
    if (
      !Array.isArray(win) ||
      win.length !== 4 ||
      !win.every(Number.isFinite) ||
      win[2] < win[0] ||
      win[3] < win[1]
    ) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${display}: bad window ${JSON.stringify(win)} (want [x0, y0, x1, y1])`,
      );
    }
    const level = opts.overview ?? 0;
    if (!Number.isInteger(level) || level < 0 || level >= this.levels.length) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${display} has ${this.levels.length - 1} overviews; overview ${level} was requested`,
      );
    }
    const bands = opts.bands ?? Array.from({ length: info.bands }, (_, i) => i);
    for (const b of bands) {
      if (!Number.isInteger(b) || b < 0 || b >= info.bands) {
        throw new SkypatrolError(
          'SCENE_MISSING_BAND',
          `${display} has ${info.bands} band(s); band index ${b} was requested`,
        );
      }
    }
    const image = this.levels[level]!;
    const iw = image.getWidth();
    const ih = image.getHeight();
    const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
    // Full-resolution window → this level's pixels, rounded outwards.
    const x0 = clamp(Math.floor((clamp(win[0], info.width) * iw) / info.width), iw);
    const x1 = clamp(Math.ceil((clamp(win[2], info.width) * iw) / info.width), iw);
    const y0 = clamp(Math.floor((clamp(win[1], info.height) * ih) / info.height), ih);
    const y1 = clamp(Math.ceil((clamp(win[3], info.height) * ih) / info.height), ih);
    const w = x1 - x0;
    const h = y1 - y0;
    if (w * h * bands.length * 4 > MAX_WINDOW_BYTES) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${display}: a ${w}×${h}×${bands.length} window is too large for one read; read it in parts or from an overview`,
      );
    }
    const allocate = opts.allocate ?? ((n: number) => new Float32Array(n));
    const data = bands.map(() => allocate(w * h));
    const read: WindowRead = { width: w, height: h, data, window: [x0, y0, x1, y1] };
    if (w === 0 || h === 0) return read;

    const d = dirOf(image);
    const spp = image.getSamplesPerPixel();
    const planar = d.PlanarConfiguration === 2 ? 2 : 1;
    const tw = image.getTileWidth();
    const th = image.getTileHeight();
    const tilesPerRow = Math.ceil(iw / tw);
    const tilesPerCol = Math.ceil(ih / th);
    const { counts } = blockArrays(d);
    const bits = d.BitsPerSample;
    const formats = d.SampleFormat ?? [1];
    const uniform = bits.every((b) => b === bits[0]) && formats.every((f) => f === formats[0]);
    const format = formats[0] ?? 1;
    const nodata = info.nodata;
    // Compare in the sample type: a float32 sample never equals a double like -3.4e38 exactly.
    const nd =
      nodata === null || Number.isNaN(nodata)
        ? null
        : format === 3 && bits[0] === 32
          ? Math.fround(nodata)
          : nodata;
    const sparseValue = nodata === null ? 0 : Number.NaN;
    const decoder = await this.#decoderFor(image);
    const order = byteOrder(image);
    // Blocks inflated without their predictor (`predictorInCopy`): undone while copying, or
    // over the whole block first (`predictorInBlocks`).
    const inflatedRaw = predictorInCopy(image);
    const inCopy = inflatedRaw && !this.opts.predictorInBlocks;

    // Which output arrays each sample feeds (a band may be requested twice).
    const targets = new Map<number, Float32Array[]>();
    bands.forEach((b, i) => {
      targets.set(b, [...(targets.get(b) ?? []), data[i]!]);
    });

    const jobs: (() => Promise<void>)[] = [];
    for (let ty = Math.floor(y0 / th); ty < Math.min(Math.ceil(y1 / th), tilesPerCol); ty++) {
      for (let tx = Math.floor(x0 / tw); tx < Math.min(Math.ceil(x1 / tw), tilesPerRow); tx++) {
        const blockH = image.getBlockHeight(ty);
        const ax0 = Math.max(x0, tx * tw);
        const ax1 = Math.min(x1, tx * tw + tw);
        const ay0 = Math.max(y0, ty * th);
        const ay1 = Math.min(y1, ty * th + blockH);
        if (ax1 <= ax0 || ay1 <= ay0) continue;
        const samples = planar === 2 ? [...targets.keys()] : [-1];
        for (const blockSample of samples) {
          const rect: Rect = {
            srcRow: ay0 - ty * th,
            srcCol: ax0 - tx * tw,
            srcStride: tw * (planar === 2 ? 1 : spp),
            dstRow: ay0 - y0,
            dstCol: ax0 - x0,
            dstWidth: w,
            w: ax1 - ax0,
            h: ay1 - ay0,
          };
          jobs.push(async () => {
            signal?.throwIfAborted();
            const index =
              (planar === 2 ? blockSample * tilesPerRow * tilesPerCol : 0) + ty * tilesPerRow + tx;
            const sampleList = planar === 2 ? [blockSample] : [...targets.keys()];
            if (!counts![index]) {
              // Sparse block (offset/count 0): GDAL reads it as nodata, or 0 without nodata.
              for (const s of sampleList) for (const dst of targets.get(s)!) fill(dst, rect, sparseValue);
              return;
            }
            const blockSpp = planar === 2 ? 1 : spp;
            // Decoded, checked and in native order; with a decoded-block cache, possibly shared
            // with other reads (never written to below).
            const decodeBlock = async (blockSignal: AbortSignal | undefined): Promise<ArrayBuffer> => {
              let buf: ArrayBuffer;
              try {
                const got = (await image.getTileOrStrip(
                  tx,
                  ty,
                  Math.max(blockSample, 0),
                  decoder as never,
                  blockSignal,
                )) as unknown as { data: ArrayBuffer };
                buf = got.data;
              } catch (err) {
                if (blockSignal?.aborted) throw blockSignal.reason;
                throw wrapError(
                  err,
                  'SCENE_CORRUPT',
                  `${display}: block ${tx},${ty} of ${level === 0 ? 'the full-resolution image' : `overview ${level}`} cannot be decoded`,
                );
              }
              const bytesPer = (planar === 2 ? bits[blockSample]! : bits.reduce((a, b) => a + b, 0)) / 8;
              if (buf.byteLength < Math.floor(tw * blockH * bytesPer) && uniform && bits[0]! % 8 === 0) {
                throw new SkypatrolError(
                  'SCENE_CORRUPT',
                  `${display}: block ${tx},${ty} decodes to ${buf.byteLength} bytes, ${tw * blockH * bytesPer} expected`,
                );
              }
              if (order.swap) swapBytes(buf, bits[0]! / 8);
              if (order.predictor2 || (inflatedRaw && !inCopy))
                undoHorizontalPredictor(buf, bits[0]! / 8, tw * blockSpp, blockH, blockSpp);
              return buf;
            };
            const shared = this.opts.decodedCache;
            let buf: ArrayBuffer;
            if (shared) {
              // A decode other reads may join is not tied to this read's signal.
              // Blocks still holding predictor 2's differences are kept apart from undone ones.
              const key = `${this.fileKey}|${level}|${index}${inCopy ? '|p2' : ''}`;
              buf = await shared.get(key, () => decodeBlock(undefined));
              signal?.throwIfAborted();
            } else buf = await decodeBlock(signal);
            for (const s of sampleList) {
              const sFormat = formats[s] ?? format;
              const sBits = bits[s]!;
              const view = uniform || planar === 2 ? fastView(buf, sFormat, sBits, order.little) : null;
              const sampleInBlock = planar === 2 ? 0 : s;
              for (const dst of targets.get(s)!) {
                if (inCopy) copyPredicted(view as Uint8Array | Uint16Array, rect, dst, nd);
                else if (view) copyFast(view, blockSpp, sampleInBlock, rect, dst, nd);
                else copySlow(image, buf, s, planar, rect, dst, nd, order.little);
              }
            }
          });
        }
      }
    }
    await runLimited(TILE_CONCURRENCY, jobs);
    return read;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.tiff.close();
  }
}

/** Per-pixel DataView path (float16, mixed sample types), as geotiff.js reads every pixel. */
function copySlow(
  image: GeoTIFFImage,
  buf: ArrayBuffer,
  sample: number,
  planar: number,
  r: Rect,
  dst: Float32Array,
  nd: number | null,
  littleEndian: boolean,
): void {
  const bits = dirOf(image).BitsPerSample;
  const reader = image.getReaderForSample(sample);
  const view = new DataView(buf);
  const bytesPerPixel = planar === 2 ? image.getSampleByteSize(sample) : image.getBytesPerPixel();
  let sampleOffset = 0;
  if (planar === 1) for (let i = 0; i < sample; i++) sampleOffset += bits[i]! / 8;
  const tw = r.srcStride / (planar === 2 ? 1 : image.getSamplesPerPixel());
  for (let y = 0; y < r.h; y++) {
    let di = (r.dstRow + y) * r.dstWidth + r.dstCol;
    for (let x = 0; x < r.w; x++, di++) {
      const offset = ((r.srcRow + y) * tw + r.srcCol + x) * bytesPerPixel + sampleOffset;
      const v = reader.call(view, offset, littleEndian);
      dst[di] = v === nd ? Number.NaN : v;
    }
  }
}
