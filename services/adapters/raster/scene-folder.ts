import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SkypatrolError } from '../../core/errors.ts';
import type { Grid } from '../../domain/geo/grid.ts';
import { type CanonicalBand, SENTINEL2_BANDS, sentinel2Scaling } from '../../domain/imagery/bands.ts';
import { resampleSameCrs } from '../../domain/imagery/resample.ts';
import { openGeoTiff } from './geotiff-file.ts';

/**
 * A scene delivered as a folder of per-band GeoTIFFs, as Sentinel-2 tiles are unpacked
 * (`…_B02.tif`, `…_B8A.tif`, …; e.g. the OSCD `imgs_1/` folders). Bands come at their
 * native resolutions and are resampled onto the finest band's grid.
 */
export interface SceneFolder {
  id: string;
  dir: string;
  sensor: 'sentinel-2';
  platform: string;
  level: 'L1C' | 'L2A';
  datetime: Date;
  files: Map<CanonicalBand, string>;
}

export interface SceneAsset {
  band: CanonicalBand;
  path: string;
  sha256: string;
}

/** Reflectance bands on one grid plus a validity mask (1 = every band observed). */
export interface BandStack {
  grid: Grid;
  bands: Map<CanonicalBand, Float32Array>;
  valid: Uint8Array;
  assets: SceneAsset[];
}

const BAND_FILE = /_(B\d{2}|B8A)\.tiff?$/i;
const DATE_IN_NAME = /_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})_/;

async function datetimeOf(dir: string, names: string[]): Promise<Date> {
  for (const n of names) {
    const m = DATE_IN_NAME.exec(n);
    if (m) return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  }
  // OSCD keeps the dates beside the folders: dates.txt with "date_1: YYYYMMDD".
  try {
    const txt = await readFile(join(dir, '..', 'dates.txt'), 'utf8');
    const which = basename(dir) === 'imgs_2' ? 'date_2' : 'date_1';
    const m = new RegExp(`${which}:\\s*(\\d{4})(\\d{2})(\\d{2})`).exec(txt);
    if (m) return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!));
  } catch {
    /* no dates.txt: fall through */
  }
  throw new SkypatrolError(
    'SCENE_CORRUPT',
    `${dir}: no acquisition date in the file names or a dates.txt beside it`,
  );
}

/** Inspect a folder without reading pixels. Throws SCENE_NOT_FOUND / SCENE_EMPTY. */
export async function openSceneFolder(dir: string): Promise<SceneFolder> {
  const abs = resolve(dir);
  let names: string[];
  try {
    const st = await stat(abs);
    if (!st.isDirectory()) throw new Error('not a directory');
    names = (await readdir(abs)).sort();
  } catch {
    throw new SkypatrolError('SCENE_NOT_FOUND', `scene folder ${dir} does not exist or is not a directory`);
  }
  const bandNames = names.filter((n) => BAND_FILE.test(n));
  if (bandNames.length === 0) {
    throw new SkypatrolError(
      'SCENE_EMPTY',
      `scene folder ${dir} holds no band files (*_B02.tif, *_B8A.tif, …)`,
    );
  }
  const files = new Map<CanonicalBand, string>();
  for (const n of bandNames) {
    const id = BAND_FILE.exec(n)![1]!.toUpperCase();
    const band = SENTINEL2_BANDS.find((b) => b.id === id);
    if (band) files.set(band.common, join(abs, n));
  }
  const first = bandNames[0]!;
  const level = /L2A/i.test(first) ? 'L2A' : 'L1C';
  const platform = /^S2B/i.test(first) ? 'sentinel-2b' : /^S2A/i.test(first) ? 'sentinel-2a' : 'sentinel-2';
  const datetime = await datetimeOf(abs, bandNames);
  // Several folders can hold crops of the same product (same file names): the id carries a
  // short hash of the crop's grid so each crop is its own scene.
  const probe = await openGeoTiff(join(abs, first));
  await probe.close();
  const g = probe.grid;
  const crop = createHash('sha256')
    .update(`${g.epsg} ${g.width} ${g.height} ${g.originX} ${g.originY} ${g.resX} ${g.resY}`)
    .digest('hex')
    .slice(0, 8);
  const id = `${first.replace(BAND_FILE, '')}-${crop}`;
  return { id, dir: abs, sensor: 'sentinel-2', platform, level, datetime, files };
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * Read `bands` as surface/TOA reflectance onto `target` (default: the finest requested
 * band's grid). A band listed in `optional` that the folder lacks is simply absent.
 */
export async function readSceneBands(
  scene: SceneFolder,
  bands: readonly CanonicalBand[],
  options: { target?: Grid; optional?: readonly CanonicalBand[] } = {},
): Promise<BandStack> {
  const missing = bands.filter((b) => !scene.files.has(b) && !options.optional?.includes(b));
  if (missing.length) {
    const ids = missing.map((m) => SENTINEL2_BANDS.find((b) => b.common === m)?.id ?? m);
    throw new SkypatrolError(
      'SCENE_MISSING_BAND',
      `scene folder ${scene.dir} lacks band ${ids.join(', ')} (${missing.join(', ')})`,
      { details: { missing } },
    );
  }
  const present = bands.filter((b) => scene.files.has(b));
  const opened = await Promise.all(present.map((b) => openGeoTiff(scene.files.get(b)!)));
  try {
    const epsgs = new Set(opened.map((o) => o.grid.epsg));
    if (epsgs.size > 1) {
      throw new SkypatrolError(
        'SCENE_CRS_UNSUPPORTED',
        `scene folder ${scene.dir} mixes CRSs ${[...epsgs].join(', ')}`,
      );
    }
    const finest = opened.reduce((a, b) => (b.grid.resX < a.grid.resX ? b : a));
    const target = options.target ?? finest.grid;
    if (target.epsg !== finest.grid.epsg) {
      throw new SkypatrolError(
        'SCENE_CRS_UNSUPPORTED',
        `scene ${scene.id} is in EPSG:${finest.grid.epsg} but the analysis grid is EPSG:${target.epsg}; reprojection between CRSs arrives with the imagery pipeline`,
      );
    }
    const { scale, offset } = sentinel2Scaling(scene.level, scene.datetime);
    const out = new Map<CanonicalBand, Float32Array>();
    const valid = new Uint8Array(target.width * target.height).fill(1);
    const assets: SceneAsset[] = [];
    for (let i = 0; i < present.length; i++) {
      const band = present[i]!;
      const raster = opened[i]!;
      const raw = await raster.readBand(0);
      // Sentinel-2 DN 0 is "no data" even when the file declares none.
      for (let k = 0; k < raw.length; k++) if (raw[k] === 0) raw[k] = Number.NaN;
      const onGrid = resampleSameCrs({ grid: raster.grid, data: raw }, target, 'bilinear');
      for (let k = 0; k < onGrid.length; k++) {
        const v = onGrid[k]!;
        if (Number.isNaN(v)) valid[k] = 0;
        else onGrid[k] = v * scale + offset;
      }
      out.set(band, onGrid);
      assets.push({ band, path: raster.path, sha256: await sha256File(raster.path) });
    }
    return { grid: target, bands: out, valid, assets };
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
}
