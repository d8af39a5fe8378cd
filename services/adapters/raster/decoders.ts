import { inflateSync } from 'node:zlib';
import { addDecoder, BaseDecoder, getDecoder } from 'geotiff';

/** TIFF Compression tag values geotiff.js maps to its (pako) deflate decoder. */
export const DEFLATE_CODES = [8, 32946] as const;

/** A decoder as geotiff.js calls it: `decode(fileDirectory, compressed) → decoded bytes`. */
export interface BlockDecoder {
  decode(fileDirectory: unknown, buffer: ArrayBuffer): Promise<ArrayBuffer>;
}

/** An ArrayBuffer holding exactly the bytes of `view` (no copy when it already does). */
export function ownBuffer(view: Uint8Array): ArrayBuffer {
  const buf = view.buffer as ArrayBuffer;
  return view.byteOffset === 0 && view.byteLength === buf.byteLength
    ? buf
    : buf.slice(view.byteOffset, view.byteOffset + view.byteLength);
}

/**
 * Deflate through Node's zlib (C) instead of pako (JavaScript, ~3–8× slower here).
 * Only `decodeBlock` is replaced: geotiff's BaseDecoder.decode still applies predictors 2
 * and 3 afterwards, exactly as for its own DeflateDecoder.
 */
export class NativeDeflateDecoder extends BaseDecoder {
  decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    // inflateSync may hand back a slice of a larger (pooled) buffer for small outputs.
    return ownBuffer(inflateSync(new Uint8Array(buffer)));
  }
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
