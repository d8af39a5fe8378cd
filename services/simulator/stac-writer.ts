import type { Grid } from '../domain/geo/grid.ts';
import { lonLat7, type Region } from './region.ts';
import { COLLECTIONS, type SceneDef, type SensorKind } from './scenes.ts';

/**
 * STAC documents of a simulated run (STAC 1.0.0, relative links, no self links: a
 * self-contained static catalog): catalog.json → one Collection per sensor → Items. Pure.
 */

export const STAC_VERSION = '1.0.0';
const EXT = {
  eo: 'https://stac-extensions.github.io/eo/v1.1.0/schema.json',
  raster: 'https://stac-extensions.github.io/raster/v1.1.0/schema.json',
  proj: 'https://stac-extensions.github.io/projection/v1.1.0/schema.json',
  view: 'https://stac-extensions.github.io/view/v1.0.0/schema.json',
  file: 'https://stac-extensions.github.io/file/v2.1.0/schema.json',
  s2: 'https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json',
  classification: 'https://stac-extensions.github.io/classification/v1.1.0/schema.json',
};
const COG = 'image/tiff; application=geotiff; profile=cloud-optimized';

export interface AssetInfo {
  key: string;
  file: string;
  title: string;
  roles: string[];
  grid: Grid;
  sha256: string;
  bytes: number;
  eoBands?: Record<string, string | number>[];
  rasterBands: Record<string, string | number>[];
  classes?: { value: number; name: string; description?: string }[];
}

/** proj:transform of a grid (GDAL geotransform order, 6 values). */
export function projTransform(g: Grid): number[] {
  return [g.resX, 0, g.originX, 0, -g.resY, g.originY];
}

/** Footprint polygon of a grid in lon/lat (counter-clockwise, edges densified). */
export function footprint(region: Region, g: Grid): { type: 'Polygon'; coordinates: number[][][] } {
  const x0 = g.originX;
  const y1 = g.originY;
  const x1 = x0 + g.width * g.resX;
  const y0 = y1 - g.height * g.resY;
  const corners: [number, number][] = [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ];
  const ring: [number, number][] = [];
  for (let c = 0; c < 4; c++) {
    const [ax, ay] = corners[c]!;
    const [bx, by] = corners[(c + 1) % 4]!;
    for (let k = 0; k < 4; k++)
      ring.push(lonLat7(region.toLonLat(ax + ((bx - ax) * k) / 4, ay + ((by - ay) * k) / 4)));
  }
  ring.push([ring[0]![0], ring[0]![1]]);
  return { type: 'Polygon', coordinates: [ring] };
}

