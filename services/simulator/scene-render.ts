import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as turf from '@turf/turf';
import type { MultiPolygon } from 'geojson';
import { writeCog } from '../adapters/raster/cog-writer.ts';
import { polygonize } from '../domain/detectors/polygonize.ts';
import { stretchToRgba } from '../domain/imagery/render.ts';
import { CIRRUS_MIN, CLOUD_ALPHA, qaPixelFromAtmosphere, SHADOW_MIN, sclFromAtmosphere } from './clouds.ts';
import { MMU_M2, type PlantedEvent } from './events.ts';
import type { Landscape } from './landscape.ts';
import { hashString } from './noise.ts';
import { areaDownsample } from './raster.ts';
import { pxToLonLat } from './region.ts';
import {
  GF_BANDS,
  gfDn,
  LANDSAT_BANDS,
  landsatDn,
  renderBand,
  S2_BANDS,
  type SceneDef,
  s2Dn,
  sceneAtmosphere,
  sceneGrid,
  spectrumIds,
  surfaceTable,
  toSensor,
} from './scenes.ts';
import { CLASS } from './spectra.ts';
import { type AssetInfo, stacItem } from './stac-writer.ts';
import { tidy } from './zoning.ts';

/**
 * Renders one acquisition to files: every band as a COG, its mask, and its STAC item; returns
 * the manifest entries, the item, the cloud-shadow decoys and optional previews. Runs in the
 * main thread or in a scene worker; output bytes never depend on which.
 */

export interface ManifestEntry {
  path: string;
  bytes: number;
  sha256: string;
}

export interface SceneContext {
  l: Landscape;
  events: readonly PlantedEvent[];
  seed: number;
  out: string;
  /** Scene id → preview name ("before"/"after") for the scenes to preview. */
  previewOf: Record<string, string>;
  previewSize: number;
  log: (line: string) => void;
}

export interface Preview {
  name: string;
  rgba: Uint8Array;
  width: number;
  height: number;
}

