import { SkypatrolError } from '../../core/errors.ts';
import { type CanonicalBand, isCanonicalBand } from '../imagery/bands.ts';
import {
  identifySensor,
  landsatKeys,
  type MaskKind,
  PROFILES,
  type ProfileBand,
  type SensorId,
} from '../imagery/sensors.ts';

/**
 * STAC Item → the scene description the pipeline works with. Pure: hrefs are resolved
 * against a base URL but nothing is fetched. Band identity per the contracts: the asset's
 * `eo:bands[].common_name` first, `raster:bands` for scale/offset/nodata, then the sensor
 * profile (constellation/platform + collection), then conventional asset keys.
 */
export interface StacAsset {
  href: string;
  type?: string;
  roles?: string[];
  'eo:bands'?: { name?: string; common_name?: string; solar_illumination?: number }[];
  'raster:bands'?: { scale?: number; offset?: number; nodata?: number | string; unit?: string }[];
  bands?: {
    name?: string;
    'eo:common_name'?: string;
    'raster:scale'?: number;
    'raster:offset'?: number;
    nodata?: number | string;
  }[];
  'proj:epsg'?: number;
  'proj:code'?: string;
  'file:checksum'?: string;
  [key: string]: unknown;
}

export interface StacItem {
  type: 'Feature';
  stac_version?: string;
  id: string;
  collection?: string;
  geometry: { type: string; coordinates: unknown } | null;
  bbox?: number[];
  properties: Record<string, unknown>;
  assets: Record<string, StacAsset>;
  links?: { rel: string; href: string; type?: string }[];
}

export interface BandAsset {
  key: string;
  href: string;
  /** 0-based band of the file holding this band; `declaredBands` the item says the file has. */
  index: number;
  declaredBands: number;
  common: CanonicalBand;
  /** DN → reflectance: value·scale + offset. */
  scale: number;
  offset: number;
  nodata: number | null;
  gsd: number | null;
  checksum: string | null;
}

export interface SceneDescriptor {
  id: string;
  collection: string | null;
  sensor: SensorId;
  platform: string | null;
  datetime: Date;
  cloudCover: number | null;
  epsg: number | null;
  bbox: [number, number, number, number];
  geometry: { type: string; coordinates: unknown };
  bands: Partial<Record<CanonicalBand, BandAsset>>;
  mask: { kind: MaskKind; href: string | null; key: string | null };
}

const RASTER_TYPE = /image\/tiff|geotiff|cloud-optimized/i;
const RASTER_EXT = /\.(tiff?|TIF)(\?|$)/;

function invalid(id: string, reason: string): SkypatrolError {
  return new SkypatrolError('SCENE_INVALID', `STAC item ${id}: ${reason}`);
}

function epsgFrom(v: { 'proj:epsg'?: unknown; 'proj:code'?: unknown }): number | null {
  if (typeof v['proj:epsg'] === 'number') return v['proj:epsg'];
  if (typeof v['proj:code'] === 'string') {
    const m = /^EPSG:(\d+)$/i.exec(v['proj:code']);
    if (m) return Number(m[1]);
  }
  return null;
}

const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && v !== '' && Number.isFinite(Number(v))
      ? Number(v)
      : null;

