import zlib from 'node:zlib';
import sharp from 'sharp';
import { tileScratch } from '../cache/scratch.ts';

/** Encode interleaved 8-bit RGBA pixels as PNG (sharp/libvips). */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgba, { raw: { width, height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

// ---------------------------------------------------------------------------------------
// A small direct PNG encoder for map tiles.

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (zlib's own where Node has it, ≥ 20.15). */
const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (data) => (zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32(data)
    : (data) => {
        let c = -1;
        for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
        return (c ^ -1) >>> 0;
      };

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * PNG scanlines with the Average filter on every row (type 3: each byte minus the mean of
 * its left and upper neighbours), the filter that made imagery tiles smallest in the tile
 * benchmark among None/Sub/Up/Average/Paeth, and far cheaper than libpng's adaptive choice.
 */
export function filterAverage(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  /** Where to write the rows ((width · channels + 1) · height bytes, every one written). */
  into?: Uint8Array,
): Uint8Array {
  const stride = width * channels;
  const out = into ?? new Uint8Array((stride + 1) * height);
  if (out.length !== (stride + 1) * height) {
    throw new RangeError(`filterAverage: ${out.length} bytes for ${(stride + 1) * height}`);
  }
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1) + 1;
    const s = y * stride;
    out[o - 1] = 3;
    if (y === 0) {
      for (let i = 0; i < channels; i++) out[o + i] = pixels[s + i]!;
      for (let i = channels; i < stride; i++) out[o + i] = pixels[s + i]! - (pixels[s + i - channels]! >> 1);
      continue;
    }
    const p = s - stride;
    for (let i = 0; i < channels; i++) out[o + i] = pixels[s + i]! - (pixels[p + i]! >> 1);
    for (let i = channels; i < stride; i++) {
      out[o + i] = pixels[s + i]! - ((pixels[s + i - channels]! + pixels[p + i]!) >> 1);
    }
  }
  return out;
}

/**
 * 8-bit RGB (3 channels) or RGBA (4) pixels as a PNG, for map tiles: Average-filtered rows,
 * deflated by Node's zlib with the run-length strategy (distance-1 matches only). On the tile
 * benchmark's imagery this is 3–4× faster than sharp at level 6 with adaptive filters and about
 * as small (filtered imagery is mostly Huffman-coded noise; runs cover flat and transparent
 * areas). The deflate runs on the calling thread: about 1.3 ms for a 256 × 256 RGB tile, where
 * handing it to libuv's thread pool and back cost a cold tile about 3 ms more on the 2-core
 * benchmark machine (tests/bench/tiles-cold.ts, same minutes, 80 tiles a row: p50 z13
 * 9.8–11.7 → 7.4–7.5 ms, z14 9.2–10.1 → 6.3–7.5 ms, CPU per tile unchanged).
 */
export async function encodeTilePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 3 | 4,
): Promise<Buffer> {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodeTilePng: ${pixels.length} bytes for ${width}×${height}×${channels}`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 4 ? 6 : 2; // colour type: RGBA / RGB
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering (per-row filter bytes)
  ihdr[12] = 0; // no interlace
  // The filtered rows only live until deflate returns: a reused buffer (tileScratch).
  const filtered = filterAverage(
    pixels,
    width,
    height,
    channels,
    tileScratch.uint8((width * channels + 1) * height),
  );
  const idat = zlib.deflateSync(filtered, {
    level: 6,
    strategy: zlib.constants.Z_RLE,
    // One output chunk larger than the worst case (stored blocks: 5 bytes per 16 KiB plus the
    // zlib header and checksum), not 16 KiB chunks joined afterwards.
    chunkSize: filtered.length + 5 * Math.ceil(filtered.length / 16384) + 64,
  });
  tileScratch.give(filtered);
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
