import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { ScratchPool } from '../adapters/cache/scratch.ts';
import { markSceneFailed } from '../adapters/postgis/scene-store.ts';
import { type BlockCache, DecodedBlockCache } from '../adapters/raster/block-cache.ts';
import { openRaster } from '../adapters/raster/source.ts';
import { SkypatrolError, wrapError } from '../core/errors.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import type { PolygonCoords } from '../domain/geo/area.ts';
import { isGeographic } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';
import { rasterize } from '../domain/geo/rasterize.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import {
  type CompositeMethod,
  type CompositeResult,
  composite,
  NewestFirstComposite,
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

/**
 * Decoded COG blocks kept between tiles of a worker: a 1,024 px analysis tile touches 3 × 3
 * blocks of 512 px of each 10 m band (scenes are not aligned to the analysis grid), and the
 * tile next to it, usually the worker's next job, shares a column of them.
 */
const decodedBlocks = new DecodedBlockCache({ maxBytes: 192 * 1024 * 1024 });

/**
 * Buffers of patrol reads: each band's source window and its warped plane, about 190 MB a
 * tile of 1,024² (six bands and a mask per scene, three or four scenes). Every ArrayBuffer
 * counts against V8's external-memory budget, and each 64 MiB of churn started a full
 * collection (about 30 ms of marking each, six to eight a tile). Windows go back as soon as
 * they are warped; planes once `compositeTile` has folded them in. Reads made for other
 * callers keep their planes (the pool merely never sees them again).
 */
const readScratch = new ScratchPool(12);

