import { inflateSync } from 'node:zlib';
import { addDecoder, BaseDecoder, getDecoder } from 'geotiff';
import { inflateBlockSync, nativeInflate } from './native-inflate.ts';

/** TIFF Compression tag values geotiff.js maps to its (pako) deflate decoder. */
export const DEFLATE_CODES = [8, 32946] as const;

/** A decoder as geotiff.js calls it: `decode(fileDirectory, compressed) → decoded bytes`. */
export interface BlockDecoder {
  decode(fileDirectory: unknown, buffer: ArrayBuffer): Promise<ArrayBuffer>;
}

/** Spare bytes after a block's decoded size in its inflate buffer (keeps 8-byte alignment). */
export const BLOCK_SLACK = 8;

/**
 * The decoded block as an ArrayBuffer: the inflate output's own buffer when the block fills it
 * but for at most BLOCK_SLACK trailing bytes (readers use the block's size, not the buffer's),
 * else a copy of exactly its bytes (a small output in Node's shared pool).
 */
export function blockBuffer(out: Uint8Array): ArrayBuffer {
  const buf = out.buffer as ArrayBuffer;
  return out.byteOffset === 0 && buf.byteLength - out.byteLength <= BLOCK_SLACK ? buf : ownBuffer(out);
}

/** An ArrayBuffer holding exactly the bytes of `view` (no copy when it already does). */
export function ownBuffer(view: Uint8Array): ArrayBuffer {
  const buf = view.buffer as ArrayBuffer;
  return view.byteOffset === 0 && view.byteLength === buf.byteLength
    ? buf
    : buf.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

/**
 * Milliseconds this thread has spent in the native decoder (inflate + predictor), for stage
 * timings: a caller reads it before and after a piece of work.
 */
export const decodeClock = { ms: 0 };

/**
 * Deflate through libdeflate (the native addon, native-inflate.ts) or else Node's zlib, both C,
 * instead of pako (JavaScript, ~3–8× slower here), with predictor 2 undone in one loop;
 * predictor 3 and other layouts go through geotiff's BaseDecoder.decode as for its own
 * DeflateDecoder.
 */
export class NativeDeflateDecoder extends BaseDecoder {
  /**
   * `size`: the decoded size when known. zlib then writes one output chunk of exactly that size
   * instead of 16 KiB chunks joined afterwards (32 allocations and a copy per 512² uint16 block):
   * about a fifth less CPU per block.
   */
  decodeBlock(buffer: ArrayBuffer, size?: number): ArrayBuffer {
    if (nativeInflate && size && size > 0) {
      // libdeflate (the addon); a block larger than its tags say goes to zlib below.
      const block = inflateBlockSync(nativeInflate, new Uint8Array(buffer), size);
      if (block) return block;
    }
    // A few bytes to spare: a chunk of exactly `size` fills before zlib has seen the end of the
    // stream, which costs another inflate call and another chunk of `size` bytes.
    const opts =
      size && size > 0 ? { chunkSize: Math.max(64, Math.min(size + BLOCK_SLACK, 256 * 1024 * 1024)) } : {};
    return blockBuffer(inflateSync(new Uint8Array(buffer), opts));
  }

  /** As BaseDecoder.decode, with horizontal differencing (predictor 2) undone in one tight loop. */
  override async decode(fileDirectory: unknown, buffer: ArrayBuffer): Promise<ArrayBuffer> {
    const t0 = performance.now();
    try {
      const fd = fileDirectory as PredictorTags;
      if ((fd.Predictor ?? 1) === 1) return this.decodeBlock(buffer, blockBytes(fd));
      if (fd.Predictor !== 2) return await super.decode(fileDirectory, buffer);
      const block = this.decodeBlock(buffer, blockBytes(fd));
      return undoHorizontalPredictor(block, fd) ? block : await super.decode(fileDirectory, buffer);
    } finally {
      decodeClock.ms += performance.now() - t0;
    }
  }
}

/** Decoded bytes of one block (tile, or strip) when uncompressed. */
export function blockBytes(fd: PredictorTags): number {
  const tiled = !fd.StripOffsets;
  const w = tiled ? (fd.TileWidth ?? fd.ImageWidth) : fd.ImageWidth;
  const h = tiled ? (fd.TileLength ?? fd.ImageLength) : (fd.RowsPerStrip ?? fd.ImageLength);
  const bits =
    fd.PlanarConfiguration === 2 ? fd.BitsPerSample[0]! : fd.BitsPerSample.reduce((a, b) => a + b, 0);
  // Tiles are whole even past the image's edge; a strip ends with the image.
  return Math.ceil((w * bits) / 8) * (tiled ? h : Math.min(h, fd.ImageLength));
}

/** The TIFF tags that say how a block is laid out and predicted. */
export interface PredictorTags {
  Compression?: number;
  Predictor?: number;
  StripOffsets?: unknown;
  TileWidth?: number;
  TileLength?: number;
  ImageWidth: number;
  ImageLength: number;
  RowsPerStrip?: number;
  BitsPerSample: number[];
  PlanarConfiguration?: number;
}

function undo8(a: Uint8Array, rowLen: number, height: number, stride: number): void {
  for (let r = 0, start = 0; r < height && start < a.length; r++, start += rowLen) {
    const end = Math.min(start + rowLen, a.length);
    if (stride === 1) {
      // One sample per pixel (the usual COG band): a running sum kept in a register.
      let acc = a[start]!;
      for (let i = start + 1; i < end; i++) {
        acc = (acc + a[i]!) & 0xff;
        a[i] = acc;
      }
    } else for (let i = start + stride; i < end; i++) a[i] = a[i]! + a[i - stride]!;
  }
}
function undo16(a: Uint16Array, rowLen: number, height: number, stride: number): void {
  for (let r = 0, start = 0; r < height && start < a.length; r++, start += rowLen) {
    const end = Math.min(start + rowLen, a.length);
    if (stride === 1) {
      // One sample per pixel (the usual COG band): a running sum kept in a register.
      let acc = a[start]!;
      for (let i = start + 1; i < end; i++) {
        acc = (acc + a[i]!) & 0xffff;
        a[i] = acc;
      }
    } else for (let i = start + stride; i < end; i++) a[i] = a[i]! + a[i - stride]!;
  }
}
function undo32(a: Uint32Array, rowLen: number, height: number, stride: number): void {
  for (let r = 0, start = 0; r < height && start < a.length; r++, start += rowLen) {
    const end = Math.min(start + rowLen, a.length);
    if (stride === 1) {
      // One sample per pixel (the usual COG band): a running sum kept in a register.
      let acc = a[start]!;
      for (let i = start + 1; i < end; i++) {
        acc = (acc + a[i]!) >>> 0;
        a[i] = acc;
      }
    } else for (let i = start + stride; i < end; i++) a[i] = a[i]! + a[i - stride]!;
  }
}

/**
 * Undo TIFF predictor 2 in place, exactly as geotiff.js's applyPredictor does (samples as
 * native-order integers of the block's bit depth, wrapping), but over one typed array instead
 * of a view and a nested loop per row. Returns false for layouts left to geotiff.js.
 */
export function undoHorizontalPredictor(block: ArrayBuffer, fd: PredictorTags): boolean {
  const bits = fd.BitsPerSample;
  const b = bits[0];
  if (!b || bits.some((x) => x !== b) || (b !== 8 && b !== 16 && b !== 32)) return false;
  const tiled = !fd.StripOffsets;
  const width = tiled ? fd.TileWidth! : fd.ImageWidth;
  const height = tiled ? fd.TileLength! : (fd.RowsPerStrip ?? fd.ImageLength);
  const stride = fd.PlanarConfiguration === 2 ? 1 : bits.length;
  const bytes = b / 8;
  const n = Math.floor(block.byteLength / bytes);
  // One loop per sample type, so each stays monomorphic (a shared loop over a union of typed
  // arrays runs several times slower).
  const rowLen = stride * width;
  if (b === 8) undo8(new Uint8Array(block, 0, n), rowLen, height, stride);
  else if (b === 16) undo16(new Uint16Array(block, 0, n), rowLen, height, stride);
  else undo32(new Uint32Array(block, 0, n), rowLen, height, stride);
  return true;
}

let geotiffDeflate: (new () => BlockDecoder) | undefined;
let registered = false;

/**
 * Make geotiff.js use the native deflate decoder for every image in this process
 * (idempotent). The shipped decoder stays available through `geotiffDeflateDecoder()`.
 */
export async function registerNativeDecoders(): Promise<void> {
  if (registered) return;
  await shippedDeflateClass(); // capture it before it is replaced
  addDecoder([...DEFLATE_CODES], async () => NativeDeflateDecoder);
  registered = true;
}

/** Put geotiff.js's own (pako) deflate decoder back in its registry (for comparisons). */
export async function restoreGeotiffDecoders(): Promise<void> {
  const Shipped = await shippedDeflateClass();
  addDecoder([...DEFLATE_CODES], async () => Shipped);
  registered = false;
}

/** An instance of the deflate decoder geotiff.js ships (pako), whatever is registered. */
export async function geotiffDeflateDecoder(): Promise<BlockDecoder> {
  return new (await shippedDeflateClass())();
}

async function shippedDeflateClass(): Promise<new () => BlockDecoder> {
  if (!geotiffDeflate) {
    const shipped = (await getDecoder({ Compression: 8 })) as BlockDecoder;
    geotiffDeflate = shipped.constructor as new () => BlockDecoder;
  }
  return geotiffDeflate;
}