/** Earth–Sun distance in AU for a date (for radiance → TOA reflectance). */
export function earthSunDistance(d: Date): number {
  const doy = (d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86400000;
  return 1 - 0.01672 * Math.cos(((2 * Math.PI) / 365.256363) * (doy - 4));
}

export function describeItem(item: StacItem, baseHref: string): SceneDescriptor {
  if (item?.type !== 'Feature' || typeof item.id !== 'string') {
    throw new SkypatrolError(
      'SCENE_INVALID',
      `${baseHref}: not a STAC Item (needs type "Feature" and an id)`,
    );
  }
  const id = item.id;
  const p = item.properties ?? {};
  const when = (p.datetime ?? p.start_datetime) as string | null | undefined;
  const datetime = when ? new Date(when) : null;
  if (!datetime || Number.isNaN(datetime.getTime())) throw invalid(id, 'no valid datetime or start_datetime');
  if (!item.geometry) throw invalid(id, 'no geometry');
  const bbox = item.bbox ?? null;
  if (!bbox || bbox.length < 4 || bbox.some((v) => !Number.isFinite(v))) throw invalid(id, 'no bbox');

  const collection = item.collection ?? null;
  const platform = typeof p.platform === 'string' ? p.platform : null;
  const level = /L1C/i.test(`${collection ?? ''} ${p['processing:level'] ?? ''} ${id}`) ? 'L1C' : undefined;
  const sensor = identifySensor({
    ...(typeof p.constellation === 'string' ? { constellation: p.constellation } : {}),
    ...(platform ? { platform } : {}),
    ...(collection ? { collection } : {}),
    ...(level ? { level } : {}),
  });
  if (!sensor)
    throw invalid(
      id,
      `unknown sensor (constellation ${String(p.constellation)}, platform ${String(platform)}, collection ${String(collection)})`,
    );
  const profile = PROFILES[sensor];
  const keys: Record<string, ProfileBand> =
    sensor === 'landsat-c2-l2' ? landsatKeys(platform ?? '') : profile.assetKeys;
  const lowerKeys = new Map(Object.entries(keys).map(([k, v]) => [k.toLowerCase(), v]));

  // Sentinel-2 processing baseline, when the item states it, decides the −1000 offset.
  const baseline = num(p['s2:processing_baseline']);
  const defaultScaling =
    sensor.startsWith('sentinel-2') && baseline !== null
      ? { scale: 1 / 10000, offset: baseline >= 4 ? -0.1 : 0 }
      : profile.scaling(datetime);
  const sunElevation = num(p['view:sun_elevation']);

  const bands: Partial<Record<CanonicalBand, BandAsset>> = {};
  let mask: SceneDescriptor['mask'] = { kind: profile.mask.kind, href: null, key: null };
  for (const [key, asset] of Object.entries(item.assets ?? {})) {
    if (!asset?.href) continue;
    const href = new URL(asset.href, baseHref).toString();
    if (profile.mask.keys.includes(key)) {
      mask = { kind: profile.mask.kind, href, key };
      continue;
    }
    const isRaster = (asset.type && RASTER_TYPE.test(asset.type)) || RASTER_EXT.test(asset.href);
    if (!isRaster || asset.roles?.some((r) => r === 'thumbnail' || r === 'overview' || r === 'metadata'))
      continue;
    const eoList = asset['eo:bands'] ?? [];
    const unifiedList = asset.bands ?? [];
    const rasterList = asset['raster:bands'] ?? [];
    const declared = Math.max(eoList.length, unifiedList.length, rasterList.length, 1);
    // A multi-band asset (e.g. a 4-band GF GeoTIFF) yields one band per declared entry.
    for (let index = 0; index < declared; index++) {
      const eo = eoList[index];
      const unified = unifiedList[index];
      let common: string | undefined = eo?.common_name ?? unified?.['eo:common_name'];
      const fromProfile = declared === 1 ? (keys[key] ?? lowerKeys.get(key.toLowerCase())) : undefined;
      if (common === 'nir08' && sensor === 'landsat-c2-l2') common = 'nir';
      if (!common && fromProfile) common = fromProfile.common;
      if (!common || !isCanonicalBand(common)) continue;
      if (bands[common]) continue; // first asset of a band wins (e.g. `red` before `B04`)

      const rb = rasterList[index];
      let scale = num(rb?.scale) ?? num(unified?.['raster:scale']);
      let offset = num(rb?.offset) ?? num(unified?.['raster:offset']);
      const nodata = num(rb?.nodata) ?? num(unified?.nodata) ?? profile.nodata;
      const esun = num(eo?.solar_illumination);
      if (scale !== null && rb?.unit && /W/.test(rb.unit) && esun && sunElevation !== null) {
        // Radiance (GF gain/offset) → TOA reflectance: ρ = π·L·d² / (ESUN·cos θz).
        const k =
          (Math.PI * earthSunDistance(datetime) ** 2) / (esun * Math.sin((sunElevation * Math.PI) / 180));
        scale *= k;
        offset = (offset ?? 0) * k;
      }
      if (scale === null) {
        if (!defaultScaling) {
          throw invalid(
            id,
            `asset "${key}" has no raster:bands scale/offset and ${profile.name} has no fixed scaling`,
          );
        }
        scale = defaultScaling.scale;
        offset ??= defaultScaling.offset;
      }
      bands[common] = {
        key,
        href,
        index,
        declaredBands: declared,
        common,
        scale,
        offset: offset ?? 0,
        nodata,
        gsd: num(asset.gsd) ?? fromProfile?.gsd ?? null,
        checksum: typeof asset['file:checksum'] === 'string' ? asset['file:checksum'] : null,
      };
    }
  }
  if (!Object.keys(bands).length)
    throw invalid(id, 'no band asset could be identified (eo:bands common_name or conventional keys)');

  let epsg = epsgFrom(p as Record<string, unknown>);
  if (epsg === null) for (const b of Object.values(bands)) epsg ??= epsgFrom(item.assets[b!.key]!);
  return {
    id,
    collection,
    sensor,
    platform,
    datetime,
    cloudCover: num(p['eo:cloud_cover']),
    epsg,
    bbox: [
      bbox[0]!,
      bbox[1]!,
      bbox.length >= 6 ? bbox[3]! : bbox[2]!,
      bbox.length >= 6 ? bbox[4]! : bbox[3]!,
    ],
    geometry: item.geometry,
    bands,
    mask,
  };
}
