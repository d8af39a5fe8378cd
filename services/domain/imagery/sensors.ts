import type { CanonicalBand } from './bands.ts';

/**
 * Sensor profiles: how each product names its bands, scales its DNs and marks bad pixels.
 * A STAC item's own `eo:bands` / `raster:bands` always win; profiles fill the gaps
 * (shared docs "Sensors" and "contracts").
 */
export type SensorId = 'sentinel-2-l2a' | 'sentinel-2-l1c' | 'landsat-c2-l2' | 'gf-wfv' | 'gf-pms';
export type MaskKind = 'scl' | 'qa_pixel' | 'computed' | 'none';

export interface ProfileBand {
  common: CanonicalBand;
  gsd: number;
}

export interface SensorProfile {
  id: SensorId;
  name: string;
  /** Conventional asset keys → band (several spellings per band). */
  assetKeys: Record<string, ProfileBand>;
  mask: { kind: MaskKind; keys: string[] };
  /** Default DN → reflectance for a band when the item has no raster:bands scale/offset. */
  scaling(datetime: Date): { scale: number; offset: number } | null;
  nodata: number | null;
}

const S2_KEYS: Record<string, ProfileBand> = {};
for (const [ids, common, gsd] of [
  [['coastal', 'B01'], 'coastal', 60],
  [['blue', 'B02'], 'blue', 10],
  [['green', 'B03'], 'green', 10],
  [['red', 'B04'], 'red', 10],
  [['rededge1', 'B05'], 'rededge1', 20],
  [['rededge2', 'B06'], 'rededge2', 20],
  [['rededge3', 'B07'], 'rededge3', 20],
  [['nir', 'B08'], 'nir', 10],
  [['nir08', 'B8A'], 'nir08', 20],
  [['nir09', 'B09'], 'nir09', 60],
  [['swir16', 'B11'], 'swir16', 20],
  [['swir22', 'B12'], 'swir22', 20],
] as const) {
  for (const id of ids) S2_KEYS[id] = { common, gsd };
}

/** From processing baseline 04.00 (2022-01-25) Sentinel-2 DNs carry a −1000 offset. */
const s2Scaling = (d: Date) => ({
  scale: 1 / 10000,
  offset: d.getTime() >= Date.UTC(2022, 0, 25) ? -0.1 : 0,
});

// Landsat 8/9 OLI and 5/7 TM/ETM+ number their bands differently; the STAC common-name keys
// are the same. The OLI band 5 / TM band 4 near-infrared is the detectors' `nir`.
const LANDSAT_KEYS: Record<string, ProfileBand> = {
  coastal: { common: 'coastal', gsd: 30 },
  blue: { common: 'blue', gsd: 30 },
  green: { common: 'green', gsd: 30 },
  red: { common: 'red', gsd: 30 },
  nir08: { common: 'nir', gsd: 30 },
  nir: { common: 'nir', gsd: 30 },
  swir16: { common: 'swir16', gsd: 30 },
  swir22: { common: 'swir22', gsd: 30 },
};

const GF_KEYS: Record<string, ProfileBand> = {
  blue: { common: 'blue', gsd: 16 },
  green: { common: 'green', gsd: 16 },
  red: { common: 'red', gsd: 16 },
  nir: { common: 'nir', gsd: 16 },
  B1: { common: 'blue', gsd: 16 },
  B2: { common: 'green', gsd: 16 },
  B3: { common: 'red', gsd: 16 },
  B4: { common: 'nir', gsd: 16 },
};

export const PROFILES: Record<SensorId, SensorProfile> = {
  'sentinel-2-l2a': {
    id: 'sentinel-2-l2a',
    name: 'Sentinel-2 MSI Level-2A',
    assetKeys: S2_KEYS,
    mask: { kind: 'scl', keys: ['scl', 'SCL'] },
    scaling: s2Scaling,
    nodata: 0,
  },
  'sentinel-2-l1c': {
    id: 'sentinel-2-l1c',
    name: 'Sentinel-2 MSI Level-1C',
    assetKeys: S2_KEYS,
    mask: { kind: 'computed', keys: [] },
    scaling: s2Scaling,
    nodata: 0,
  },
  'landsat-c2-l2': {
    id: 'landsat-c2-l2',
    name: 'Landsat 4–9 Collection 2 Level-2',
    assetKeys: {
      ...LANDSAT_KEYS,
      // Landsat 8/9 OLI band numbers; 5/7 are resolved per platform in landsatKeys().
      SR_B1: { common: 'coastal', gsd: 30 },
      SR_B2: { common: 'blue', gsd: 30 },
      SR_B3: { common: 'green', gsd: 30 },
      SR_B4: { common: 'red', gsd: 30 },
      SR_B5: { common: 'nir', gsd: 30 },
      SR_B6: { common: 'swir16', gsd: 30 },
      SR_B7: { common: 'swir22', gsd: 30 },
    },
    mask: { kind: 'qa_pixel', keys: ['qa_pixel', 'QA_PIXEL'] },
    scaling: () => ({ scale: 0.0000275, offset: -0.2 }),
    nodata: 0,
  },
  'gf-wfv': {
    id: 'gf-wfv',
    name: 'GF-1/GF-6 WFV',
    assetKeys: GF_KEYS,
    mask: { kind: 'computed', keys: [] },
    // Radiance gain/offset differ per scene: they must come from the item (raster:bands).
    scaling: () => null,
    nodata: 0,
  },
  'gf-pms': {
    id: 'gf-pms',
    name: 'GF-1/GF-2 PMS multispectral',
    assetKeys: Object.fromEntries(Object.entries(GF_KEYS).map(([k, v]) => [k, { ...v, gsd: 4 }])),
    mask: { kind: 'computed', keys: [] },
    scaling: () => null,
    nodata: 0,
  },
};

