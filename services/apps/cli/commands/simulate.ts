import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { simulate } from '../../../simulator/simulate.ts';

/**
 * `simulate --out <dir> [--seed N] [--size small|demo|<km>] [--center lon,lat] [--preview] [--preview-size px]`:
 * writes the simulated Hulunbuir region (imagery + STAC, zoning, truth, manifest).
 */
export async function simulateCommand(
  _config: Config,
  opts: {
    out: string;
    seed?: string | number;
    size?: string;
    center?: string;
    preview?: boolean;
    previewSize?: string | number;
    quiet?: boolean;
  },
): Promise<void> {
  const seed = opts.seed === undefined ? 1 : Number(opts.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new SkypatrolError('VALIDATION', `--seed must be an integer 0–4294967295, got ${opts.seed}`);
  }
  if (
    opts.previewSize !== undefined &&
    !(Number(opts.previewSize) >= 16 && Number(opts.previewSize) <= 8192)
  ) {
    throw new SkypatrolError('VALIDATION', `--preview-size must be 16–8192 pixels, got ${opts.previewSize}`);
  }
  let r: Awaited<ReturnType<typeof simulate>>;
  try {
    r = await simulate({
      out: opts.out,
      seed,
      ...(opts.size ? { size: opts.size } : {}),
      ...(opts.center ? { center: opts.center } : {}),
      preview: !!opts.preview || opts.previewSize !== undefined,
      ...(opts.previewSize !== undefined ? { previewSize: Number(opts.previewSize) } : {}),
      log: opts.quiet ? () => {} : (line) => console.log(line),
    });
  } catch (err) {
    if (err instanceof RangeError) throw new SkypatrolError('VALIDATION', err.message);
    throw err;
  }
  const bytes = r.files.reduce((s, f) => s + f.bytes, 0);
  console.log(
    `wrote ${r.files.length + 1} files (${(bytes / 2 ** 20).toFixed(1)} MiB) to ${r.out}: ${r.scenes.length} scenes, ` +
      `${r.events} planted events, ${r.decoys} decoys, in ${r.seconds.toFixed(1)} s`,
  );
}
