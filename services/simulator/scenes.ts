import { earthSunDistance } from '../domain/catalog/stac.ts';
import type { Grid } from '../domain/geo/grid.ts';
import { type Atmosphere, makeAtmosphere, sunPosition } from './clouds.ts';
import { exposedShore, type PlantedEvent } from './events.ts';
import type { Landscape } from './landscape.ts';
import { GAUSS_TABLE, hash3, hashString, rngFor } from './noise.ts';
import { areaDownsample, fillPolygon } from './raster.ts';
import type { Region } from './region.ts';
import {
  BAND_INDEX,
  BANDS,
  CIRRUS_SPECTRUM,
  CLASS,
  CLOUD_SPECTRUM,
  classSpectra,
  HAZE_SPECTRUM,
  isWaterClass,
  mix,
  NB,
  ndvi,
  PARCEL_BASE,
  parcelSpectra,
  SHADOW_FACTOR,
  type SimBand,
} from './spectra.ts';

/**
 * The acquisitions: which sensor sees the region when, with how much cloud; and the rendering
 * of one band of one scene from the landscape, the events on the ground that day and the
 * scene's atmosphere, down to the product's DNs. Pure.
 */

export type SensorKind = 's2' | 'landsat' | 'gf';

export interface SceneDef {
  id: string;
  collection: string;
  sensor: SensorKind;
  platform: string;
  constellation: string;
  instrument: string;
  datetime: string;
  window: 'before' | 'after';
  cloudCover: number;
  cirrus: boolean;
  haze: number;
  /** Geolocation error of the product (metres east, north): sub-pixel misregistration. */
  misregM: [number, number];
  cloudHeightM: number;
  sun: { elevation: number; azimuth: number };
}

export const COLLECTIONS = {
  s2: 'sentinel-2-l2a',
  landsat: 'landsat-c2-l2',
  gf: 'gf1-wfv-l1a',
} as const;

/** Sentinel-2 bands and native resolution; Landsat OLI and GF-1 WFV band sets. */
export const S2_BANDS: readonly { key: SimBand; id: string; gsd: 10 | 20; center: number; fwhm: number }[] = [
  { key: 'blue', id: 'B02', gsd: 10, center: 0.49, fwhm: 0.098 },
  { key: 'green', id: 'B03', gsd: 10, center: 0.56, fwhm: 0.045 },
  { key: 'red', id: 'B04', gsd: 10, center: 0.665, fwhm: 0.038 },
  { key: 'rededge1', id: 'B05', gsd: 20, center: 0.704, fwhm: 0.019 },
  { key: 'rededge2', id: 'B06', gsd: 20, center: 0.74, fwhm: 0.018 },
  { key: 'rededge3', id: 'B07', gsd: 20, center: 0.783, fwhm: 0.028 },
  { key: 'nir', id: 'B08', gsd: 10, center: 0.842, fwhm: 0.145 },
  { key: 'nir08', id: 'B8A', gsd: 20, center: 0.865, fwhm: 0.033 },
  { key: 'swir16', id: 'B11', gsd: 20, center: 1.61, fwhm: 0.143 },
  { key: 'swir22', id: 'B12', gsd: 20, center: 2.19, fwhm: 0.242 },
];
export const LANDSAT_BANDS: readonly { key: SimBand; id: string; center: number; fwhm: number }[] = [
  { key: 'blue', id: 'SR_B2', center: 0.48, fwhm: 0.06 },
  { key: 'green', id: 'SR_B3', center: 0.56, fwhm: 0.057 },
  { key: 'red', id: 'SR_B4', center: 0.655, fwhm: 0.037 },
  { key: 'nir08', id: 'SR_B5', center: 0.865, fwhm: 0.028 },
  { key: 'swir16', id: 'SR_B6', center: 1.61, fwhm: 0.085 },
  { key: 'swir22', id: 'SR_B7', center: 2.2, fwhm: 0.187 },
];
/**
 * GF-1 WFV: band, centre, absolute calibration (L = gain·DN + offset, W·m⁻²·sr⁻¹·µm⁻¹) and
 * band solar irradiance. Values of the order CRESDA publishes for GF-1 WFV; not one year's table.
 */
