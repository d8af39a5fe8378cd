import { fractalField } from './noise.ts';

/**
 * Clouds, their shadows, thin cirrus and residual haze of one scene on the 10 m grid, and the
 * product masks derived from exactly those fields (Sentinel-2 SCL, Landsat QA_PIXEL), so masks
 * and pixels always agree. Pure.
 */

export interface AtmosphereOptions {
  seed: number;
  /** Target fraction of pixels labelled cloud (0 = clear sky). */
  cloudCover: number;
  cirrus: boolean;
  /** Haze amount 0..1 (scales HAZE_SPECTRUM). */
  haze: number;
  sunAzimuthDeg: number;
  sunElevationDeg: number;
  cloudHeightM: number;
  pixelM: number;
}

export interface Atmosphere {
  /** Cloud opacity 0..1, null when clear. */
  alpha: Float32Array | null;
  /** Shadow strength 0..1, null when clear. */
  shadow: Float32Array | null;
  cirrus: Float32Array | null;
  haze: Float32Array;
  /** Share of pixels labelled cloud (opaque ≥ 0.3 or cirrus ≥ 0.35): the scene's eo:cloud_cover / 100. */
  cloudFraction: number;
  /** Shadow displacement in pixels (x right, y down). */
  shadowShiftPx: [number, number];
}

export const CLOUD_ALPHA = 0.3;
export const CIRRUS_MIN = 0.35;
export const SHADOW_MIN = 0.35;

/** Where the sun is (NOAA low-precision formulae; ±0.5°). Azimuth from north, clockwise. */
export function sunPosition(date: Date, lon: number, lat: number): { elevation: number; azimuth: number } {
  const rad = Math.PI / 180;
  const d = (date.getTime() - Date.UTC(2000, 0, 1, 12)) / 86_400_000;
  const g = (357.529 + 0.98560028 * d) * rad;
  const q = 280.459 + 0.98564736 * d;
  const L = (q + 1.915 * Math.sin(g) + 0.02 * Math.sin(2 * g)) * rad;
  const e = (23.439 - 0.00000036 * d) * rad;
  const ra = Math.atan2(Math.cos(e) * Math.sin(L), Math.cos(L));
  const dec = Math.asin(Math.sin(e) * Math.sin(L));
  const gmst = (18.697374558 + 24.06570982441908 * d) % 24;
  const h = (gmst * 15 + lon) * rad - ra;
  const phi = lat * rad;
  const el = Math.asin(Math.sin(phi) * Math.sin(dec) + Math.cos(phi) * Math.cos(dec) * Math.cos(h));
  const az = Math.atan2(-Math.sin(h), Math.tan(dec) * Math.cos(phi) - Math.sin(phi) * Math.cos(h));
  return { elevation: el / rad, azimuth: (((az / rad) % 360) + 360) % 360 };
}

function quantile(v: Float32Array, q: number): number {
  const step = Math.max(1, Math.floor(v.length / 100_000));
  const s = new Float32Array(Math.ceil(v.length / step));
  for (let i = 0, k = 0; i < v.length; i += step) s[k++] = v[i]!;
  s.sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))]!;
}

/** The atmosphere of one scene over a width×height grid. */
export function makeAtmosphere(width: number, height: number, o: AtmosphereOptions): Atmosphere {
  const n = width * height;
  const hazeF = fractalField(width, height, { seed: o.seed ^ 0x4a5e, scalePx: 500, octaves: 3, stepPx: 16 });
  const haze = new Float32Array(n);
  for (let i = 0; i < n; i++) haze[i] = o.haze * (0.4 + 1.2 * hazeF[i]!);
  // Shadows fall away from the sun: h / tan(elevation) along the anti-solar azimuth.
  const len = o.cloudHeightM / Math.tan((o.sunElevationDeg * Math.PI) / 180) / o.pixelM;
  const az = (o.sunAzimuthDeg * Math.PI) / 180;
  const step = 4;
  const dx = Math.round((-Math.sin(az) * len) / step) * step;
  const dy = Math.round((Math.cos(az) * len) / step) * step;
  if (o.cloudCover <= 0 && !o.cirrus) {
    return { alpha: null, shadow: null, cirrus: null, haze, cloudFraction: 0, shadowShiftPx: [dx, dy] };
  }
  const opts = { seed: o.seed ^ 0xc10d, scalePx: 220, octaves: 5, persistence: 0.55, stepPx: step };
  let alpha: Float32Array | null = null;
  let shadow: Float32Array | null = null;
  const soft = 0.07;
  if (o.cloudCover > 0) {
    const f = fractalField(width, height, opts);
    const thr = quantile(f, 1 - o.cloudCover) - soft * CLOUD_ALPHA ** 1.25;
    alpha = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const t = (f[i]! - thr) / soft;
      alpha[i] = t <= 0 ? 0 : t >= 1 ? 1 : t ** 0.8;
    }
    // The same field sampled where the casting cloud is.
    const g = fractalField(width, height, { ...opts, offsetX: -dx, offsetY: -dy });
    shadow = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const t = (g[i]! - thr) / soft;
      shadow[i] = t <= 0 ? 0 : t >= 1 ? 0.92 : 0.92 * t ** 0.8;
    }
  }
  let cirrus: Float32Array | null = null;
  if (o.cirrus) {
    const c = fractalField(width, height, { seed: o.seed ^ 0xc155, scalePx: 400, octaves: 4, stepPx: 8 });
    cirrus = new Float32Array(n);
    for (let i = 0; i < n; i++) cirrus[i] = Math.min(0.8, Math.max(0, (c[i]! - 0.58) * 4));
  }
  let cloudy = 0;
  for (let i = 0; i < n; i++) {
    if ((alpha && alpha[i]! >= CLOUD_ALPHA) || (cirrus && cirrus[i]! >= CIRRUS_MIN)) cloudy++;
  }
  return { alpha, shadow, cirrus, haze, cloudFraction: cloudy / n, shadowShiftPx: [dx, dy] };
}

