// Decode worker for decode-pool.ts. Plain JavaScript on purpose: worker threads do not
// inherit the tsx loader when the CLI registers it programmatically (bin/skypatrol.mjs),
// so this file cannot import decoders.ts; the native deflate decoder is repeated here.
import { parentPort } from 'node:worker_threads';
import { inflateSync } from 'node:zlib';
import { addDecoder, BaseDecoder, getDecoder } from 'geotiff';

class NativeDeflateDecoder extends BaseDecoder {
  decodeBlock(buffer) {
    const out = inflateSync(new Uint8Array(buffer));
    return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength
      ? out.buffer
      : out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
  }
}

addDecoder([8, 32946], async () => NativeDeflateDecoder);

parentPort.on('message', async ({ id, fileDirectory, buffer }) => {
  try {
    const decoder = await getDecoder(fileDirectory);
    const decoded = await decoder.decode(fileDirectory, buffer);
    parentPort.postMessage({ id, decoded }, [decoded]);
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
