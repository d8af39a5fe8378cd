import { bboxOf, blobRing, clipPolyline, densify, meander, rectRing } from './geometry.ts';
import { chamferDistance, fractalField, hashString, type Rng, rngFor } from './noise.ts';
import { burnLine, fillPolygon, type PxRing, scanPolygon } from './raster.ts';
import { pxToLonLat, type Region } from './region.ts';
import { CLASS, CROPS, type Crop, dayOfYear, PARCEL_BASE, type ParcelYear } from './spectra.ts';

/**
 * The simulated landscape on the 10 m grid, deterministic from the seed: the real lakes and
 * rivers rasterised, wetlands along them, steppe with texture, forest patches, black-soil
 * cropland in rectangular parcels, settlements at real places with roads, herders'
 * homesteads and mines. Pure: geography comes in as parsed GeoJSON.
 */

export interface GeoInput {
  lakes: GeoJsonFC;
  rivers: GeoJsonFC;
  places: GeoJsonFC;
  counties: GeoJsonFC;
}

export interface GeoJsonFC {
  type: 'FeatureCollection';
  features: {
    type: 'Feature';
    properties: Record<string, unknown> | null;
    geometry: { type: string; coordinates: unknown };
  }[];
}

export interface River {
  name: string;
  /** Meandered centre line, lon/lat (for zoning) and pixels. */
  lineLonLat: [number, number][];
  linePx: [number, number][];
  halfWidthM: number;
  floodplainM: number;
  /** True for the outflow channel the simulator adds (absent from Natural Earth 1:10m). */
  approximated: boolean;
}

export interface Parcel {
  id: number;
  block: number;
  ring: PxRing;
  /** Crop calendar per year. */
  years: Record<number, ParcelYear>;
}

export interface Mine {
  id: number;
  name: string;
  pit: PxRing;
  spoil: PxRing;
  /** Permit boundary, with room for lawful expansion on the side away from the spoil. */
  permit: PxRing;
  permitNo: string;
  holder: string;
  validTo: string;
}

export interface Place {
  name: string;
  lonLat: [number, number];
  px: [number, number];
  ring: PxRing;
  source: string;
}

export interface Landscape {
  region: Region;
  width: number;
  height: number;
  /** Base land-cover class (CLASS ids); cropland pixels hold CLASS.bareBlack, see `parcel`. */
  cls: Uint8Array;
  /** Parcel index + 1, 0 outside cropland. */
  parcel: Uint16Array;
  /** Texture 0..255: mixes each class between its two spectra. */
  tex: Uint8Array;
  /** Distance inside a lake from its shore, pixels (0 outside lakes). */
  lakeDepth: Float32Array;
  /** 0..255 shallowness of the lake bed, scales seasonal exposure of the shore. */
  shallow: Uint8Array;
  /** Road (asphalt) and track coverage 0..1 as sparse lists. */
  roads: { index: Int32Array; cover: Float32Array; cls: Uint8Array };
  lakes: { name: string; coordinates: number[][][] }[];
  rivers: River[];
  parcels: Parcel[];
  blocks: { id: number; ring: PxRing; name: string }[];
  forests: { id: number; ring: PxRing; kind: 'conifer' | 'broadleaf' }[];
  settlements: Place[];
  homesteads: { id: number; ring: PxRing; plot: PxRing }[];
  mines: Mine[];
}

/** The Dalan Eluomu outflow: from the north tip of Hulun Nuur to the head of the Argun'. */
export const OUTFLOW = {
  name: 'Dalan Eluomu (达兰鄂罗木河, approximated)',
  from: [117.70105869928415, 49.377635555519674] as [number, number],
  to: [117.87346438893792, 49.51349518436903] as [number, number],
};

const MAJOR_RIVERS = new Set(['Hailar', 'Argun’', 'Herlen', 'Heilong Jiang', 'Nen', 'Shilka']);

function lines(geom: { type: string; coordinates: unknown }): [number, number][][] {
  if (geom.type === 'LineString') return [geom.coordinates as [number, number][]];
  if (geom.type === 'MultiLineString') return geom.coordinates as [number, number][][];
  return [];
}