function bboxOf(poly: { coordinates: number[][][] }): number[] {
  const pts = poly.coordinates[0]!;
  const xs = pts.map((p) => p[0]!);
  const ys = pts.map((p) => p[1]!);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** One STAC Item with its assets (hrefs relative to the item's folder). */
export function stacItem(
  region: Region,
  scene: SceneDef,
  assets: AssetInfo[],
  cloudFraction: number,
): Record<string, unknown> {
  const main = assets[0]!.grid;
  const geometry = footprint(region, main);
  const extensions = [EXT.eo, EXT.raster, EXT.proj, EXT.view, EXT.file];
  if (scene.sensor === 's2') extensions.push(EXT.s2, EXT.classification);
  const props: Record<string, unknown> = {
    datetime: scene.datetime,
    platform: scene.platform,
    constellation: scene.constellation,
    instruments: [scene.instrument],
    gsd: main.resX,
    'eo:cloud_cover': Math.round(cloudFraction * 10000) / 100,
    'proj:epsg': main.epsg,
    'proj:shape': [main.height, main.width],
    'proj:transform': projTransform(main),
    'view:sun_elevation': scene.sun.elevation,
    'view:sun_azimuth': scene.sun.azimuth,
    'processing:level': scene.sensor === 's2' ? 'L2A' : scene.sensor === 'landsat' ? 'L2SP' : 'L1A',
  };
  if (scene.sensor === 's2') {
    props['s2:processing_baseline'] = '05.10';
    props['s2:mgrs_tile'] = scene.id.split('_')[1];
  }
  if (scene.sensor === 'landsat') props['landsat:wrs_path'] = '126';
  props['skypatrol:simulated'] = true;
  const out: Record<string, unknown> = {};
  for (const a of assets) {
    out[a.key] = {
      href: `./${a.file}`,
      type: COG,
      title: a.title,
      roles: a.roles,
      gsd: a.grid.resX,
      ...(a.eoBands ? { 'eo:bands': a.eoBands } : {}),
      'raster:bands': a.rasterBands,
      ...(a.classes ? { 'classification:classes': a.classes } : {}),
      'proj:shape': [a.grid.height, a.grid.width],
      'proj:transform': projTransform(a.grid),
      'file:checksum': `1220${a.sha256}`,
      'file:size': a.bytes,
    };
  }
  return {
    type: 'Feature',
    stac_version: STAC_VERSION,
    stac_extensions: extensions,
    id: scene.id,
    collection: scene.collection,
    geometry,
    bbox: bboxOf(geometry),
    properties: props,
    links: [
      { rel: 'root', href: '../../catalog.json', type: 'application/json' },
      { rel: 'parent', href: '../collection.json', type: 'application/json' },
      { rel: 'collection', href: '../collection.json', type: 'application/json' },
    ],
    assets: out,
  };
}

const COLLECTION_TEXT: Record<SensorKind, { title: string; description: string }> = {
  s2: {
    title: 'Sentinel-2 L2A (simulated)',
    description:
      'Simulated Sentinel-2 MSI Level-2A surface reflectance over Hulunbuir: 10/20 m bands as COGs, DN = reflectance × 10000 + 1000 (processing baseline ≥ 04.00), scene classification (SCL).',
  },
  landsat: {
    title: 'Landsat 8/9 Collection 2 Level-2 (simulated)',
    description:
      'Simulated Landsat 8/9 OLI Collection 2 Level-2 surface reflectance, 30 m, DN = (reflectance + 0.2) / 0.0000275, QA_PIXEL bit flags.',
  },
  gf: {
    title: 'GF-1 WFV L1A (simulated)',
    description:
      'Simulated GF-1 WFV 16 m multispectral (blue, green, red, nir) as calibrated DNs: radiance = gain × DN + offset (raster:bands), band solar irradiance in eo:bands; no cloud mask.',
  },
};

/** A Collection of one sensor, linking its items. */
export function stacCollection(
  sensor: SensorKind,
  scenes: SceneDef[],
  bboxes: number[][],
  platforms: string[],
  gsd: number[],
): Record<string, unknown> {
  const xs = bboxes.flatMap((b) => [b[0]!, b[2]!]);
  const ys = bboxes.flatMap((b) => [b[1]!, b[3]!]);
  const times = scenes.map((s) => s.datetime).sort();
  return {
    type: 'Collection',
    stac_version: STAC_VERSION,
    stac_extensions: [EXT.eo, EXT.raster, EXT.proj],
    id: COLLECTIONS[sensor],
    title: COLLECTION_TEXT[sensor].title,
    description: COLLECTION_TEXT[sensor].description,
    license: 'proprietary',
    extent: {
      spatial: { bbox: [[Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]] },
      temporal: { interval: [[times[0], times[times.length - 1]]] },
    },
    summaries: {
      platform: [...new Set(platforms)].sort(),
      constellation: [scenes[0]!.constellation],
      instruments: [scenes[0]!.instrument],
      gsd,
    },
    links: [
      { rel: 'root', href: '../catalog.json', type: 'application/json' },
      { rel: 'parent', href: '../catalog.json', type: 'application/json' },
      ...scenes.map((s) => ({ rel: 'item', href: `./${s.id}/${s.id}.json`, type: 'application/geo+json' })),
    ],
  };
}

/** The root catalog. */
export function stacCatalog(sensors: SensorKind[], description: string): Record<string, unknown> {
  return {
    type: 'Catalog',
    stac_version: STAC_VERSION,
    id: 'skypatrol-simulated-hulunbuir',
    title: 'Skypatrol simulated imagery — Hulunbuir (Hulun Nuur north shore)',
    description,
    links: [
      { rel: 'root', href: './catalog.json', type: 'application/json' },
      ...sensors.map((s) => ({
        rel: 'child',
        href: `./${COLLECTIONS[s]}/collection.json`,
        type: 'application/json',
      })),
    ],
  };
}
