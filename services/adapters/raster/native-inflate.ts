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
export function outputBuffer(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}
