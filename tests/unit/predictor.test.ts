import { BaseDecoder } from 'geotiff';
import { describe, expect, it } from 'vitest';
import { undoHorizontalPredictor } from '../../services/adapters/raster/decoders.ts';

/** geotiff.js's own predictor path: BaseDecoder.decode on an already-inflated block. */
class Inflated extends BaseDecoder {
  decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    return buffer;
  }
}

function randomBlock(bytes: number, seed: number): ArrayBuffer {
  const u = new Uint8Array(bytes);
  let s = seed;
  for (let i = 0; i < bytes; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    u[i] = s & 0xff;
  }
  return u.buffer;
}

describe('undoHorizontalPredictor', () => {
  const layouts = [
    { name: 'tiled 16-bit', fd: { TileWidth: 16, TileLength: 8, BitsPerSample: [16] } },
    {
      name: 'tiled 8-bit, 3 samples interleaved',
      fd: { TileWidth: 9, TileLength: 5, BitsPerSample: [8, 8, 8] },
    },
    { name: 'tiled 32-bit', fd: { TileWidth: 7, TileLength: 4, BitsPerSample: [32] } },
    {
      name: 'planar 16-bit, 4 samples',
      fd: { TileWidth: 8, TileLength: 8, BitsPerSample: [16, 16, 16, 16], PlanarConfiguration: 2 },
    },
    {
      name: 'stripped 16-bit',
      fd: { StripOffsets: [0], ImageWidth: 12, ImageLength: 10, RowsPerStrip: 3, BitsPerSample: [16] },
    },
  ];
  for (const { name, fd } of layouts) {
    it(`equals geotiff.js's applyPredictor bit for bit: ${name}`, async () => {
      const full = { ImageWidth: 0, ImageLength: 0, ...fd, Predictor: 2 };
      const width = ('TileWidth' in fd ? fd.TileWidth : fd.ImageWidth) ?? 0;
      const height = ('TileLength' in fd ? fd.TileLength : fd.RowsPerStrip) ?? 0;
      const samples = fd.PlanarConfiguration === 2 ? 1 : fd.BitsPerSample.length;
      const bytes = width * height * samples * (fd.BitsPerSample[0]! / 8);
      const block = randomBlock(bytes, bytes);
      const theirs = await new Inflated().decode(full, block.slice(0));
      const ours = block.slice(0);
      expect(undoHorizontalPredictor(ours, full)).toBe(true);
      expect(new Uint8Array(ours)).toEqual(new Uint8Array(theirs));
    });
  }

  it('leaves mixed or odd bit depths to geotiff.js', () => {
    const block = randomBlock(64, 1);
    const before = new Uint8Array(block.slice(0));
    const fd = { TileWidth: 4, TileLength: 4, ImageWidth: 4, ImageLength: 4, BitsPerSample: [16, 8] };
    expect(undoHorizontalPredictor(block, fd)).toBe(false);
    expect(undoHorizontalPredictor(block, { ...fd, BitsPerSample: [12] })).toBe(false);
    expect(new Uint8Array(block)).toEqual(before);
  });
});
