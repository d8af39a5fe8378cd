import { inflate } from 'node:zlib';
import { getDecoder } from 'geotiff';
import {
  type BlockDecoder,
  blockBytes,
  DEFLATE_CODES,
  ownBuffer,
  type PredictorTags,
  undoHorizontalPredictor,
} from './decoders.ts';

/** Inflate on the thread pool, in one output chunk of `size` bytes when that is enough. */
function inflateAsync(data: Uint8Array, size: number): Promise<Buffer> {
  // zlib's default 16 KiB chunks would cost a thread-pool round trip each (32 per 512 KiB block).
  // Exactly the decoded size: the block then comes back as its own buffer, not copied out of a slice.
  const chunkSize = Math.max(1024, Math.min(16 * 1024 * 1024, size));
  return new Promise((ok, fail) => inflate(data, { chunkSize }, (err, out) => (err ? fail(err) : ok(out))));
}

/**
 * A block decoder that inflates deflate blocks on libuv's thread pool (Node's zlib, as the
 * native decoder does synchronously), so that the blocks of several bands — the three of a
 * map tile — decode in parallel while the event loop stays free; predictor 2 is then undone
 * on the main thread (`undoHorizontalPredictor`). Other compressions and predictors go to geotiff.js's decoders.
 * Pass it as `openRaster(href, { decoder: asyncDeflateDecoder })`.
 */
export const asyncDeflateDecoder: BlockDecoder = {
  async decode(fileDirectory: unknown, buffer: ArrayBuffer): Promise<ArrayBuffer> {
    const fd = fileDirectory as PredictorTags;
    const predictor = fd.Predictor ?? 1;
    if (
      (DEFLATE_CODES as readonly number[]).includes(fd.Compression ?? 1) &&
      (predictor === 1 || predictor === 2)
    ) {
      const block = ownBuffer(await inflateAsync(new Uint8Array(buffer), blockBytes(fd)));
      if (predictor === 1 || undoHorizontalPredictor(block, fd)) return block;
    }
    const decoder = (await getDecoder(fileDirectory as never)) as BlockDecoder;
    return decoder.decode(fileDirectory, buffer);
  },
};