export interface SceneOutput {
  files: ManifestEntry[];
  item: Record<string, unknown>;
  bbox: number[];
  cloudFraction: number;
  shadows: PlantedEvent[];
  previews: Preview[];
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
export const json = (v: unknown) => `${JSON.stringify(v, null, 1)}\n`;

/** A FeatureCollection with one feature per line: readable diffs, compact coordinates. */
export function geojsonText(fc: { features: readonly unknown[] }): string {
  const { features, ...head } = fc;
  const top = JSON.stringify(head).slice(0, -1);
  const body = features.map((f) => JSON.stringify(f)).join(',\n');
  return `${top}${top.length > 1 ? ',' : ''}"features":[\n${body}\n]}\n`;
}

/** Renders and writes one scene. */
export async function renderScene(ctx: SceneContext, scene: SceneDef): Promise<SceneOutput> {
  const { l, seed, out } = ctx;
  const region = l.region;
  const files = new Map<string, ManifestEntry>();
  const put = async (rel: string, data: string) => {
    const path = join(out, rel);
    await mkdir(dirname(path), { recursive: true });
    const buf = Buffer.from(data, 'utf8');
    await writeFile(path, buf);
    files.set(rel, { path: rel, bytes: buf.length, sha256: sha256(buf) });
  };
  const cog = async (rel: string, o: Parameters<typeof writeCog>[1]) => {
    const path = join(out, rel);
    await mkdir(dirname(path), { recursive: true });
    const r = await writeCog(path, { blockSize: 512, compression: 'deflate', level: 1, ...o });
    files.set(rel, { path: rel, bytes: r.bytes, sha256: r.sha256 });
    return r;
  };
  const pending: Promise<void>[] = [];
  // One 10 m render buffer per scene: each band is turned into DNs before the next is drawn.
  const scratch = new Float32Array(l.width * l.height);
  const ts = performance.now();
  const date = new Date(scene.datetime);
  const sid = spectrumIds(l, ctx.events, date);
  const table = surfaceTable(l, date);
  const atm = sceneAtmosphere(l, scene, seed);
  const surface = new Uint8Array(sid.length);
  for (let i = 0; i < sid.length; i++) surface[i] = table.scl[sid[i]!]!;
  const dir = `${scene.collection}/${scene.id}`;
  const assets: AssetInfo[] = [];
  const seedOf = (band: string) => (hashString(`${scene.id}/${band}`) ^ seed) >>> 0;
  const keep = ctx.previewOf[scene.id];
  const kept: Record<string, Float32Array> = {};

  if (scene.sensor === 's2') {
    for (const b of S2_BANDS) {
      const v = toSensor(renderBand(l, sid, table, atm, b.key, scratch), l, b.gsd, 's2', seedOf(b.key));
      if (keep && ['blue', 'green', 'red', 'nir'].includes(b.key)) kept[b.key] = v.slice();
      const grid = sceneGrid(region, scene, b.gsd);
      const file = `${b.id}.tif`;
      const w = cog(`${dir}/${file}`, {
        grid,
        dtype: 'uint16',
        bands: [s2Dn(v)],
        nodata: 0,
        description: [b.id],
      }).then((r) => {
        assets.push({
          key: b.key,
          file,
          title: `${b.key} (${b.id}) – ${b.gsd} m`,
          roles: ['data', 'reflectance'],
          grid,
          sha256: r.sha256,
          bytes: r.bytes,
          eoBands: [
            { name: b.id, common_name: b.key, center_wavelength: b.center, full_width_half_max: b.fwhm },
          ],
          rasterBands: [
            { data_type: 'uint16', nodata: 0, scale: 0.0001, offset: -0.1, spatial_resolution: b.gsd },
          ],
        });
      });
      pending.push(w);
      if (pending.length > 2) await pending.shift();
    }
    const scl = sclFromAtmosphere(atm, surface, l.width, l.height, 2);
    const grid = sceneGrid(region, scene, 20);
    const r = await cog(`${dir}/SCL.tif`, {
      grid,
      dtype: 'uint8',
      bands: [scl],
      nodata: 0,
      overviewResampling: 'nearest',
      description: ['SCL'],
    });
    assets.push({
      key: 'scl',
      file: 'SCL.tif',
      title: 'Scene classification map (SCL) – 20 m',
      roles: ['cloud', 'cloud-shadow', 'water-mask'],
      grid,
      sha256: r.sha256,
      bytes: r.bytes,
      rasterBands: [{ data_type: 'uint8', nodata: 0, spatial_resolution: 20 }],
      classes: SCL_CLASSES,
    });
  } else if (scene.sensor === 'landsat') {
    const grid = sceneGrid(region, scene, 30);
    for (const b of LANDSAT_BANDS) {
      const v = toSensor(renderBand(l, sid, table, atm, b.key, scratch), l, 30, 'landsat', seedOf(b.key));
      const file = `${b.id}.TIF`;
      const w = cog(`${dir}/${file}`, {
        grid,
        dtype: 'uint16',
        bands: [landsatDn(v)],
        nodata: 0,
        description: [b.id],
      }).then((r) => {
        assets.push({
          key: b.key,
          file,
          title: `${b.key} (${b.id}) – 30 m`,
          roles: ['data', 'reflectance'],
          grid,
          sha256: r.sha256,
          bytes: r.bytes,
          eoBands: [
            { name: b.id, common_name: b.key, center_wavelength: b.center, full_width_half_max: b.fwhm },
          ],
          rasterBands: [
            { data_type: 'uint16', nodata: 0, scale: 0.0000275, offset: -0.2, spatial_resolution: 30 },
          ],
        });
      });
      pending.push(w);
      if (pending.length > 2) await pending.shift();
    }
    const qa = qaPixelFromAtmosphere(atm, surface, l.width, l.height, 3);
    const r = await cog(`${dir}/QA_PIXEL.TIF`, {
      grid,
      dtype: 'uint16',
      bands: [qa],
      nodata: 1,
      overviewResampling: 'nearest',
      predictor: false,
      description: ['QA_PIXEL'],
    });
    assets.push({
      key: 'qa_pixel',
      file: 'QA_PIXEL.TIF',
      title: 'Pixel quality assessment (QA_PIXEL) – 30 m',
      roles: ['cloud', 'cloud-shadow', 'snow-ice', 'water-mask'],
      grid,
      sha256: r.sha256,
      bytes: r.bytes,
      rasterBands: [{ data_type: 'uint16', nodata: 1, spatial_resolution: 30, unit: 'bit index' }],
    });
  } else {
    const grid = sceneGrid(region, scene, 16);
    const dn: Uint16Array[] = [];
    for (const b of GF_BANDS) {
      const v = toSensor(renderBand(l, sid, table, atm, b.key, scratch), l, 16, 'gf', seedOf(b.key));
      dn.push(gfDn(v, b, scene));
    }
    const r = await cog(`${dir}/${scene.id}.tif`, {
      grid,
      dtype: 'uint16',
      bands: dn,
      nodata: 0,
      description: GF_BANDS.map((b) => b.id),
    });
    assets.push({
      key: 'data',
      file: `${scene.id}.tif`,
      title: 'GF-1 WFV multispectral (B1–B4) – 16 m',
      roles: ['data'],
      grid,
      sha256: r.sha256,
      bytes: r.bytes,
      eoBands: GF_BANDS.map((b) => ({
        name: b.id,
        common_name: b.key,
        center_wavelength: b.center,
        full_width_half_max: b.fwhm,
        solar_illumination: b.esun,
      })),
      rasterBands: GF_BANDS.map((b) => ({
        data_type: 'uint16',
        nodata: 0,
        scale: b.gain,
        offset: 0,
        spatial_resolution: 16,
        unit: 'W/(m²·sr·µm)',
      })),
    });
  }
  await Promise.all(pending.splice(0));
  assets.sort((a, b) => assetOrder(a.key) - assetOrder(b.key));
  const item = stacItem(region, scene, assets, atm.cloudFraction);
  await put(`${dir}/${scene.id}.json`, json(item));
  const shadows = atm.shadow && atm.alpha ? shadowTruth(l, scene, atm.shadow, atm.alpha, atm.cirrus) : [];
  const previews = keep && kept.red ? previewImages(l, keep, kept, ctx.previewSize) : [];
  ctx.log(
    `${scene.id}: ${assets.length} assets, cloud ${(atm.cloudFraction * 100).toFixed(1)} % (${((performance.now() - ts) / 1000).toFixed(1)} s)`,
  );
  return {
    files: [...files.values()],
    item,
    bbox: item.bbox as number[],
    cloudFraction: atm.cloudFraction,
    shadows,
    previews,
  };
}

const SCL_CLASSES = [
  { value: 0, name: 'no_data' },
  { value: 1, name: 'saturated_or_defective' },
  { value: 2, name: 'dark_area_pixels' },
  { value: 3, name: 'cloud_shadows' },
  { value: 4, name: 'vegetation' },
  { value: 5, name: 'not_vegetated' },
  { value: 6, name: 'water' },
  { value: 7, name: 'unclassified' },
  { value: 8, name: 'cloud_medium_probability' },
  { value: 9, name: 'cloud_high_probability' },
  { value: 10, name: 'thin_cirrus' },
  { value: 11, name: 'snow' },
];

const ASSET_ORDER = [
  'blue',
  'green',
  'red',
  'rededge1',
  'rededge2',
  'rededge3',
  'nir',
  'nir08',
  'swir16',
  'swir22',
  'data',
];
function assetOrder(key: string): number {
  const i = ASSET_ORDER.indexOf(key);
  return i < 0 ? 100 : i;
}

/** Polygons of a 0/1 mask (components ≥ minArea), lon/lat. */
export function maskPolygons(l: Landscape, mask: Float32Array, minAreaM2: number) {
  return polygonize({
    width: l.width,
    height: l.height,
    probability: mask,
    threshold: 0.5,
    minAreaM2,
    toLonLat: (x, y) => pxToLonLat(l.region, x, y),
  });
}

/** Raster outlines simplified to ~3 m (they follow 10 m pixel edges): a compact truth file. */
export function simplified(g: MultiPolygon): MultiPolygon {
  const f = turf.simplify(turf.feature(g), { tolerance: 0.00003, highQuality: false });
  return tidy(f.geometry as MultiPolygon);
}

/** Decoys: the largest cloud shadows of a scene (dark, unchanged ground). */
function shadowTruth(
  l: Landscape,
  scene: SceneDef,
  shadow: Float32Array,
  alpha: Float32Array,
  cirrus: Float32Array | null,
): PlantedEvent[] {
  const mask = new Float32Array(shadow.length);
  for (let i = 0; i < mask.length; i++) {
    const a = alpha[i]!;
    if (shadow[i]! * (1 - a) >= SHADOW_MIN && a < CLOUD_ALPHA && !(cirrus && cirrus[i]! >= CIRRUS_MIN))
      mask[i] = 1;
  }
  const polys = maskPolygons(l, mask, 5 * MMU_M2)
    .sort((p, q) => q.areaM2 - p.areaM2)
    .slice(0, 1);
  const masked =
    scene.sensor === 'gf'
      ? 'GF-1 ships no cloud mask, so nothing flags it'
      : 'flagged in the mask (SCL 3 / QA_PIXEL bit 4)';
  return polys.map((p, k) => {
    const [x0, y0, x1, y1] = p.bbox;
    const c = l.cls[Math.floor((y0 + y1) / 2) * l.width + Math.floor((x0 + x1) / 2)]!;
    const scenario =
      c === CLASS.conifer || c === CLASS.broadleaf
        ? 'forest-encroachment'
        : l.parcel[Math.floor((y0 + y1) / 2) * l.width + Math.floor((x0 + x1) / 2)]
          ? 'black-soil'
          : c === CLASS.marsh || c === CLASS.wetMeadow
            ? 'wetland'
            : c === CLASS.lake
              ? 'hulun-lake'
              : 'grassland';
    const geometry = simplified({ type: 'MultiPolygon', coordinates: p.coordinates });
    return {
      id: `EV-SHADOW-${scene.id}-${k + 1}`,
      scenario,
      expected: 'decoy',
      kind: 'cloud-shadow',
      reason: `cloud shadow in ${scene.id} only: darker but unchanged ground; ${masked}`,
      date: scene.datetime.slice(0, 10),
      paint: [],
      geometry,
      areaM2: Math.round(p.areaM2),
      scene: scene.id,
    } satisfies PlantedEvent;
  });
}

/** True-colour and false-colour previews of a scene from its 10 m bands. */
function previewImages(l: Landscape, name: string, bands: Record<string, Float32Array>, maxSide: number) {
  const ratio = Math.max(1, l.width / maxSide);
  const small = (b: string) => areaDownsample(bands[b]!, l.width, l.height, ratio);
  const r = small('red');
  const g = small('green');
  const b = small('blue');
  const n = small('nir');
  return [
    {
      name: `${name}-true-colour`,
      rgba: stretchToRgba(r.data, g.data, b.data),
      width: r.width,
      height: r.height,
    },
    {
      name: `${name}-false-colour`,
      rgba: stretchToRgba(n.data, r.data, g.data),
      width: r.width,
      height: r.height,
    },
  ];
}
