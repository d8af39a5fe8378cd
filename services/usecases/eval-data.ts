import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRaster } from '../adapters/raster/source.ts';
import { loadStac } from '../adapters/stac/client.ts';
import { SkypatrolError } from '../core/errors.ts';
import { describeItem } from '../domain/catalog/stac.ts';
import type { ZoneLayer } from '../domain/detectors/manifest.ts';
import type { ZoneRecord } from '../domain/detectors/rules.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import type { PolygonCoords } from '../domain/geo/area.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import type { Grid } from '../domain/geo/grid.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { composite, epochDay } from '../domain/imagery/composite.ts';
import { type CatalogScene, readSceneOnTile, type TileComposite, type TileRead } from './read-tile.ts';

/**
 * A simulated region (the output of `skypatrol simulate`) read without a database: its STAC
 * catalog read through the same COG reader and warp as patrols (`readSceneOnTile`), onto one
 * pseudo analysis tile covering the whole region on its 10 m grid; truth and zoning layers
 * as lon/lat polygons and rasterised on that grid. Used by training and evaluation.
 */
export interface TruthFeature {
  id: string;
  scenario: string;
  expected: 'clue' | 'decoy';
  kind: string;
  /**
   * Other scenarios whose rules the change also breaks (simulator truth's `also_scenarios`; empty
   * for regions simulated before it was recorded).
   */
  alsoScenarios: string[];
  belowMmu: boolean;
  until: string | null;
  eventDate: string;
  scene: string | null;
  coordinates: PolygonCoords[];
}

export interface SimRegion {
  dir: string;
  seed: number;
  tile: AnalysisTile;
  scenes: CatalogScene[];
  truth: TruthFeature[];
  zones: ZoneRecord[];
  windows: { before: { from: string; to: string }; after: { from: string; to: string } };
  /** eo:cloud_cover of each scene (%). */
  cloud: Map<string, number>;
}

function coordsOf(g: { type: string; coordinates: unknown }): PolygonCoords[] {
  if (g.type === 'Polygon') return [g.coordinates as PolygonCoords];
  if (g.type === 'MultiPolygon') return g.coordinates as PolygonCoords[];
  return [];
}