export const GF_BANDS: readonly {
  key: SimBand;
  id: string;
  center: number;
  fwhm: number;
  gain: number;
  esun: number;
  transmittance: number;
  path: number;
}[] = [
  {
    key: 'blue',
    id: 'B1',
    center: 0.485,
    fwhm: 0.07,
    gain: 0.1816,
    esun: 1968.63,
    transmittance: 0.86,
    path: 0.05,
  },
  {
    key: 'green',
    id: 'B2',
    center: 0.555,
    fwhm: 0.07,
    gain: 0.1684,
    esun: 1849.19,
    transmittance: 0.9,
    path: 0.035,
  },
  {
    key: 'red',
    id: 'B3',
    center: 0.66,
    fwhm: 0.06,
    gain: 0.1527,
    esun: 1570.89,
    transmittance: 0.92,
    path: 0.025,
  },
  {
    key: 'nir',
    id: 'B4',
    center: 0.83,
    fwhm: 0.12,
    gain: 0.1422,
    esun: 1078.92,
    transmittance: 0.95,
    path: 0.015,
  },
];

/** MGRS 100 km tile id (e.g. 50UNV) of a point, for Sentinel-2 style ids. */
export function mgrsTile(region: Region): string {
  const [lon, lat] = region.center;
  const zone = Math.floor((lon + 180) / 6) + 1;
  const band = 'CDEFGHJKLMNPQRSTUVWX'[Math.floor((lat + 80) / 8)] ?? 'X';
  const [e, n] = region.fromLonLat(lon, lat);
  const cols = ['ABCDEFGH', 'JKLMNPQR', 'STUVWXYZ'][(zone - 1) % 3]!;
  const col = cols[Math.floor(e / 100_000) - 1] ?? 'A';
  const rows = 'ABCDEFGHJKLMNPQRSTUV';
  const row = rows[(Math.floor(n / 100_000) + (zone % 2 === 0 ? 5 : 0)) % 20]!;
  return `${zone}${band}${col}${row}`;
}

/** The ten acquisitions: three Sentinel-2, one Landsat, one GF-1 per window. */
export function sceneDefs(region: Region, seed: number): SceneDef[] {
  const rng = rngFor(seed, 'scenes');
  const tile = mgrsTile(region);
  const plan: [SensorKind, string, string, number, boolean, number][] = [
    ['s2', 'sentinel-2a', '2024-06-05T02:58:41Z', 0, false, 0.25],
    ['landsat', 'landsat-8', '2024-06-12T02:36:12Z', 0.04, false, 0.3],
    ['s2', 'sentinel-2b', '2024-06-15T02:58:39Z', 0.35, false, 0.4],
    ['gf', 'gf-1', '2024-06-22T03:05:27Z', 0, false, 0.3],
    ['s2', 'sentinel-2a', '2024-06-28T02:58:41Z', 0.06, false, 0.3],
    ['s2', 'sentinel-2b', '2025-06-20T02:58:39Z', 0.02, false, 0.2],
    ['gf', 'gf-1', '2025-07-10T03:03:11Z', 0.08, false, 0.35],
    ['s2', 'sentinel-2c', '2025-07-25T02:58:51Z', 0.4, true, 0.45],
    ['landsat', 'landsat-9', '2025-08-03T02:36:20Z', 0.12, false, 0.3],
    ['s2', 'sentinel-2b', '2025-08-19T02:58:49Z', 0, false, 0.2],
  ];
  return plan.map(([sensor, platform, datetime, cloudCover, cirrus, haze]) => {
    const date = datetime.slice(0, 10).replaceAll('-', '');
    const sigma = sensor === 's2' ? 2 : sensor === 'landsat' ? 5 : 8;
    const clampM = sensor === 's2' ? 4 : sensor === 'landsat' ? 12 : 14;
    const mis = (): number => Math.max(-clampM, Math.min(clampM, Math.round(rng.normal() * sigma * 10) / 10));
    const misregM: [number, number] = [mis(), mis()];
    const sun = sunPosition(new Date(datetime), region.center[0], region.center[1]);
    const id =
      sensor === 's2'
        ? `${platform === 'sentinel-2a' ? 'S2A' : platform === 'sentinel-2b' ? 'S2B' : 'S2C'}_${tile}_${date}_0_L2A`
        : sensor === 'landsat'
          ? `${platform === 'landsat-8' ? 'LC08' : 'LC09'}_L2SP_126026_${date}_02_T1`
          : `GF1_WFV3_E${region.center[0].toFixed(1)}_N${region.center[1].toFixed(1)}_${date}_L1A`;
    return {
      id,
      collection: COLLECTIONS[sensor],
      sensor,
      platform,
      constellation: sensor === 's2' ? 'sentinel-2' : sensor === 'landsat' ? 'landsat' : 'gaofen',
      instrument: sensor === 's2' ? 'msi' : sensor === 'landsat' ? 'oli' : 'wfv',
      datetime,
      window: datetime < '2025' ? 'before' : 'after',
      cloudCover,
      cirrus,
      haze,
      misregM,
      cloudHeightM: Math.round(rng.range(1500, 3000)),
      sun: { elevation: Math.round(sun.elevation * 100) / 100, azimuth: Math.round(sun.azimuth * 100) / 100 },
    };
  });
}