function polygons(geom: { type: string; coordinates: unknown }): number[][][][] {
  if (geom.type === 'Polygon') return [geom.coordinates as number[][][]];
  if (geom.type === 'MultiPolygon') return geom.coordinates as number[][][][];
  return [];
}

/** Builds the landscape of a region. */
export function buildLandscape(region: Region, geo: GeoInput, seed: number): Landscape {
  const { width: W, height: H } = region.grid;
  const N = W * H;
  const km = region.sizeKm;
  const areaKm2 = km * km;
  const toPx = (lon: number, lat: number): [number, number] => {
    const [x, y] = region.fromLonLat(lon, lat);
    return region.toPx(x, y);
  };
  const cls = new Uint8Array(N).fill(CLASS.steppe);
  const occupied = new Uint8Array(N); // anything placed that others must avoid

  // --- Lakes -------------------------------------------------------------------------
  const water = new Uint8Array(N);
  const lakes: Landscape['lakes'] = [];
  const margin = 0.05;
  const [bw, bs, be, bn] = region.bboxLonLat;
  for (const f of geo.lakes.features) {
    for (const poly of polygons(f.geometry)) {
      const outer = poly[0]!;
      const lons = outer.map((p) => p[0]!);
      const lats = outer.map((p) => p[1]!);
      if (Math.max(...lons) < bw - margin || Math.min(...lons) > be + margin) continue;
      if (Math.max(...lats) < bs - margin || Math.min(...lats) > bn + margin) continue;
      const rings = poly.map((ring) => ring.map((p) => toPx(p[0]!, p[1]!)));
      fillPolygon(water, W, H, rings, 1);
      lakes.push({ name: String(f.properties?.name ?? 'lake'), coordinates: poly });
    }
  }
  // Natural Earth shores are straight chords at 10 m: roughen them by a noisy signed distance.
  const inner0 = chamferDistance(invert(water), W, H, 60);
  const outer0 = chamferDistance(water, W, H, 60);
  const shoreNoise = fractalField(W, H, {
    seed: hashString('shore') ^ seed,
    scalePx: 50,
    octaves: 3,
    stepPx: 4,
  });
  for (let i = 0; i < N; i++) {
    const sd = (water[i] ? inner0[i]! : -outer0[i]!) + (shoreNoise[i]! - 0.5) * 22;
    water[i] = sd > 0 ? 1 : 0;
  }
  const lakeDepth = chamferDistance(invert(water), W, H, 400);
  for (let i = 0; i < N; i++) if (!water[i]) lakeDepth[i] = 0;
  const lakeDist = chamferDistance(water, W, H, 400);

  // --- Rivers --------------------------------------------------------------------------
  const rivers: River[] = [];
  const pad = 300; // px beyond the region, so channels run off the edge naturally
  const box: [number, number, number, number] = [-pad, -pad, W + pad, H + pad];
  const riverDefs: { name: string; coords: [number, number][]; approximated: boolean }[] = [];
  for (const f of geo.rivers.features) {
    for (const l of lines(f.geometry))
      riverDefs.push({ name: String(f.properties?.name ?? 'river'), coords: l, approximated: false });
  }
  riverDefs.push({ name: OUTFLOW.name, coords: [OUTFLOW.from, OUTFLOW.to], approximated: true });
  for (const def of riverDefs) {
    const px = def.coords.map((p) => toPx(p[0], p[1]));
    for (const piece of clipPolyline(px, box)) {
      const major = MAJOR_RIVERS.has(def.name);
      const dense = densify(piece, 2.5);
      // The approximated outflow is a straight chord between two real vertices: give it bends.
      const [amp, wave] = major ? [14, 90] : def.approximated ? [28, 160] : [5, 45];
      const m = meander(dense, amp, wave, hashString(def.name) ^ seed, 30);
      rivers.push({
        name: def.name,
        linePx: m,
        lineLonLat: densify(m, 10).map(([x, y]) => pxToLonLat(region, x, y)),
        halfWidthM: major ? 45 : 15,
        floodplainM: major ? 650 : 220,
        approximated: def.approximated,
      });
    }
  }
  const riverSeedMajor = new Uint8Array(N);
  const riverSeedMinor = new Uint8Array(N);
  for (const r of rivers) {
    const target = r.halfWidthM > 30 ? riverSeedMajor : riverSeedMinor;
    for (const [x, y] of densify(r.linePx, 0.5)) {
      const xi = Math.floor(x);
      const yi = Math.floor(y);
      if (xi >= 0 && yi >= 0 && xi < W && yi < H) target[yi * W + xi] = 1;
    }
  }
  const dMajor = chamferDistance(riverSeedMajor, W, H, 200);
  const dMinor = chamferDistance(riverSeedMinor, W, H, 200);

  // --- Fields of noise -----------------------------------------------------------------
  const wet = fractalField(W, H, { seed: hashString('wet') ^ seed, scalePx: 60, octaves: 4, stepPx: 4 });
  const sparse = fractalField(W, H, {
    seed: hashString('sparse') ^ seed,
    scalePx: 120,
    octaves: 3,
    stepPx: 8,
  });
  const wobble = fractalField(W, H, {
    seed: hashString('wobble') ^ seed,
    scalePx: 14,
    octaves: 2,
    stepPx: 3,
  });
  const shallowF = fractalField(W, H, {
    seed: hashString('shallow') ^ seed,
    scalePx: 150,
    octaves: 3,
    stepPx: 8,
  });

  // --- Water, wetlands, steppe -----------------------------------------------------------
  const hwMajor = 4.5;
  const hwMinor = 1.5;
  for (let i = 0; i < N; i++) {
    const w = wet[i]!;
    if (water[i]) {
      cls[i] = CLASS.lake;
      occupied[i] = 1;
      continue;
    }
    const dM = dMajor[i]!;
    const dm = dMinor[i]!;
    const wob = (wobble[i]! - 0.5) * 2.2;
    if (dM < hwMajor + wob || dm < hwMinor + wob * 0.6) {
      cls[i] = CLASS.river;
      occupied[i] = 1;
      continue;
    }
    if ((dM < hwMajor + 3 || dm < hwMinor + 1.5) && w > 0.66) {
      cls[i] = CLASS.sandBar;
      occupied[i] = 1;
      continue;
    }
    const flood = Math.min(dM / 65, dm / 22);
    const shore = lakeDist[i]! / 40;
    const wetness = Math.max(1 - flood, 1 - shore) + (w - 0.5) * 1.5;
    if (wetness > 1.05 && w > 0.72) {
      // Ponds and oxbows in the marsh.
      cls[i] = CLASS.pitWater;
      occupied[i] = 1;
    } else if (wetness > 0.8) {
      cls[i] = CLASS.marsh;
      occupied[i] = 1;
    } else if (wetness > 0.5) {
      cls[i] = CLASS.wetMeadow;
      occupied[i] = 1;
    } else if (sparse[i]! > 0.76) cls[i] = CLASS.steppeSparse;
  }
  // Keep everything else well away from the water's edge.
  for (let i = 0; i < N; i++) if (lakeDist[i]! < 25 || dMajor[i]! < 40 || dMinor[i]! < 15) occupied[i] = 1;

  const rng = rngFor(seed, 'landscape');
  const inRegion = (x: number, y: number, m = 0) => x >= m && y >= m && x < W - m && y < H - m;
  /** Fraction of sampled pixels of a polygon that are free (not occupied). */
  const freeFraction = (ring: PxRing): number => {
    let n = 0;
    let free = 0;
    scanPolygon([ring], W, H, (row, x0, x1) => {
      for (let x = x0; x < x1; x += 3) {
        n++;
        if (!occupied[row * W + x]) free++;
      }
    });
    const [a, b, c, d] = bboxOf(ring);
    if (a < 0 || b < 0 || c >= W || d >= H) return 0;
    return n ? free / n : 0;
  };
  const occupy = (ring: PxRing, bufferPx = 0) => {
    const r = bufferPx ? grow(ring, bufferPx) : ring;
    fillPolygon(occupied, W, H, [r], 1);
  };

  // --- Settlements at real places ----------------------------------------------------------
  const settlements: Place[] = [];
  const candidates: { name: string; lonLat: [number, number]; source: string; radiusM: number }[] = [];
  for (const f of geo.places.features) {
    const c = f.geometry.coordinates as [number, number];
    const pop = Number(f.properties?.pop_max ?? 20000);
    candidates.push({
      name: String(f.properties?.name),
      lonLat: c,
      source: 'Natural Earth populated places',
      radiusM: Math.min(2500, 350 + Math.sqrt(pop) * 5),
    });
  }
  for (const f of geo.counties.features) {
    const c = f.properties?.center as [number, number] | undefined;
    if (c) {
      candidates.push({
        name: String(f.properties?.name),
        lonLat: c,
        source: 'county seat (centre in hulunbuir-counties.geojson)',
        radiusM: 1300,
      });
    }
  }
  for (const c of candidates) {
    const [x, y] = toPx(c.lonLat[0], c.lonLat[1]);
    const r = c.radiusM / 10;
    if (!inRegion(x, y, 20)) continue;
    if (settlements.some((s) => Math.hypot(s.px[0] - x, s.px[1] - y) < 300)) continue;
    const ring = blobRing(x, y, r, rng, 0.22);
    settlements.push({ name: c.name, lonLat: c.lonLat, px: [x, y], ring, source: c.source });
  }
  for (const s of settlements) {
    scanPolygon([s.ring], W, H, (row, x0, x1) => {
      for (let x = x0; x < x1; x++) {
        const i = row * W + x;
        if (occupied[i] && cls[i] !== CLASS.steppe && cls[i] !== CLASS.steppeSparse) continue;
        // 120 m blocks, built or green by a hash of the block.
        const bx = Math.floor(x / 12);
        const by = Math.floor(row / 12);
        cls[i] = (bx * 7 + by * 13 + (bx ^ by)) % 10 < 7 ? CLASS.built : CLASS.townGreen;
      }
    });
    occupy(s.ring, 30);
  }

  // --- Cropland blocks and parcels ------------------------------------------------------------
  const parcel = new Uint16Array(N);
  const parcels: Parcel[] = [];
  const blocks: Landscape['blocks'] = [];
  const nBlocks = Math.max(1, Math.round(areaKm2 / 180));
  for (let k = 0, tries = 0; blocks.length < nBlocks && tries < 400; tries++) {
    const bwPx = rng.range(km < 10 ? 70 : 120, km < 10 ? 110 : 280);
    const bhPx = rng.range(km < 10 ? 55 : 90, km < 10 ? 85 : 220);
    const cx = rng.range(bwPx / 2 + 10, W - bwPx / 2 - 10);
    const cy = rng.range(bhPx / 2 + 10, H - bhPx / 2 - 10);
    const ring = rectRing(cx, cy, bwPx, bhPx, 0);
    if (freeFraction(grow(ring, 40)) < 0.999) continue;
    const id = k++;
    blocks.push({ id, ring, name: `黑土地保护区 ${id + 1}` });
    occupy(ring, 8);
    // Parcels: strips across the long side, 80–250 m wide, with a 10 m field road between.
    const vertical = bwPx > bhPx;
    const span = vertical ? bwPx : bhPx;
    const len = vertical ? bhPx : bwPx;
    let pos = 0;
    while (pos < span - 6) {
      const first = pos === 0;
      // The first strip of a block is wide and under a summer crop, so every block has
      // cropland that is green through the after window.
      const wStrip = Math.min(span - pos, first ? rng.range(20, 28) : rng.range(8, 25));
      const c0 = pos + wStrip / 2 - span / 2;
      const pr = vertical
        ? rectRing(cx + c0, cy, wStrip - 1, len, 0)
        : rectRing(cx, cy + c0, len, wStrip - 1, 0);
      const pid = parcels.length;
      parcels.push({ id: pid, block: id, ring: pr, years: cropYears(rng, first) });
      fillPolygon(parcel, W, H, [pr], pid + 1);
      pos += wStrip;
    }
    scanPolygon([ring], W, H, (row, x0, x1) => {
      for (let x = x0; x < x1; x++) cls[row * W + x] = parcel[row * W + x] ? CLASS.bareBlack : CLASS.track;
    });
  }

  // --- Forest patches --------------------------------------------------------------------------
  const forests: Landscape['forests'] = [];
  const nForest = Math.max(3, Math.round(areaKm2 / 60));
  for (let tries = 0; forests.length < nForest && tries < 600; tries++) {
    const r = rng.range(km < 10 ? 12 : 15, km < 10 ? 22 : 45);
    const cx = rng.range(r * 1.6, W - r * 1.6);
    const cy = rng.range(r * 1.6, H - r * 1.6);
    const ring = blobRing(cx, cy, r, rng, 0.3);
    if (freeFraction(grow(ring, 10)) < 0.999) continue;
    const kind = rng.next() < 0.7 ? 'conifer' : 'broadleaf';
    forests.push({ id: forests.length, ring, kind });
    fillPolygon(cls, W, H, [ring], kind === 'conifer' ? CLASS.conifer : CLASS.broadleaf);
    occupy(ring, 10);
  }

  // --- Mines ----------------------------------------------------------------------------------
  const mines: Mine[] = [];
  const nMines = Math.max(1, Math.round(areaKm2 / 450));
  const town = settlements[0];
  for (let tries = 0; mines.length < nMines && tries < 600; tries++) {
    const big = mines.length === 0 && !!town && km >= 20;
    const r = big ? rng.range(60, 90) : rng.range(km < 10 ? 10 : 14, km < 10 ? 14 : 26);
    let cx: number;
    let cy: number;
    if (big && town && tries < 300) {
      const a = rng.range(0, 2 * Math.PI);
      const d = rng.range(250, 500);
      cx = town.px[0] + d * Math.cos(a);
      cy = town.px[1] + d * Math.sin(a);
    } else {
      cx = rng.range(r * 3, W - r * 3);
      cy = rng.range(r * 3, H - r * 3);
    }
    const pit = blobRing(cx, cy, r, rng, 0.15);
    const a = rng.range(0, 2 * Math.PI);
    const spoil = blobRing(cx + Math.cos(a) * r * 1.5, cy + Math.sin(a) * r * 1.5, r * 0.6, rng, 0.25);
    // The permit leaves room on the far side of the pit for lawful expansion.
    const permit = rectRing(cx - Math.cos(a) * r * 0.25, cy - Math.sin(a) * r * 0.25, r * 4.2, r * 4.2, 0);
    if (freeFraction(grow(permit, 10)) < 0.999) continue;
    const id = mines.length;
    fillPolygon(cls, W, H, [spoil], CLASS.mineSpoil);
    fillPolygon(cls, W, H, [pit], CLASS.minePit);
    occupy(permit, 10);
    mines.push({
      id,
      name: big ? '扎赉诺尔露天煤矿（模拟）' : `砂石矿 ${id + 1}`,
      pit,
      spoil,
      permit,
      permitNo: `C1507${String(2016 + id).padStart(4, '0')}${String(1000 + rng.int(0, 8999)).padStart(6, '0')}`,
      holder: big ? '呼伦贝尔扎煤矿业有限公司（模拟）' : `呼伦贝尔市砂石${id + 1}号有限公司（模拟）`,
      validTo: `${2027 + (id % 3)}-12-31`,
    });
  }

  // --- Homesteads ---------------------------------------------------------------------------------
  const homesteads: Landscape['homesteads'] = [];
  const nHome = Math.max(2, Math.round(areaKm2 / 90));
  for (let tries = 0; homesteads.length < nHome && tries < 800; tries++) {
    const cx = rng.range(30, W - 30);
    const cy = rng.range(30, H - 30);
    const plot = rectRing(cx, cy, 26, 26, 0); // 260 m plot of construction land, unzoned
    if (freeFraction(plot) < 0.999) continue;
    const ring = rectRing(cx, cy, rng.range(6, 9), rng.range(6, 9), 0);
    fillPolygon(cls, W, H, [ring], CLASS.homestead);
    const nRoofs = rng.int(1, 3);
    for (let k = 0; k < nRoofs; k++) {
      fillPolygon(
        cls,
        W,
        H,
        [rectRing(cx + rng.range(-2, 2), cy + rng.range(-2, 2), rng.range(1.5, 3), 1.2, 0)],
        CLASS.roof,
      );
    }
    homesteads.push({ id: homesteads.length, ring, plot });
    occupy(plot, 0);
  }

  // --- Roads and tracks ------------------------------------------------------------------------------
  const asphalt = new Float32Array(N);
  const track = new Float32Array(N);
  const road = (
    a: [number, number],
    b: [number, number],
    widthPx: number,
    target: Float32Array,
    s: number,
  ) => {
    const line = meander(densify([a, b], 5), Math.hypot(b[0] - a[0], b[1] - a[1]) * 0.03, 150, s, 20);
    burnLine(target, W, H, line, widthPx);
  };
  for (let i = 0; i < settlements.length; i++) {
    const s = settlements[i]!;
    // Each town has a trunk road leaving the region and a street grid.
    const ang = rng.range(0, 2 * Math.PI);
    road(s.px, [s.px[0] + Math.cos(ang) * W * 2, s.px[1] + Math.sin(ang) * H * 2], 0.9, asphalt, seed + i);
    const j = (i + 1) % settlements.length;
    if (j !== i) road(s.px, settlements[j]!.px, 0.9, asphalt, seed + 100 + i);
    const [x0, y0, x1, y1] = bboxOf(s.ring);
    for (let x = Math.ceil(x0 / 12) * 12; x < x1; x += 12)
      burnStreet(asphalt, W, H, s.ring, [x, y0], [x, y1]);
    for (let y = Math.ceil(y0 / 12) * 12; y < y1; y += 12)
      burnStreet(asphalt, W, H, s.ring, [x0, y], [x1, y]);
  }
  const hubs: [number, number][] = settlements.map((s) => s.px);
  if (!hubs.length) hubs.push([W * rng.range(0.3, 0.7), -50]);
  const nearestHub = (p: [number, number]) =>
    hubs.reduce((best, h) =>
      Math.hypot(h[0] - p[0], h[1] - p[1]) < Math.hypot(best[0] - p[0], best[1] - p[1]) ? h : best,
    );
  let ts = 0;
  for (const h of homesteads)
    road(centreOf(h.ring), nearestHub(centreOf(h.ring)), 0.45, track, seed + 1000 + ts++);
  for (const m of mines) road(centreOf(m.pit), nearestHub(centreOf(m.pit)), 0.8, track, seed + 2000 + ts++);
  for (const b of blocks)
    road(centreOf(b.ring), nearestHub(centreOf(b.ring)), 0.45, track, seed + 3000 + ts++);
  // Roads do not run over open water.
  const idx: number[] = [];
  const cov: number[] = [];
  const rc: number[] = [];
  for (let i = 0; i < N; i++) {
    const c = cls[i]!;
    if (c === CLASS.lake || c === CLASS.river) continue;
    const a = asphalt[i]!;
    const t = track[i]!;
    if (a > 0.02) {
      idx.push(i);
      cov.push(a);
      rc.push(CLASS.asphalt);
    } else if (t > 0.02 && c !== CLASS.minePit) {
      idx.push(i);
      cov.push(t);
      rc.push(CLASS.track);
    }
  }

  // --- Texture -------------------------------------------------------------------------------------
  // Coarse patches plus fine grain, computed on lattices as coarse as each allows.
  const texC = fractalField(W, H, {
    seed: hashString('tex') ^ seed,
    scalePx: 64,
    octaves: 3,
    persistence: 0.6,
    stepPx: 4,
  });
  const texF = fractalField(W, H, { seed: hashString('grain') ^ seed, scalePx: 5, octaves: 1, stepPx: 2 });
  const tex = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const v = 0.5 + (texC[i]! - 0.5) * 1.5 + (texF[i]! - 0.5) * 0.45;
    tex[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
  for (const p of parcels) {
    // Tramlines: faint stripes 24–36 m apart along each parcel.
    const [x0, y0, x1] = bboxOf(p.ring);
    const vertical = x1 - x0 < 40;
    const spacing = 2.4 + (p.id % 3) * 0.6;
    scanPolygon([p.ring], W, H, (row, a, b) => {
      for (let x = a; x < b; x++) {
        const u = vertical ? x - x0 : row - y0;
        const stripe = Math.cos((2 * Math.PI * u) / spacing) > 0.6 ? 40 : 0;
        const i = row * W + x;
        tex[i] = Math.min(255, Math.round(tex[i]! * 0.6 + 50 + stripe));
      }
    });
  }
  for (const m of mines) {
    // Benches: concentric stripes inside the pit.
    const [cx, cy] = centreOf(m.pit);
    scanPolygon([m.pit], W, H, (row, a, b) => {
      for (let x = a; x < b; x++) {
        const d = Math.hypot(x - cx, row - cy);
        tex[row * W + x] = Math.cos(d * 0.9) > 0 ? 230 : 30;
      }
    });
  }
  const shallow = new Uint8Array(N);
  for (let i = 0; i < N; i++) shallow[i] = Math.round(shallowF[i]! * 255);

  return {
    region,
    width: W,
    height: H,
    cls,
    parcel,
    tex,
    lakeDepth,
    shallow,
    roads: { index: Int32Array.from(idx), cover: Float32Array.from(cov), cls: Uint8Array.from(rc) },
    lakes,
    rivers,
    parcels,
    blocks,
    forests,
    settlements,
    homesteads,
    mines,
  };
}

function invert(m: Uint8Array): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = m[i] ? 0 : 1;
  return out;
}