export async function loadSimRegion(dir: string): Promise<SimRegion> {
  const root = resolve(dir);
  let manifest: { seed: number; epsg: number };
  let truthDoc: {
    windows: SimRegion['windows'];
    features: { geometry: { type: string; coordinates: unknown }; properties: Record<string, unknown> }[];
  };
  try {
    manifest = JSON.parse(await readFile(join(root, 'manifest.json'), 'utf8'));
    truthDoc = JSON.parse(await readFile(join(root, 'truth.geojson'), 'utf8'));
  } catch (err) {
    throw new SkypatrolError(
      'VALIDATION',
      `${dir} is not a simulated region (needs manifest.json and truth.geojson from \`skypatrol simulate\`)`,
      { cause: err },
    );
  }
  const items = await loadStac(join(root, 'catalog.json'));
  const cloud = new Map<string, number>();
  const scenes: CatalogScene[] = items
    .map(({ item, base }) => {
      const d = describeItem(item, base);
      cloud.set(d.id, d.cloudCover ?? 0);
      const assets: CatalogScene['assets'] = {};
      for (const [band, a] of Object.entries(d.bands)) {
        assets[band] = {
          href: a!.href,
          index: a!.index,
          declaredBands: a!.declaredBands,
          scale: a!.scale,
          offset: a!.offset,
          nodata: a!.nodata,
        };
      }
      return {
        id: d.id,
        sensor: d.sensor,
        datetime: d.datetime,
        assets,
        mask: { kind: d.mask.kind, href: d.mask.href },
      };
    })
    .sort((a, b) => a.datetime.getTime() - b.datetime.getTime() || a.id.localeCompare(b.id));

  // The region's 10 m grid: that of the finest Sentinel-2 band.
  const s2 = scenes.find((s) => s.sensor.startsWith('sentinel-2') && s.assets.blue);
  if (!s2) throw new SkypatrolError('VALIDATION', `${dir}: no Sentinel-2 scene to take the 10 m grid from`);
  const href = s2.assets.blue!.href;
  const src = await openRaster(href.startsWith('file:') ? fileURLToPath(href) : href);
  const grid: Grid = { ...src.info.grid };
  await src.close();
  const toLonLat = toLonLatFn(grid.epsg)!;
  const corners = [
    toLonLat(grid.originX, grid.originY),
    toLonLat(grid.originX + grid.width * grid.resX, grid.originY),
    toLonLat(grid.originX + grid.width * grid.resX, grid.originY - grid.height * grid.resY),
    toLonLat(grid.originX, grid.originY - grid.height * grid.resY),
  ];
  const lons = corners.map((c) => c[0]);
  const lats = corners.map((c) => c[1]);
  const tile: AnalysisTile = {
    id: `sim-${manifest.seed}`,
    epsg: grid.epsg,
    zone: grid.epsg % 100,
    hemisphere: 'N',
    col: 0,
    row: 0,
    grid,
    boundsLonLat: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)],
    polygonLonLat: [corners[3]!, corners[2]!, corners[1]!, corners[0]!, corners[3]!] as [number, number][],
  };

  const truth: TruthFeature[] = truthDoc.features.map((f) => ({
    id: String(f.properties.id),
    scenario: String(f.properties.scenario),
    expected: f.properties.expected === 'decoy' ? 'decoy' : 'clue',
    kind: String(f.properties.kind),
    alsoScenarios: Array.isArray(f.properties.also_scenarios) ? f.properties.also_scenarios.map(String) : [],
    belowMmu: f.properties.below_mmu === true,
    until: typeof f.properties.until === 'string' ? f.properties.until : null,
    eventDate: String(f.properties.event_date),
    scene: typeof f.properties.scene === 'string' ? f.properties.scene : null,
    coordinates: coordsOf(f.geometry),
  }));

  const zones: ZoneRecord[] = [];
  const zdir = join(root, 'zoning');
  for (const file of (await readdir(zdir)).filter((f) => f.endsWith('.geojson')).sort()) {
    const kind = file.replace(/\.geojson$/, '') as ZoneLayer;
    const fc = JSON.parse(await readFile(join(zdir, file), 'utf8')) as {
      features: { geometry: { type: string; coordinates: unknown }; properties: Record<string, unknown> }[];
    };
    fc.features.forEach((f, k) => {
      zones.push({
        id: `${kind}-${k + 1}`,
        kind,
        properties: f.properties ?? {},
        coordinates: coordsOf(f.geometry),
      });
    });
  }
  return { dir: root, seed: manifest.seed, tile, scenes, truth, zones, windows: truthDoc.windows, cloud };
}

/** Scenes of a window, optionally of some sensors only. */
export function scenesIn(
  region: SimRegion,
  window: { from: string; to: string },
  sensors?: RegExp,
): CatalogScene[] {
  const from = new Date(`${window.from}T00:00:00Z`).getTime();
  const to = new Date(`${window.to}T23:59:59Z`).getTime();
  return region.scenes.filter(
    (s) => s.datetime.getTime() >= from && s.datetime.getTime() <= to && (!sensors || sensors.test(s.sensor)),
  );
}

/** Bands a scene can deliver among `wanted`. */
export function bandsOf(scene: CatalogScene, wanted: readonly CanonicalBand[]): CanonicalBand[] {
  return wanted.filter((b) => scene.assets[b]);
}

/** Shift a read by (dx, dy) pixels (misregistration); uncovered pixels become invalid. */
export function shiftRead(r: TileRead, width: number, height: number, dx: number, dy: number): TileRead {
  const shift = (a: Float32Array | Uint8Array, out: Float32Array | Uint8Array) => {
    for (let y = 0; y < height; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= height) continue;
      for (let x = 0; x < width; x++) {
        const sx = x - dx;
        if (sx < 0 || sx >= width) continue;
        out[y * width + x] = a[sy * width + sx]!;
      }
    }
    return out;
  };
  const bands: Record<string, Float32Array> = {};
  for (const [b, v] of Object.entries(r.bands))
    bands[b] = shift(v, new Float32Array(v.length).fill(Number.NaN)) as Float32Array;
  return { ...r, bands, valid: shift(r.valid, new Uint8Array(r.valid.length)) as Uint8Array };
}