/** Spectra per spectrum id (class ids, then one per parcel) on a date: a and b−a, SCL surface code. */
export interface SurfaceTable {
  a: Float32Array;
  d: Float32Array;
  scl: Uint8Array;
}

export function surfaceTable(l: Landscape, date: Date): SurfaceTable {
  const n = PARCEL_BASE + l.parcels.length;
  const a = new Float32Array(n * NB);
  const d = new Float32Array(n * NB);
  const scl = new Uint8Array(n);
  const year = date.getUTCFullYear();
  for (let s = 0; s < n; s++) {
    const spec =
      s < PARCEL_BASE ? classSpectra(s, date) : parcelSpectra(l.parcels[s - PARCEL_BASE]!.years[year]!, date);
    for (let b = 0; b < NB; b++) {
      a[s * NB + b] = spec.a[b]!;
      d[s * NB + b] = spec.b[b]! - spec.a[b]!;
    }
    const mid = mix({}, new Float32Array(NB));
    for (let b = 0; b < NB; b++) mid[b] = (spec.a[b]! + spec.b[b]!) / 2;
    scl[s] = s < PARCEL_BASE && isWaterClass(s) ? 6 : ndvi(mid) > 0.4 ? 4 : 5;
  }
  return { a, d, scl };
}

/** Spectrum id per 10 m pixel on a date: land cover, parcels, exposed lake shore, events. */
export function spectrumIds(l: Landscape, events: readonly PlantedEvent[], date: Date): Uint16Array {
  const { width: W, height: H } = l;
  const sid = new Uint16Array(W * H);
  for (let i = 0; i < sid.length; i++) {
    const p = l.parcel[i]!;
    sid[i] = p ? PARCEL_BASE + p - 1 : l.cls[i]!;
  }
  const exposed = exposedShore(l, date);
  for (let i = 0; i < sid.length; i++) if (exposed[i]) sid[i] = CLASS.mudflat;
  const day = date.toISOString().slice(0, 10);
  for (const ev of events) {
    if (ev.date > day || (ev.until && ev.until < day)) continue;
    for (const p of ev.paint) fillPolygon(sid, W, H, [p.ring], p.cls);
  }
  return sid;
}

/** Atmosphere of a scene on the 10 m grid. */
export function sceneAtmosphere(l: Landscape, scene: SceneDef, seed: number): Atmosphere {
  return makeAtmosphere(l.width, l.height, {
    seed: (hashString(scene.id) ^ seed) >>> 0,
    cloudCover: scene.cloudCover,
    cirrus: scene.cirrus,
    haze: scene.haze,
    sunAzimuthDeg: scene.sun.azimuth,
    sunElevationDeg: scene.sun.elevation,
    cloudHeightM: scene.cloudHeightM,
    pixelM: 10,
  });
}

