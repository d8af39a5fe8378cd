import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { markSceneFailed } from '../adapters/postgis/scene-store.ts';
import type { BlockCache } from '../adapters/raster/block-cache.ts';
import { openRaster } from '../adapters/raster/source.ts';
import { SkypatrolError, wrapError } from '../core/errors.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import { isGeographic } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import {
  type CompositeMethod,
  type CompositeResult,
  composite,
  type Observation,
} from '../domain/imagery/composite.ts';
import {
  computedCloudMask,
  PROFILES,
  type SensorId,
  validFromQaPixel,
  validFromScl,
} from '../domain/imagery/sensors.ts';
import { sourceWindowFor, type WarpMethod, warpWindow } from '../domain/imagery/warp.ts';

/**
 * Everything downstream needs one thing: for a tile of the analysis grid, clean reflectance
 * in canonical bands with a validity mask. This reads a catalogued scene's assets — only the
 * window covering the tile — warps them onto the tile's 10 m UTM grid (bilinear when the
 * source is coarser, average when finer, nearest for masks), applies scale/offset, and builds
 * the mask from SCL / QA_PIXEL / nodata, or computes a cloud mask where the sensor has none.
 */
export interface CatalogScene {
  id: string;
  sensor: SensorId;
  datetime: Date;
  assets: Record<
    string,
    {
      href: string;
      index?: number;
      declaredBands?: number;
      scale?: number | null;
      offset?: number | null;
      nodata?: number | null;
    }
  >;
  mask: { kind?: string; href?: string | null };
}

export interface TileRead {
  sceneId: string;
  date: Date;
  bands: Record<string, Float32Array>;
  /** 1 = observed and clear in every requested band. */
  valid: Uint8Array;
}

function hrefToSource(href: string): string {
  return href.startsWith('file:') ? fileURLToPath(href) : href;
}

/** Ground resolution in metres of a grid near latitude `lat`. */
function resolutionM(grid: Grid, lat: number): number {
  return isGeographic(grid.epsg) ? grid.resX * 111_320 * Math.cos((lat * Math.PI) / 180) : grid.resX;
}

function methodFor(src: Grid, target: Grid, lat: number): WarpMethod {
  return resolutionM(src, lat) < resolutionM(target, lat) / 1.5 ? 'average' : 'bilinear';
}