/** SCL surface codes: 4 vegetation, 5 not vegetated, 6 water. */
export type SurfaceScl = 4 | 5 | 6;

/**
 * Sentinel-2 Scene Classification at `f`× the grid (2 for 20 m): 9/8 cloud high/medium
 * probability, 10 thin cirrus, 3 cloud shadow, 7 unclassified (thin cloud edges), else the
 * majority surface class of the block.
 */
export function sclFromAtmosphere(
  atm: Atmosphere,
  surface: Uint8Array,
  width: number,
  height: number,
  f = 2,
): Uint8Array {
  const w = Math.floor(width / f);
  const h = Math.floor(height / f);
  const out = new Uint8Array(w * h);
  const inv = 1 / (f * f);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let a = 0;
      let s = 0;
      let c = 0;
      let water = 0;
      let veg = 0;
      for (let dy = 0; dy < f; dy++) {
        for (let dx = 0; dx < f; dx++) {
          const i = (y * f + dy) * width + x * f + dx;
          if (atm.alpha) a += atm.alpha[i]!;
          if (atm.shadow) s += atm.shadow[i]!;
          if (atm.cirrus) c += atm.cirrus[i]!;
          const sv = surface[i]!;
          if (sv === 6) water++;
          else if (sv === 4) veg++;
        }
      }
      a *= inv;
      s *= inv;
      c *= inv;
      let v: number;
      if (a >= 0.6) v = 9;
      else if (a >= CLOUD_ALPHA) v = 8;
      else if (c >= CIRRUS_MIN) v = 10;
      else if (s * (1 - a) >= SHADOW_MIN) v = 3;
      else if (a >= 0.08) v = 7;
      else if (water * 2 >= f * f) v = 6;
      else if (veg * 2 >= f * f) v = 4;
      else v = 5;
      out[y * w + x] = v;
    }
  }
  return out;
}

// Landsat Collection 2 QA_PIXEL bits.
const QA = {
  dilated: 1 << 1,
  cirrus: 1 << 2,
  cloud: 1 << 3,
  shadow: 1 << 4,
  clear: 1 << 6,
  water: 1 << 7,
  cloudConf: (c: number) => c << 8,
  shadowConf: (c: number) => c << 10,
  snowConf: (c: number) => c << 12,
  cirrusConf: (c: number) => c << 14,
};

/**
 * Landsat 8/9 Collection 2 QA_PIXEL at `f`× the grid (3 for 30 m): cloud (bit 3, high
 * confidence), dilated cloud (bit 1, two pixels around clouds), cirrus (bit 2), shadow
 * (bit 4), clear (bit 6), water (bit 7), with the confidence pairs in bits 8–15 as USGS writes
 * them (e.g. 21824 clear land, 21952 clear water).
 */
export function qaPixelFromAtmosphere(
  atm: Atmosphere,
  surface: Uint8Array,
  width: number,
  height: number,
  f = 3,
): Uint16Array {
  const w = Math.floor(width / f);
  const h = Math.floor(height / f);
  const n = w * h;
  const a = new Float32Array(n);
  const s = new Float32Array(n);
  const c = new Float32Array(n);
  const water = new Uint8Array(n);
  const inv = 1 / (f * f);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sa = 0;
      let ss = 0;
      let sc = 0;
      let wn = 0;
      for (let dy = 0; dy < f; dy++) {
        for (let dx = 0; dx < f; dx++) {
          const i = (y * f + dy) * width + x * f + dx;
          if (atm.alpha) sa += atm.alpha[i]!;
          if (atm.shadow) ss += atm.shadow[i]!;
          if (atm.cirrus) sc += atm.cirrus[i]!;
          if (surface[i] === 6) wn++;
        }
      }
      const o = y * w + x;
      a[o] = sa * inv;
      s[o] = ss * inv;
      c[o] = sc * inv;
      water[o] = wn * 2 > f * f ? 1 : 0;
    }
  }
  const cloud = new Uint8Array(n);
  for (let i = 0; i < n; i++) cloud[i] = a[i]! >= CLOUD_ALPHA ? 1 : 0;
  const out = new Uint16Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v = QA.snowConf(1);
      if (cloud[i]) {
        v |= QA.cloud | QA.cloudConf(3);
      } else {
        let near = false;
        for (let dy = -2; dy <= 2 && !near; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && xx >= 0 && yy < h && xx < w && cloud[yy * w + xx]) {
              near = true;
              break;
            }
          }
        }
        if (near) v |= QA.dilated;
        v |= QA.cloudConf(a[i]! >= 0.1 ? 2 : 1);
      }
      const cir = c[i]! >= CIRRUS_MIN;
      v |= cir ? QA.cirrus | QA.cirrusConf(3) : QA.cirrusConf(1);
      const shadow = !cloud[i] && s[i]! * (1 - a[i]!) >= SHADOW_MIN;
      v |= shadow ? QA.shadow | QA.shadowConf(3) : QA.shadowConf(1);
      if (!(v & (QA.dilated | QA.cirrus | QA.cloud | QA.shadow))) v |= QA.clear;
      if (water[i] && !cloud[i]) v |= QA.water;
      out[i] = v;
    }
  }
  return out;
}