/** Landsat 4/5/7 (TM/ETM+) number the bands one lower than OLI below SWIR. */
export function landsatKeys(platform: string): Record<string, ProfileBand> {
  if (/landsat-?[457]/i.test(platform)) {
    return {
      ...LANDSAT_KEYS,
      SR_B1: { common: 'blue', gsd: 30 },
      SR_B2: { common: 'green', gsd: 30 },
      SR_B3: { common: 'red', gsd: 30 },
      SR_B4: { common: 'nir', gsd: 30 },
      SR_B5: { common: 'swir16', gsd: 30 },
      SR_B7: { common: 'swir22', gsd: 30 },
    };
  }
  return PROFILES['landsat-c2-l2'].assetKeys;
}

/**
 * Pick the profile from what the item says: constellation/platform first, then the
 * collection id. Returns null for a sensor we do not know.
 */
export function identifySensor(props: {
  constellation?: string;
  platform?: string;
  collection?: string;
  level?: string;
}): SensorId | null {
  const text = `${props.constellation ?? ''} ${props.platform ?? ''} ${props.collection ?? ''}`.toLowerCase();
  if (/sentinel-?2/.test(text)) {
    if (/l1c/.test(text) || props.level === 'L1C') return 'sentinel-2-l1c';
    return 'sentinel-2-l2a';
  }
  if (/landsat/.test(text)) return 'landsat-c2-l2';
  if (/\bgf-?[126]\b|gaofen/.test(text)) return /pms|gf-?2/.test(text) ? 'gf-pms' : 'gf-wfv';
  return null;
}

/**
 * SCL classes that are a clear view of the ground: vegetation, bare, water. Unclassified (7) is
 * not: pixels Sen2Cor could not put in any class; the simulator gives it to thin cloud edges
 * (opacity 0.08–0.3), which, counted clear, became false clues on single cloudy scenes
 * (docs/detectors-eval/overlap-and-masks.md).
 */
const SCL_VALID = new Set([4, 5, 6]);

/** SCL_VALID as a table over the class codes 0–255 (a Set lookup per pixel was 28 ms a tile). */
const SCL_VALID_TABLE = Uint8Array.from({ length: 256 }, (_, k) => (SCL_VALID.has(k) ? 1 : 0));

/** Validity from a Sentinel-2 scene classification band (1 = clear). */
export function validFromScl(scl: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(scl.length);
  for (let i = 0; i < scl.length; i++) {
    const v = scl[i]!;
    const k = v | 0;
    // Only whole codes 0–255 are classes (NaN, fractions and others are not valid).
    out[i] = k === v && k >= 0 && k < 256 ? SCL_VALID_TABLE[k]! : 0;
  }
  return out;
}

/** Validity from Landsat QA_PIXEL: fill, dilated cloud, cirrus, cloud, shadow or snow → 0. */
export function validFromQaPixel(qa: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(qa.length);
  for (let i = 0; i < qa.length; i++) {
    const v = qa[i]!;
    out[i] = Number.isNaN(v) || (v & 0b111111) !== 0 ? 0 : 1;
  }
  return out;
}

/**
 * A cloud mask for sensors that ship none (GF-1/2/6, Sentinel-2 L1C): a pixel is cloud when
 * it is bright and white in the visible bands and fails the haze-optimised transform
 * (HOT = blue − 0.5·red − 0.08 > 0, Zhang et al. 2002), or is very bright in every band.
 * Returns 1 = clear. Reflectance inputs; NaN → 0.
 */
export function computedCloudMask(
  blue: Float32Array,
  green: Float32Array,
  red: Float32Array,
  nir: Float32Array,
): Uint8Array {
  const out = new Uint8Array(blue.length);
  for (let i = 0; i < blue.length; i++) {
    const b = blue[i]!;
    const g = green[i]!;
    const r = red[i]!;
    const n = nir[i]!;
    if (Number.isNaN(b) || Number.isNaN(g) || Number.isNaN(r) || Number.isNaN(n)) continue;
    const mean = (b + g + r) / 3;
    const whiteness = (Math.abs(b - mean) + Math.abs(g - mean) + Math.abs(r - mean)) / Math.max(mean, 1e-6);
    const hot = b - 0.5 * r - 0.08;
    const cloud = (mean > 0.2 && whiteness < 0.7 && hot > 0) || Math.min(b, g, r, n) > 0.35;
    out[i] = cloud ? 0 : 1;
  }
  return out;
}