async function readOnTile(
  href: string,
  tile: AnalysisTile,
  kind: 'reflectance' | 'mask',
  cache: BlockCache | undefined,
  index = 0,
  declaredBands = 1,
): Promise<Float32Array | null> {
  const source = await openRaster(hrefToSource(href), cache ? { cache } : {});
  try {
    if (source.info.bands < declaredBands || index >= source.info.bands) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${href} has ${source.info.bands} band(s) but the item declares ${Math.max(declaredBands, index + 1)}`,
      );
    }
    const window = sourceWindowFor(source.info.grid, tile.grid, 2);
    if (!window) return null;
    const read = await source.readWindow({ window, bands: [index] });
    const lat = (tile.boundsLonLat[1] + tile.boundsLonLat[3]) / 2;
    const method = kind === 'mask' ? 'nearest' : methodFor(source.info.grid, tile.grid, lat);
    return warpWindow(source.info.grid, window, read.data[0]!, tile.grid, method);
  } finally {
    await source.close();
  }
}

/** Read one catalogued scene onto a tile. Returns null when the scene does not cover the tile. */
export async function readSceneOnTile(
  scene: CatalogScene,
  tile: AnalysisTile,
  bands: readonly CanonicalBand[],
  options: { cache?: BlockCache } = {},
): Promise<TileRead | null> {
  const profile = PROFILES[scene.sensor];
  const fallback = profile.scaling(scene.datetime);
  const n = tile.grid.width * tile.grid.height;
  const out: Record<string, Float32Array> = {};
  const valid = new Uint8Array(n).fill(1);
  for (const band of bands) {
    const asset = scene.assets[band];
    if (!asset) throw new SkypatrolError('SCENE_MISSING_BAND', `scene ${scene.id} has no ${band} band`);
    let data: Float32Array | null;
    try {
      data = await readOnTile(
        asset.href,
        tile,
        'reflectance',
        options.cache,
        asset.index ?? 0,
        asset.declaredBands ?? 1,
      );
    } catch (err) {
      throw wrapError(err, 'SCENE_CORRUPT', `scene ${scene.id}, band ${band}`);
    }
    if (!data) return null;
    const scale = asset.scale ?? fallback?.scale;
    const offset = asset.offset ?? fallback?.offset ?? 0;
    if (scale === undefined)
      throw new SkypatrolError('SCENE_INVALID', `scene ${scene.id}: band ${band} has no scale`);
    const nodata = asset.nodata ?? profile.nodata;
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      if (Number.isNaN(v) || (nodata !== null && v === nodata)) {
        data[i] = Number.NaN;
        valid[i] = 0;
      } else data[i] = v * scale + offset;
    }
    out[band] = data;
  }
  if (scene.mask.href && (scene.mask.kind === 'scl' || scene.mask.kind === 'qa_pixel')) {
    const m = await readOnTile(scene.mask.href, tile, 'mask', options.cache);
    if (m) {
      const clear = scene.mask.kind === 'scl' ? validFromScl(m) : validFromQaPixel(m);
      for (let i = 0; i < n; i++) valid[i] = valid[i]! & clear[i]!;
    }
  } else if (profile.mask.kind === 'computed' && out.blue && out.green && out.red && out.nir) {
    const clear = computedCloudMask(out.blue, out.green, out.red, out.nir);
    for (let i = 0; i < n; i++) valid[i] = valid[i]! & clear[i]!;
  }
  return { sceneId: scene.id, date: scene.datetime, bands: out, valid };
}

/** Catalogued scenes intersecting a tile within a time window (oldest first). */
export async function scenesForTile(
  pool: pg.Pool,
  tile: AnalysisTile,
  window: { from: string; to: string },
  sensors?: string[],
): Promise<CatalogScene[]> {
  const ring = JSON.stringify({ type: 'Polygon', coordinates: [tile.polygonLonLat] });
  const { rows } = await pool.query<CatalogScene & { datetime: Date }>(
    `SELECT id, sensor, datetime, assets, mask FROM scenes
      WHERE status = 'ready' AND ST_Intersects(footprint, ST_SetSRID(ST_GeomFromGeoJSON($1), 4326))
        AND datetime >= $2::timestamptz AND datetime < ($3::date + 1)
        AND ($4::text[] IS NULL OR sensor = ANY($4))
      ORDER BY datetime, id`,
    [ring, window.from, window.to, sensors?.length ? sensors : null],
  );
  return rows;
}

export interface TileComposite extends CompositeResult {
  scenes: string[];
  failed: { sceneId: string; code: string; message: string }[];
}

/**
 * Composite every scene of a time window on a tile. A scene that fails to read is reported
 * and skipped; the composite is built from the rest. Pixels never seen clear stay invalid.
 */
export async function compositeTile(
  pool: pg.Pool,
  tile: AnalysisTile,
  window: { from: string; to: string },
  bands: readonly CanonicalBand[],
  options: {
    method?: CompositeMethod;
    sensors?: string[];
    cache?: BlockCache;
    /** Milliseconds spent reading (fetch + decode + warp) and compositing, accumulated. */
    timings?: { read: number; composite: number };
  } = {},
): Promise<TileComposite | null> {
  const t0 = performance.now();
  const scenes = await scenesForTile(pool, tile, window, options.sensors);
  const observations: Observation[] = [];
  const used: string[] = [];
  const failed: TileComposite['failed'] = [];
  for (const scene of scenes) {
    try {
      const r = await readSceneOnTile(scene, tile, bands, options.cache ? { cache: options.cache } : {});
      if (!r) continue;
      observations.push({ bands: r.bands, valid: r.valid, date: r.date });
      used.push(scene.id);
    } catch (err) {
      const e = wrapError(err, 'SCENE_CORRUPT', `scene ${scene.id}`);
      failed.push({ sceneId: scene.id, code: e.code, message: e.message });
      // A broken scene is taken out of the catalog with its reason; a network hiccup is not.
      if (!e.retryable) await markSceneFailed(pool, scene.id, e.code, e.message);
    }
  }
  const t1 = performance.now();
  if (options.timings) options.timings.read += t1 - t0;
  if (!observations.length) return null;
  const result = { ...composite(observations, { method: options.method ?? 'best' }), scenes: used, failed };
  if (options.timings) options.timings.composite += performance.now() - t1;
  return result;
}
