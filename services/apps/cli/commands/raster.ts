import { openRaster } from '../../../adapters/raster/source.ts';
import type { Config } from '../../../core/config.ts';

/**
 * `skypatrol raster info <path|url>`: the raster's metadata as JSON on stdout. Only the
 * header and IFDs are read (a few range requests for a remote COG). Config is taken for the
 * command-shell convention; nothing in it applies yet.
 */
export async function rasterInfoCommand(_config: Config, href: string): Promise<void> {
  const source = await openRaster(href);
  try {
    // JSON has no NaN/Infinity: a float nodata of NaN would otherwise print as null ("none").
    const json = JSON.stringify(
      source.info,
      (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v).toLowerCase() : v),
      2,
    );
    process.stdout.write(`${json}\n`);
  } finally {
    await source.close();
  }
}