/** At-sensor reflectance of one band at 10 m (surface, roads, shadow, haze, cirrus, cloud); no noise. */
export function renderBand(
  l: Landscape,
  sid: Uint16Array,
  table: SurfaceTable,
  atm: Atmosphere,
  band: SimBand,
  into?: Float32Array,
): Float32Array {
  const b = BAND_INDEX[band];
  const n = sid.length;
  const out = into ?? new Float32Array(n);
  // This band's column of the table, texture scale folded in.
  const ns = table.scl.length;
  const A = new Float32Array(ns);
  const D = new Float32Array(ns);
  for (let s = 0; s < ns; s++) {
    A[s] = table.a[s * NB + b]!;
    D[s] = table.d[s * NB + b]! / 255;
  }
  const tex = l.tex;
  for (let i = 0; i < n; i++) {
    const s = sid[i]!;
    out[i] = A[s]! + tex[i]! * D[s]!;
  }
  const { index, cover, cls } = l.roads;
  for (let r = 0; r < index.length; r++) {
    const i = index[r]!;
    const s = sid[i]!;
    if (isWaterClass(s) || s === CLASS.minePit) continue;
    const rc = cls[r]!;
    const c = cover[r]!;
    out[i] = out[i]! * (1 - c) + c * (A[rc]! + tex[i]! * D[rc]!);
  }
  // Atmosphere in one pass: shadow darkens the ground, haze and cirrus add, cloud covers.
  const sf = 1 - SHADOW_FACTOR[b]!;
  const hz = HAZE_SPECTRUM[b]!;
  const cc = CIRRUS_SPECTRUM[b]! * 1.5;
  const cl = CLOUD_SPECTRUM[b]!;
  const { shadow: sh, haze, alpha: al } = atm;
  const ci = atm.cirrus ?? ZERO_FIELD(n);
  if (sh && al) {
    for (let i = 0; i < n; i++) {
      const v = out[i]! * (1 - sh[i]! * sf) + haze[i]! * hz + ci[i]! * cc;
      const x = al[i]!;
      out[i] = v + x * (cl - v);
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = out[i]! + haze[i]! * hz + ci[i]! * cc;
  }
  return out;
}

let zero = new Float32Array(0);
/** A shared all-zero field (absent cirrus) so the hot loops stay branch-free. */
function ZERO_FIELD(n: number): Float32Array {
  if (zero.length !== n) zero = new Float32Array(n);
  return zero;
}

/** Adds sensor noise (σ = abs + rel·ρ) deterministically per pixel, band and scene. */
export function addNoise(v: Float32Array, abs: number, rel: number, seed: number): void {
  for (let i = 0; i < v.length; i++) {
    const g = GAUSS_TABLE[hash3(i, 0x51, seed) & 4095]!;
    v[i]! += (abs + rel * Math.abs(v[i]!)) * g;
  }
}

/** Sensor noise levels (reflectance): L2A/L2SP surface reflectance, and GF-1 L1A at TOA. */
export const NOISE: Record<SensorKind, [number, number]> = {
  s2: [0.003, 0.01],
  landsat: [0.004, 0.012],
  gf: [0.005, 0.015],
};

/** The product grid of a scene at `res` metres: the region shifted by its geolocation error. */
export function sceneGrid(region: Region, scene: SceneDef, res: number): Grid {
  const g = region.grid;
  return {
    epsg: g.epsg,
    width: Math.round((g.width * g.resX) / res),
    height: Math.round((g.height * g.resY) / res),
    originX: g.originX + scene.misregM[0],
    originY: g.originY + scene.misregM[1],
    resX: res,
    resY: res,
  };
}

/** Resamples a 10 m band to `res` metres and adds the sensor's noise. */
export function toSensor(
  v10: Float32Array,
  l: Landscape,
  res: number,
  sensor: SensorKind,
  seed: number,
): Float32Array {
  const out = res === 10 ? v10 : areaDownsample(v10, l.width, l.height, res / 10).data;
  const [abs, rel] = NOISE[sensor];
  addNoise(out, abs, rel, seed);
  return out;
}

const clampDn = (v: number) => (v < 1 ? 1 : v > 65535 ? 65535 : Math.round(v));

/** Sentinel-2 L2A DNs (processing baseline ≥ 04.00): ρ·10000 + 1000; 0 stays nodata. */
export function s2Dn(v: Float32Array): Uint16Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = clampDn(v[i]! * 10000 + 1000);
  return out;
}

/** Landsat Collection 2 Level-2 surface reflectance DNs: (ρ + 0.2) / 0.0000275. */
export function landsatDn(v: Float32Array): Uint16Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = clampDn((v[i]! + 0.2) / 0.0000275);
  return out;
}

/**
 * GF-1 WFV L1A DNs: surface → TOA reflectance (transmittance and path reflectance), → radiance
 * (ESUN, sun elevation, Earth–Sun distance), → DN by the band's gain. Inverse of the reading
 * chain in domain/catalog/stac.ts.
 */
export function gfDn(v: Float32Array, band: (typeof GF_BANDS)[number], scene: SceneDef): Uint16Array {
  const d = earthSunDistance(new Date(scene.datetime));
  const k = (band.esun * Math.sin((scene.sun.elevation * Math.PI) / 180)) / (Math.PI * d * d);
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const toa = v[i]! * band.transmittance + band.path;
    out[i] = clampDn((toa * k) / band.gain);
  }
  return out;
}

export { BANDS };
