import sharp from 'sharp';

/** Encode interleaved 8-bit RGBA pixels as PNG (sharp/libvips). */
export async function encodePng(rgba: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgba, { raw: { width, height, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
