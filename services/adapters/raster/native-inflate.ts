import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * libdeflate's zlib decompressor through Skypatrol's small native addon
 * (native/inflate.c, built by scripts/build-native.sh against Debian's libdeflate-dev). GDAL
 * inflates COG blocks with libdeflate too; on the tile benchmark's blocks it takes about 60 % of
 * the time of Node's own zlib (docs/benchmarks-tiles.md). Where the addon is not built, the
 * readers use Node's zlib and `nativeInflateStatus` says why.
 */
export interface NativeInflate {
  /** Inflate a zlib stream into `output` on libuv's thread pool; resolves to the bytes written. */
  inflate(input: Uint8Array, output: Uint8Array): Promise<number>;
  /** The same on the calling thread. */
  inflateSync(input: Uint8Array, output: Uint8Array): number;
}

const ADDON = fileURLToPath(new URL('./native/build/inflate.node', import.meta.url));

function load(): { addon: NativeInflate | null; status: string } {
  if (process.env.SKYPATROL_NATIVE_INFLATE === '0') {
    return { addon: null, status: 'switched off (SKYPATROL_NATIVE_INFLATE=0)' };
  }
  if (!existsSync(ADDON))
    return { addon: null, status: `not built (${ADDON}; run bash scripts/build-native.sh)` };
  try {
    return { addon: createRequire(import.meta.url)(ADDON) as NativeInflate, status: 'libdeflate' };
  } catch (err) {
    return { addon: null, status: `cannot be loaded: ${(err as Error).message}` };
  }
}

const loaded = load();

/** The addon, or null (then Node's zlib inflates). */
export const nativeInflate: NativeInflate | null = loaded.addon;
/** 'libdeflate', or why the addon is not in use. */
export const nativeInflateStatus: string = loaded.status;

/** A fresh, uninitialised buffer of `size` bytes (inflate writes every byte it returns). */
function outputBuffer(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

/** The addon's error for a stream that decodes to more than the buffer it was given. */
function isOutputTooSmall(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('deflate: output larger than');
}

/** The decoded bytes as their own buffer (the block's, or a copy of its first `got` bytes). */
function decoded(out: Uint8Array, got: number): ArrayBuffer {
  const buf = out.buffer as ArrayBuffer;
  return got === buf.byteLength ? buf : buf.slice(0, got);
}

/**
 * A zlib-wrapped block of at most `size` decoded bytes inflated by the addon on the thread pool,
 * straight into a buffer of that size; null when it decodes to more (a block longer than its
 * tags say: the caller inflates it with zlib, which grows its output as it goes).
 */
export async function inflateBlock(
  addon: NativeInflate,
  data: Uint8Array,
  size: number,
): Promise<ArrayBuffer | null> {
  const out = outputBuffer(size);
  try {
    return decoded(out, await addon.inflate(data, out));
  } catch (err) {
    if (isOutputTooSmall(err)) return null;
    throw err;
  }
}

/** `inflateBlock` on the calling thread. */
export function inflateBlockSync(addon: NativeInflate, data: Uint8Array, size: number): ArrayBuffer | null {
  const out = outputBuffer(size);
  try {
    return decoded(out, addon.inflateSync(data, out));
  } catch (err) {
    if (isOutputTooSmall(err)) return null;
    throw err;
  }
}