function centreOf(ring: PxRing): [number, number] {
  const [x0, y0, x1, y1] = bboxOf(ring);
  return [(x0 + x1) / 2, (y0 + y1) / 2];
}

/** A ring pushed outwards from its centre by d pixels (good enough for convex-ish shapes). */
export function grow(ring: PxRing, d: number): PxRing {
  const [cx, cy] = centreOf(ring);
  return ring.map(([x, y]) => {
    const dx = x - cx;
    const dy = y - cy;
    const l = Math.hypot(dx, dy) || 1;
    return [x + (dx / l) * d, y + (dy / l) * d];
  });
}

function burnStreet(
  target: Float32Array,
  W: number,
  H: number,
  ring: PxRing,
  a: [number, number],
  b: [number, number],
) {
  // A street only inside its town: burn, then let the caller's town polygon bound it.
  const tmp: [number, number][] = densify([a, b], 1);
  const inside = tmp.filter(([x, y]) => pointInRing(x, y, ring));
  if (inside.length > 1) burnLine(target, W, H, inside, 0.8);
}

function pointInRing(x: number, y: number, ring: PxRing): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Crop calendars for 2024 and 2025: rotation, sowing spread, harvest and autumn ploughing. */
function cropYears(rng: Rng, summerCrop2025: boolean): Record<number, ParcelYear> {
  const year = (crop: Crop): ParcelYear => {
    const shift = rng.int(-8, 8);
    const cereal = crop === 'wheat' || crop === 'rapeseed';
    const harvest = cereal
      ? (crop === 'wheat' ? 218 : 232) + shift + rng.int(-4, 6)
      : Number.POSITIVE_INFINITY;
    // About half of the harvested fields are ploughed within two weeks.
    const plough = cereal && rng.next() < 0.55 ? harvest + rng.int(3, 14) : Number.POSITIVE_INFINITY;
    return { crop, shift, harvest, plough, vigour: rng.range(0.75, 1.1) };
  };
  const c2024 = rng.pick(CROPS);
  // Rotation: a cereal is usually followed by a broadleaf crop and vice versa.
  const rotate = rng.next() < 0.65;
  const c2025: Crop = summerCrop2025
    ? rng.pick(['soybean', 'maize'] as const)
    : rotate
      ? c2024 === 'wheat' || c2024 === 'rapeseed'
        ? rng.pick(['soybean', 'maize'] as const)
        : rng.pick(['wheat', 'rapeseed'] as const)
      : c2024;
  return { 2024: year(c2024), 2025: year(c2025) };
}

/** The land-cover class of a pixel index on a date, parcels resolved (for tests and masks). */
export function parcelClassOn(l: Landscape, i: number, date: Date): number {
  const p = l.parcel[i]!;
  if (!p) return l.cls[i]!;
  const py = l.parcels[p - 1]!.years[date.getUTCFullYear()];
  if (!py) return CLASS.bareBlack;
  const doy = dayOfYear(date);
  if (doy >= py.plough) return CLASS.bareBlack;
  if (doy >= py.harvest) return CLASS.stubble;
  return PARCEL_BASE + p - 1;
}
