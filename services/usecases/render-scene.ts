import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { encodePng } from '../adapters/image/encode.ts';
import { openRaster, type RasterSource } from '../adapters/raster/source.ts';
import { SkypatrolError } from '../core/errors.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { downsampleSize, stretchToRgba } from '../domain/imagery/render.ts';
import { resampleSameCrs } from '../domain/imagery/resample.ts';

export type RenderMode = 'true-color' | 'false-color';
const MODE_BANDS: Record<RenderMode, [CanonicalBand, CanonicalBand, CanonicalBand]> = {
  'true-color': ['red', 'green', 'blue'],
  'false-color': ['nir', 'red', 'green'],
};

export interface ScenePreview {
  png: Buffer;
  /** Corner coordinates (lon/lat) for a MapLibre image source: TL, TR, BR, BL. */
  coordinates: [number, number][];
  etag: string;
}

/**
 * Render a catalogued scene as a PNG overview (true or false colour) with its corner
 * coordinates, from the band files recorded in the scene's assets.
 */
export async function renderScenePreview(
  pool: pg.Pool,
  sceneId: string,
  mode: RenderMode,
  maxSide: number,
): Promise<ScenePreview> {
  const { rows } = await pool.query<{
    assets: Record<
      string,
      { href: string; sha256?: string; index?: number; scale?: number | null; offset?: number | null }
    >;
  }>("SELECT assets FROM scenes WHERE id = $1 AND status = 'ready'", [sceneId]);
  if (!rows[0]) throw new SkypatrolError('NOT_FOUND', `scene ${sceneId} is not in the catalog`);
  const assets = rows[0].assets;
  const bands = MODE_BANDS[mode];
  for (const b of bands) {
    if (!assets[b])
      throw new SkypatrolError('SCENE_MISSING_BAND', `scene ${sceneId} has no ${b} band for ${mode}`);
  }
  const toPath = (href: string) => (href.startsWith('file:') ? fileURLToPath(href) : href);
  const opened: RasterSource[] = await Promise.all(bands.map((b) => openRaster(toPath(assets[b]!.href))));
  try {
    const finest = opened.reduce((a, o) => (o.info.grid.resX < a.info.grid.resX ? o : a)).info.grid;
    const size = downsampleSize(finest.width, finest.height, maxSide);
    const target: Grid = {
      ...finest,
      width: size.width,
      height: size.height,
      resX: (finest.width * finest.resX) / size.width,
      resY: (finest.height * finest.resY) / size.height,
    };
    const planes: Float32Array[] = [];
    for (const [k, o] of opened.entries()) {
      const asset = assets[bands[k]!]!;
      // The smallest overview still at least as detailed as the output.
      let overview = 0;
      o.info.overviews.forEach((ov, i) => {
        if (Math.max(ov.width, ov.height) >= Math.max(size.width, size.height)) overview = i + 1;
      });
      const read = await o.readWindow({
        window: [0, 0, o.info.width, o.info.height],
        bands: [asset.index ?? 0],
        overview,
      });
      const raw = read.data[0]!;
      const scale = asset.scale ?? 1 / 10000;
      const offset = asset.offset ?? 0;
      for (let i = 0; i < raw.length; i++) raw[i] = raw[i] === 0 ? Number.NaN : raw[i]! * scale + offset;
      const g = o.info.grid;
      const grid: Grid = {
        ...g,
        width: read.width,
        height: read.height,
        resX: (g.width * g.resX) / read.width,
        resY: (g.height * g.resY) / read.height,
      };
      planes.push(resampleSameCrs({ grid, data: raw }, target, 'bilinear'));
    }
    const rgba = stretchToRgba(planes[0]!, planes[1]!, planes[2]!);
    const png = await encodePng(rgba, target.width, target.height);
    const toLonLat = toLonLatFn(target.epsg);
    if (!toLonLat) throw new SkypatrolError('SCENE_CRS_UNSUPPORTED', `EPSG:${target.epsg} is not supported`);
    const x0 = target.originX;
    const y0 = target.originY;
    const x1 = x0 + target.width * target.resX;
    const y1 = y0 - target.height * target.resY;
    const coordinates = [toLonLat(x0, y0), toLonLat(x1, y0), toLonLat(x1, y1), toLonLat(x0, y1)];
    const etag = `"${sceneId}-${mode}-${maxSide}-${bands.map((b) => assets[b]!.sha256?.slice(0, 8) ?? '').join('')}"`;
    return { png, coordinates, etag };
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
}
