import { inflate } from 'node:zlib';
import { getDecoder } from 'geotiff';
import {
  BLOCK_SLACK,
  type BlockDecoder,
  blockBuffer,
  blockBytes,
  DEFLATE_CODES,
  type PredictorTags,
  undoHorizontalPredictor,
} from './decoders.ts';
import { inflateBlock, nativeInflate } from './native-inflate.ts';

/**
 * Inflate on the thread pool: through libdeflate where the addon is built (native-inflate.ts),
 * else through Node's zlib into one output buffer a few bytes larger than the block's
 * decoded `size` (BLOCK_SLACK), so that one pass ends the stream: zlib's default 16 KiB chunks
 * would cost a thread-pool round trip each (32 per 512 KiB block), and a buffer of exactly
 * `size` bytes fills before zlib has seen the end of the stream, which costs a second round
 * trip and a second buffer of the same size.
 */
async function inflateAsync(data: Uint8Array, size: number): Promise<ArrayBuffer> {
  const native = nativeInflate && size > 0 ? await inflateBlock(nativeInflate, data, size) : null;
  return native ?? zlibInflateAsync(data, size);
}

function zlibInflateAsync(data: Uint8Array, size: number): Promise<ArrayBuffer> {
  const chunkSize = Math.max(1024, Math.min(16 * 1024 * 1024, size + BLOCK_SLACK));
  return new Promise((ok, fail) =>
    inflate(data, { chunkSize }, (err, out) => (err ? fail(err) : ok(blockBuffer(out)))),
  );
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
      const block = await inflateAsync(new Uint8Array(buffer), blockBytes(fd));
      if (predictor === 1 || undoHorizontalPredictor(block, fd)) return block;
    }
    const decoder = (await getDecoder(fileDirectory as never)) as BlockDecoder;
    return decoder.decode(fileDirectory, buffer);
  },
};