/**
 * Composite scenes on the region tile with the bands they all have among `wanted` (so a GF-only
 * window simply lacks SWIR), as the patrol's compositeTile does from the catalog.
 */
export async function compositeScenes(
  region: SimRegion,
  scenes: CatalogScene[],
  wanted: readonly CanonicalBand[],
  options: { shift?: [number, number] } = {},
): Promise<TileComposite | null> {
  if (!scenes.length) return null;
  const common = wanted.filter((b) => scenes.every((s) => s.assets[b]));
  const { width, height } = region.tile.grid;
  const reads: TileRead[] = [];
  for (const s of scenes) {
    let r = await readSceneOnTile(s, region.tile, common);
    if (!r) continue;
    if (options.shift) r = shiftRead(r, width, height, options.shift[0], options.shift[1]);
    reads.push(r);
  }
  if (!reads.length) return null;
  const c = composite(
    reads.map((r) => ({ bands: r.bands, valid: r.valid, date: r.date })),
    { method: 'best' },
  );
  return { ...c, scenes: reads.map((r) => r.sceneId), failed: [] };
}

/**
 * Evaluation conditions: composites of Sentinel-2 (`s2`), Landsat before → Sentinel-2 after
 * (`landsat-s2`), GF-1 before → Sentinel-2 after (`gf-s2`, no SWIR before: the declared fallback
 * model runs), Sentinel-2 with the after composite shifted by one pixel (`misregistered`), and
 * the cloudiest single Sentinel-2 scene of each window (`cloudy`, clouds masked by SCL).
 */
export const CONDITIONS = ['s2', 'landsat-s2', 'gf-s2', 'misregistered', 'cloudy'] as const;
export type Condition = (typeof CONDITIONS)[number];

export interface ConditionPair {
  condition: Condition;
  before: TileComposite;
  after: TileComposite;
  beforeScenes: CatalogScene[];
  afterScenes: CatalogScene[];
}

const S2 = /^sentinel-2/;
const LANDSAT = /^landsat/;
const GF = /^gf-/;

export async function conditionPair(
  region: SimRegion,
  condition: Condition,
  bands: readonly CanonicalBand[],
): Promise<ConditionPair | null> {
  const w = region.windows;
  const cloudiest = (list: CatalogScene[]) =>
    [...list].sort((a, b) => (region.cloud.get(b.id) ?? 0) - (region.cloud.get(a.id) ?? 0)).slice(0, 1);
  let beforeScenes = scenesIn(region, w.before, S2);
  let afterScenes = scenesIn(region, w.after, S2);
  if (condition === 'landsat-s2') beforeScenes = scenesIn(region, w.before, LANDSAT);
  if (condition === 'gf-s2') beforeScenes = scenesIn(region, w.before, GF);
  if (condition === 'cloudy') {
    beforeScenes = cloudiest(beforeScenes);
    afterScenes = cloudiest(afterScenes);
  }
  const before = await compositeScenes(region, beforeScenes, bands);
  const after = await compositeScenes(
    region,
    afterScenes,
    bands,
    condition === 'misregistered' ? { shift: [1, 1] } : {},
  );
  if (!before || !after) return null;
  return { condition, before, after, beforeScenes, afterScenes };
}

/** Truth features that are on the ground in a pair (dates of its after scenes; shadows of its scenes). */
export function truthFor(region: SimRegion, pair: ConditionPair): TruthFeature[] {
  const afterDates = pair.afterScenes.map((s) => s.datetime.toISOString().slice(0, 10)).sort();
  const first = afterDates[0]!;
  const last = afterDates.at(-1)!;
  const used = new Set([...pair.beforeScenes, ...pair.afterScenes].map((s) => s.id));
  return region.truth.filter((t) => {
    if (t.scene) return used.has(t.scene);
    if (t.eventDate > last) return false;
    if (t.until && t.until < first) return false;
    return true;
  });
}

/** Moved to the domain (read-tile uses it too); re-exported for the evaluation's callers. */
export { rasterize } from '../domain/geo/rasterize.ts';
export { epochDay };