async function readOnTile(
  href: string,
  tile: AnalysisTile,
  kind: 'reflectance' | 'mask',
  cache: BlockCache | undefined,
  index = 0,
  declaredBands = 1,
): Promise<Float32Array | null> {
  const source = await openRaster(hrefToSource(href), {
    ...(cache ? { cache } : {}),
    decodedCache: decodedBlocks,
    // A tile's windows take most of each block, and the next tile shares a column of them.
    predictorInBlocks: true,
  });
  try {
    if (source.info.bands < declaredBands || index >= source.info.bands) {
      throw new SkypatrolError(
        'SCENE_INVALID',
        `${href} has ${source.info.bands} band(s) but the item declares ${Math.max(declaredBands, index + 1)}`,
      );
    }
    const window = sourceWindowFor(source.info.grid, tile.grid, 2);
    if (!window) return null;
    const read = await source.readWindow({ window, bands: [index], allocate: (n) => readScratch.float32(n) });
    const lat = (tile.boundsLonLat[1] + tile.boundsLonLat[3]) / 2;
    const method = kind === 'mask' ? 'nearest' : methodFor(source.info.grid, tile.grid, lat);
    const into = readScratch.float32(tile.grid.width * tile.grid.height);
    const out = warpWindow(source.info.grid, window, read.data[0]!, tile.grid, method, {}, into);
    readScratch.give(read.data[0]!);
    if (out !== into) readScratch.give(into);
    return out;
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
      readScratch.give(m);
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
 *
 * With the `best` method (the newest clear observation of each pixel wins) scenes are read
 * newest first and reading stops once every pixel of the tile has a clear observation: the
 * older scenes could not change the result, so they are not read. `scenes` lists the scenes
 * used, oldest first; `count` then counts the observations read, not all there are.
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
    /** Read every scene even when the newer ones already cover the tile (default false). */
    readAll?: boolean;
  } = {},
): Promise<TileComposite | null> {
  const t0 = performance.now();
  const method = options.method ?? 'best';
  const scenes = await scenesForTile(pool, tile, window, options.sensors);
  const stopWhenCovered = method === 'best' && !options.readAll;
  const n = tile.grid.width * tile.grid.height;
  // `best` (no quality ranking) is composited as the scenes arrive, newest first; `median`
  // needs them all, so it composites once they are read.
  const newest = method === 'best' ? new NewestFirstComposite(n, bands) : null;
  let compositeMs = 0;
  // Where each older scene can see on this tile: its footprint less one pixel (footprints of
  // repeat passes differ by fractions of a pixel; a strict test would read every scene for a
  // rim no older scene really adds to). Fetched once needed.
  let reach: Map<string, Uint8Array> | null = null;
  const moreToSee = async (olderThan: number, covered: Uint8Array): Promise<boolean> => {
    reach ??= await sceneReach(
      pool,
      tile,
      scenes.slice(0, olderThan).map((sc) => sc.id),
    );
    for (let k = 0; k < olderThan; k++) {
      const m = reach.get(scenes[k]!.id);
      if (!m) return true; // footprint unknown: it might see anything
      for (let p = 0; p < n; p++) if (m[p] && !covered[p]) return true;
    }
    return false;
  };
  const read: { index: number; obs: Observation | null; id: string }[] = [];
  const failed: TileComposite['failed'] = [];
  // Newest first (ties: the later id first, as `composite` prefers the later observation).
  for (let i = scenes.length - 1; i >= 0; i--) {
    const scene = scenes[i]!;
    let r: TileRead | null;
    try {
      r = await readSceneOnTile(scene, tile, bands, options.cache ? { cache: options.cache } : {});
    } catch (err) {
      const e = wrapError(err, 'SCENE_CORRUPT', `scene ${scene.id}`);
      failed.push({ sceneId: scene.id, code: e.code, message: e.message });
      // A broken scene is taken out of the catalog with its reason; a network hiccup is not.
      if (!e.retryable) await markSceneFailed(pool, scene.id, e.code, e.message);
      continue;
    }
    if (!r) continue;
    const obs = { bands: r.bands, valid: r.valid, date: r.date };
    // Bands composited as they arrive need not be kept.
    read.push({ index: i, obs: newest ? null : obs, id: scene.id });
    if (newest) {
      const c0 = performance.now();
      newest.add(obs);
      // Folded in: the planes are free for the next reads.
      readScratch.give(...Object.values(obs.bands));
      compositeMs += performance.now() - c0;
      // Done when every pixel is covered, or the rest lie where no older scene looks. (Outside
      // the scene's try: a database error here is the tile's to retry, not the scene's fault.)
      if (stopWhenCovered && (newest.uncovered === 0 || (i > 0 && !(await moreToSee(i, newest.covered)))))
        break;
    }
  }
  read.sort((a, b) => a.index - b.index);
  failed.reverse();
  const t1 = performance.now();
  if (options.timings) options.timings.read += t1 - t0 - compositeMs;
  if (!read.length) return null;
  const result = {
    ...(newest
      ? newest.result()
      : composite(
          read.map((r) => r.obs!),
          { method },
        )),
    scenes: read.map((r) => r.id),
    failed,
  };
  for (const r of read) if (r.obs) readScratch.give(...Object.values(r.obs.bands));
  if (options.timings) options.timings.composite += performance.now() - t1 + compositeMs;
  return result;
}

/** The pixels of the tile at least one pixel inside each scene's footprint, by scene id. */
async function sceneReach(
  pool: pg.Pool,
  tile: AnalysisTile,
  ids: string[],
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (!ids.length) return out;
  const ring = JSON.stringify({ type: 'Polygon', coordinates: [tile.polygonLonLat] });
  const { rows } = await pool.query<{ id: string; reach: string | null }>(
    `SELECT id, ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_Buffer(
              ST_Intersection(footprint, ST_SetSRID(ST_GeomFromGeoJSON($2), 4326))::geography, $3)::geometry, 3)), 9) AS reach
       FROM scenes WHERE id = ANY($1)`,
    [ids, ring, -Math.abs(tile.grid.resX) * (isGeographic(tile.grid.epsg) ? 111_320 : 1)],
  );
  for (const r of rows) {
    if (!r.reach) continue;
    const g = JSON.parse(r.reach) as { coordinates: PolygonCoords[] };
    out.set(r.id, rasterize(tile, g.coordinates));
  }
  return out;
}
