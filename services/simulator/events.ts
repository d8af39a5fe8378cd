import * as turf from '@turf/turf';
import type { MultiPolygon, Polygon } from 'geojson';
import { multiPolygonAreaM2, type PolygonCoords } from '../domain/geo/area.ts';
import { blobRing, centroid, rectRing, ringArea } from './geometry.ts';
import { grow, type Landscape } from './landscape.ts';
import { type Rng, rngFor } from './noise.ts';
import { type PxRing, scanPolygon } from './raster.ts';
import { CLASS, dayOfYear } from './spectra.ts';
import {
  type BaseZones,
  burnZone,
  grasslandBits,
  pxPolygon,
  tidy,
  ZONE,
  type ZoneFeature,
} from './zoning.ts';

/**
 * Planted, labelled damage for the eight scenarios, and the decoys a correct system must not
 * report, consistent with the zoning layers. Every event changes the land between the before
 * window and the after window (algal blooms only during the after window). Pure.
 */

export const SCENARIOS = [
  'temporary-land',
  'forest-encroachment',
  'black-soil',
  'river',
  'grassland',
  'hulun-lake',
  'wetland',
  'mine',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const WINDOWS = {
  before: { from: '2024-06-01', to: '2024-06-30' },
  after: { from: '2025-06-01', to: '2025-08-31' },
} as const;

/** Minimum mapping unit the sizes are planned around. */
export const MMU_M2 = 1000;

export interface PlantedEvent {
  id: string;
  scenario: Scenario;
  expected: 'clue' | 'decoy';
  kind: string;
  reason: string;
  /** First day the change is on the ground (ISO date). */
  date: string;
  /** Last day it is there (transient events such as algal blooms). */
  until?: string;
  /** Land-cover changes, painted in order on every scene acquired from `date` (to `until`). */
  paint: { ring: PxRing; cls: number }[];
  geometry: Polygon | MultiPolygon;
  areaM2: number;
  /** Zoning features it concerns (permit numbers or zone names). */
  zone?: string;
  /** Scene the decoy belongs to (cloud shadows). */
  scene?: string;
  /**
   * The other scenarios this change falls under (see `alsoConcerns`): a wetland filled inside a
   * river management area breaks the river rules too; a pit expanded inside its mining permit but
   * in the lake protection belt is lawful for `mine` and unlawful for `hulun-lake`. Never for
   * natural changes (seasons, harvest, cloud shadows).
   */
  alsoScenarios?: Scenario[];
}

/**
 * Decoys lawful only under their own scenario's permit (a pit expanded inside its mining permit,
 * works inside a valid temporary-land permit): where they lie inside another scenario's layer
 * with its signal (a permitted pit inside the Hulun Lake protection belt) that law still applies,
 * so they get `alsoScenarios` too. Natural changes (seasons, harvest, cloud shadows) never do.
 */
const LAWFUL_UNDER_OWN_PERMIT = new Set(['expansion-inside-permit', 'within-valid-permit']);

/** Paint classes that are excavation, dumping or building (the river and black-soil signals). */
const WORKS = new Set<number>([
  CLASS.construction,
  CLASS.roof,
  CLASS.fill,
  CLASS.sandBar,
  CLASS.pitWater,
  CLASS.minePit,
  CLASS.mineSpoil,
  CLASS.subsoil,
  CLASS.gravel,
  CLASS.asphalt,
]);
const WET = new Set<number>([CLASS.marsh, CLASS.wetMeadow, CLASS.river, CLASS.lake, CLASS.mudflat]);
const GRASS = new Set<number>([CLASS.steppe, CLASS.steppeSparse, CLASS.wetMeadow]);
const FOREST = new Set<number>([CLASS.conifer, CLASS.broadleaf]);

/**
 * Which other scenarios an unlawful change falls under, from where it lies and what it did
 * (domain.md's "signal" and "zoning layer" columns): at least half of its footprint inside the
 * scenario's zoning layer, and
 * - river: excavation, dumping or building (sand pits, fill, construction);
 * - wetland: at least half of the ground was water or wet vegetation before;
 * - grassland: at least half was grassland (steppe or wet meadow) before;
 * - forest-encroachment: at least half was forest before;
 * - black-soil: at least half was cropland before, and the change is excavation or building;
 * - hulun-lake: any land change in the protection belt (not a bloom on the water).
 * Permit-based scenarios (temporary land, mines) are never implied: their rules need the permit.
 * Pure: reads the rasters, draws no random numbers, so scenes are unchanged by it.
 */
export function alsoConcerns(
  primary: Scenario,
  footprint: { zone: Uint8Array; before: Uint16Array; cropland: Uint8Array },
  paint: readonly number[],
): Scenario[] {
  const n = footprint.zone.length;
  if (!n) return [];
  const share = (pred: (k: number) => boolean) => {
    let c = 0;
    for (let k = 0; k < n; k++) if (pred(k)) c++;
    return c / n;
  };
  const inZone = (bit: number) => share((k) => (footprint.zone[k]! & bit) !== 0) >= 0.5;
  const was = (set: Set<number>) => share((k) => set.has(footprint.before[k]!)) >= 0.5;
  const works = paint.some((c) => WORKS.has(c));
  const landChange = !paint.every((c) => c === CLASS.bloom);
  const out: Scenario[] = [];
  const add = (s: Scenario, ok: boolean) => {
    if (ok && s !== primary) out.push(s);
  };
  add('forest-encroachment', inZone(ZONE.forest) && was(FOREST) && landChange);
  add('black-soil', inZone(ZONE.blackSoil) && share((k) => footprint.cropland[k] === 1) >= 0.5 && works);
  add('river', inZone(ZONE.river) && works);
  add('grassland', inZone(ZONE.grassland) && was(GRASS) && landChange);
  add('hulun-lake', inZone(ZONE.lake) && landChange);
  add('wetland', inZone(ZONE.wetland) && was(WET) && landChange);
  return out;
}

export interface EventPlan {
  events: PlantedEvent[];
  tempPermits: ZoneFeature[];
}

type Shape = { paint: { ring: PxRing; cls: number }[]; footprint: PxRing[] };

interface Spec {
  scenario: Scenario;
  expected: 'clue' | 'decoy';
  kind: string;
  reason: string;
  /** Area range of the footprint, m². */
  area: [number, number];
  centre: (i: number) => boolean;
  ok: (i: number) => boolean;
  minOk?: number;
  shape: (cx: number, cy: number, areaPx: number, rng: Rng) => Shape;
  date?: string;
  until?: string;
}

const iso = (d: Date) => d.toISOString().slice(0, 10);

/** Area of a lon/lat polygon or multipolygon in m² (ellipsoidal). */
export function areaOf(g: Polygon | MultiPolygon): number {
  const polys = (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as unknown as PolygonCoords[];
  return multiPolygonAreaM2(polys);
}

/** Plans every event and decoy of a landscape. Burns temporary-land permits into `zones`. */
export function planEvents(l: Landscape, zones: BaseZones, seed: number): EventPlan {
  const rng = rngFor(seed, 'events');
  const { width: W, height: H } = l;
  const region = l.region;
  const taken = new Uint8Array(W * H);
  const events: PlantedEvent[] = [];
  const tempPermits: ZoneFeature[] = [];
  const demo = region.sizeKm >= 20;
  const bits = zones.bits;
  const cls = l.cls;
  const lastAfter = new Date(`${WINDOWS.after.to}T00:00:00Z`);
  let seq = 0;
  const between = () => {
    const t0 = Date.UTC(2024, 6, 10);
    const t1 = Date.UTC(2025, 4, 31);
    return iso(new Date(t0 + Math.floor(rng.next() * ((t1 - t0) / 86_400_000)) * 86_400_000));
  };

  const candidateCache = new Map<(i: number) => boolean, Int32Array>();
  const candidates = (pred: (i: number) => boolean): Int32Array => {
    let c = candidateCache.get(pred);
    if (!c) {
      const list: number[] = [];
      for (let y = 8; y < H - 8; y += 2)
        for (let x = 8; x < W - 8; x += 2) if (pred(y * W + x)) list.push(y * W + x);
      c = Int32Array.from(list);
      candidateCache.set(pred, c);
    }
    return c;
  };
  const check = (rings: PxRing[], ok: (i: number) => boolean, minOk: number): boolean => {
    let n = 0;
    let good = 0;
    let clash = false;
    for (const r of rings) {
      for (const [x, y] of r) if (x < 2 || y < 2 || x > W - 2 || y > H - 2) return false;
      scanPolygon([r], W, H, (row, x0, x1) => {
        for (let x = x0; x < x1; x++) {
          const i = row * W + x;
          n++;
          if (taken[i]) clash = true;
          if (ok(i)) good++;
        }
      });
    }
    return !clash && n > 0 && good / n >= minOk;
  };
  const toGeometry = (rings: PxRing[]): Polygon | MultiPolygon => {
    const polys = rings.map((r) => turf.feature(pxPolygon(region, r)));
    if (polys.length === 1) return polys[0]!.geometry;
    const u = turf.union(turf.featureCollection(polys));
    return tidy(u!.geometry);
  };
  // Zone bits and land cover under a truth footprint, before the change (for `alsoConcerns`).
  const pending: { ev: PlantedEvent; rings: PxRing[]; outsidePermit: boolean; paint: number[] }[] = [];
  const under = (rings: PxRing[], outsidePermit: boolean) => {
    const idx: number[] = [];
    for (const r of rings)
      scanPolygon([r], W, H, (row, x0, x1) => {
        for (let x = x0; x < x1; x++) idx.push(row * W + x);
      });
    const permit = ZONE.tempPermit | ZONE.minePermit;
    const unique = [...new Set(idx)].filter((i) => !outsidePermit || !(bits[i]! & permit));
    return {
      zone: Uint8Array.from(unique, (i) => bits[i]!),
      before: Uint16Array.from(unique, (i) => cls[i]!),
      cropland: Uint8Array.from(unique, (i) => (l.parcel[i] ? 1 : 0)),
    };
  };
  const paintClasses = (shape: Shape) => shape.paint.map((p) => p.cls);
  const commit = (spec: Spec, shape: Shape, extra: Partial<PlantedEvent> = {}): PlantedEvent => {
    for (const r of shape.footprint) {
      scanPolygon([grow(r, 4)], W, H, (row, x0, x1) => taken.fill(1, row * W + x0, row * W + x1));
    }
    const geometry = extra.geometry ?? toGeometry(shape.footprint);
    const ev: PlantedEvent = {
      id: `EV-${String(++seq).padStart(3, '0')}`,
      scenario: spec.scenario,
      expected: spec.expected,
      kind: spec.kind,
      reason: spec.reason,
      date: spec.date ?? between(),
      ...(spec.until ? { until: spec.until } : {}),
      paint: shape.paint,
      geometry,
      areaM2: Math.round(areaOf(geometry)),
      ...extra,
    };
    if (extra.geometry) ev.areaM2 = Math.round(areaOf(extra.geometry));
    events.push(ev);
    // The truth is the part of the footprint outside the event's own permit when it has its own
    // geometry (spoil spilled past a temporary-land permit, a pit dug past a mining permit).
    if (spec.expected === 'clue' || LAWFUL_UNDER_OWN_PERMIT.has(spec.kind))
      pending.push({
        ev,
        rings: shape.footprint,
        outsidePermit: !!extra.geometry,
        paint: paintClasses(shape),
      });
    return ev;
  };
  const place = (spec: Spec, extra?: (shape: Shape) => Partial<PlantedEvent> | null): PlantedEvent | null => {
    const list = candidates(spec.centre);
    if (!list.length) return null;
    for (let attempt = 0; attempt < 400; attempt++) {
      const area = rng.range(spec.area[0], spec.area[1]);
      const i = list[Math.floor(rng.next() * list.length)]!;
      const shape = spec.shape(i % W, Math.floor(i / W), area / 100, rng);
      if (!check(shape.footprint, spec.ok, spec.minOk ?? 0.96)) continue;
      const more = extra ? extra(shape) : {};
      if (more === null) continue;
      return commit(spec, shape, more);
    }
    return null;
  };

  // Shapes ------------------------------------------------------------------------------------
  const rect =
    (c: number) =>
    (cx: number, cy: number, a: number, r: Rng): Shape => {
      const aspect = r.range(1, 2.2);
      const w = Math.sqrt(a * aspect);
      const ring = rectRing(cx, cy, w, a / w, r.range(0, Math.PI));
      return { paint: [{ ring, cls: c }], footprint: [ring] };
    };
  const blob =
    (c: number) =>
    (cx: number, cy: number, a: number, r: Rng): Shape => {
      const ring = blobRing(cx, cy, Math.sqrt(a / Math.PI), r, 0.25, 20);
      return { paint: [{ ring, cls: c }], footprint: [ring] };
    };
  const site = (cx: number, cy: number, a: number, r: Rng): Shape => {
    // Construction: a gravel/soil yard with one to three buildings on it.
    const aspect = r.range(1, 1.8);
    const w = Math.sqrt(a * aspect);
    const h = a / w;
    const ang = r.range(0, Math.PI / 2);
    const yard = rectRing(cx, cy, w, h, ang);
    const paint: { ring: PxRing; cls: number }[] = [{ ring: yard, cls: CLASS.construction }];
    const n = a > 25 ? r.int(1, 3) : 1;
    for (let k = 0; k < n; k++) {
      const bw = Math.max(1.2, w * r.range(0.25, 0.45));
      const bh = Math.max(1.2, h * r.range(0.2, 0.35));
      const ox = r.range(-0.25, 0.25) * w;
      const oy = r.range(-0.25, 0.25) * h;
      paint.push({
        ring: rectRing(
          cx + ox * Math.cos(ang) - oy * Math.sin(ang),
          cy + ox * Math.sin(ang) + oy * Math.cos(ang),
          bw,
          bh,
          ang,
        ),
        cls: CLASS.roof,
      });
    }
    return { paint, footprint: [yard] };
  };
  const waterPit = (cx: number, cy: number, a: number, r: Rng): Shape => {
    const outer = blobRing(cx, cy, Math.sqrt(a / Math.PI), r, 0.2, 20);
    const inner = blobRing(cx, cy, Math.sqrt(a / Math.PI) * 0.7, r, 0.15, 20);
    return {
      paint: [
        { ring: outer, cls: CLASS.fill },
        { ring: inner, cls: CLASS.pitWater },
      ],
      footprint: [outer],
    };
  };
  const sandPit = (cx: number, cy: number, a: number, r: Rng): Shape => {
    const outer = blobRing(cx, cy, Math.sqrt(a / Math.PI), r, 0.25, 20);
    const inner = blobRing(cx, cy, Math.sqrt(a / Math.PI) * 0.65, r, 0.2, 20);
    return {
      paint: [
        { ring: outer, cls: CLASS.sandBar },
        { ring: inner, cls: CLASS.pitWater },
      ],
      footprint: [outer],
    };
  };
  const newMine = (cx: number, cy: number, a: number, r: Rng): Shape => {
    const pit = blobRing(cx, cy, Math.sqrt((a * 0.7) / Math.PI), r, 0.15, 20);
    const ang = r.range(0, 2 * Math.PI);
    const rr = Math.sqrt((a * 0.7) / Math.PI);
    const spoil = blobRing(
      cx + Math.cos(ang) * rr * 1.45,
      cy + Math.sin(ang) * rr * 1.45,
      Math.sqrt((a * 0.3) / Math.PI),
      r,
      0.2,
      16,
    );
    return {
      paint: [
        { ring: spoil, cls: CLASS.mineSpoil },
        { ring: pit, cls: CLASS.minePit },
      ],
      footprint: [pit, spoil],
    };
  };
  const cut = (cx: number, cy: number, a: number, r: Rng): Shape => {
    // A road or firebreak cut: 12–16 m wide.
    const w = r.range(1.2, 1.6);
    const ring = rectRing(cx, cy, a / w, w, r.range(0, Math.PI));
    return { paint: [{ ring, cls: CLASS.fill }], footprint: [ring] };
  };

  // Predicates ----------------------------------------------------------------------------------
  const has = (i: number, b: number) => (bits[i]! & b) !== 0;
  const steppe = (i: number) => cls[i] === CLASS.steppe || cls[i] === CLASS.steppeSparse;
  const special =
    ZONE.forest | ZONE.blackSoil | ZONE.river | ZONE.lake | ZONE.wetland | ZONE.tempPermit | ZONE.minePermit;
  const plainSteppe = (i: number) => steppe(i) && !(bits[i]! & special) && !zones.unzoned[i];
  const forest = (i: number) =>
    (cls[i] === CLASS.conifer || cls[i] === CLASS.broadleaf) && has(i, ZONE.forest);
  const parcelOk = (i: number) => {
    const p = l.parcel[i]!;
    if (!p || !has(i, ZONE.blackSoil)) return false;
    // Parcels harvested inside the after window are the tillage decoys; keep damage elsewhere.
    return l.parcels[p - 1]!.years[2025]!.harvest > dayOfYear(lastAfter);
  };
  const wetland = (i: number) =>
    (cls[i] === CLASS.marsh || cls[i] === CLASS.wetMeadow) && has(i, ZONE.wetland);
  const floodplain = (i: number) =>
    has(i, ZONE.river) &&
    (cls[i] === CLASS.wetMeadow || cls[i] === CLASS.marsh || cls[i] === CLASS.sandBar || steppe(i));
  const floodplainOutsideReserve = (i: number) => floodplain(i) && !has(i, ZONE.wetland | ZONE.lake);
  const channel = (i: number) => cls[i] === CLASS.river && has(i, ZONE.river);
  const nearChannel = (i: number) => has(i, ZONE.river) && cls[i] !== CLASS.lake && !zones.unzoned[i];
  const lakeWaterDeep = (i: number) => cls[i] === CLASS.lake && l.lakeDepth[i]! > 14;
  const lakeShore = (i: number) => cls[i] === CLASS.lake && l.lakeDepth[i]! > 1 && l.lakeDepth[i]! < 4;
  const shoreLand = (i: number) =>
    cls[i] !== CLASS.lake && cls[i] !== CLASS.river && has(i, ZONE.lake) && !zones.unzoned[i];
  const shoreLandOnly = (i: number) => shoreLand(i) && !has(i, ZONE.wetland | ZONE.river);
  const any = () => true;

  // 1. Temporary land: permits are drawn with the sites -----------------------------------------------
  const tempSite = (
    kind: string,
    expected: 'clue' | 'decoy',
    permit: { valid_from: string; valid_to: string; reclaim_by: string },
    spill: boolean,
    area: [number, number],
    reason: string,
  ) => {
    const n = tempPermits.length + 1;
    const spec: Spec = {
      scenario: 'temporary-land',
      expected,
      kind,
      reason,
      area,
      centre: plainSteppe,
      ok: plainSteppe,
      minOk: 1,
      date: '2024-07-15',
      shape: (cx, cy, a, _r) => {
        const w = Math.sqrt(a * 1.5);
        const h = a / w;
        const yard = rectRing(cx, cy, w, h, 0);
        const paint: { ring: PxRing; cls: number }[] = [
          { ring: yard, cls: CLASS.subsoil },
          { ring: rectRing(cx - w * 0.2, cy, w * 0.35, h * 0.5, 0), cls: CLASS.gravel },
        ];
        const footprint = [yard];
        if (spill) {
          // Spoil dumped past the eastern edge of the permit.
          const sw = Math.max(4, Math.sqrt(a) * 0.6);
          const ring = rectRing(cx + w / 2 + sw / 2 - 0.3, cy + h * 0.1, sw, h * 0.8, 0);
          paint.push({ ring, cls: CLASS.fill });
          footprint.push(ring);
        }
        return { paint, footprint };
      },
    };
    const ev = place(spec, (shape) => {
      const permitRing = grow(shape.footprint[0]!, 0.8);
      if (!spill) return { zone: `LS-2024-${String(n).padStart(3, '0')}` };
      const inside = turf.feature(pxPolygon(region, permitRing));
      const all = turf.feature(pxPolygon(region, shape.footprint[1]!));
      const out = turf.difference(turf.featureCollection([all, inside]));
      if (!out) return null;
      return { zone: `LS-2024-${String(n).padStart(3, '0')}`, geometry: tidy(out.geometry) };
    });
    if (!ev) return;
    const permitNo = ev.zone!;
    const g = pxPolygon(region, grow(ev.paint[0]!.ring, 0.8));
    tempPermits.push({
      type: 'Feature',
      properties: {
        permit_no: permitNo,
        reclaim_by: permit.reclaim_by,
        holder: rng.pick([
          '呼伦贝尔路桥建设有限公司（模拟）',
          '满洲里市政工程公司（模拟）',
          '扎赉诺尔区输变电工程项目部（模拟）',
        ]),
        valid_from: permit.valid_from,
        valid_to: permit.valid_to,
        purpose: rng.pick(['施工便道及材料堆场', '取土场', '项目临时营地']),
      },
      geometry: g,
    });
    burnZone(region, bits, g, ZONE.tempPermit);
  };
  const expired = { valid_from: '2024-07-01', valid_to: '2025-03-31', reclaim_by: '2025-05-31' };
  const valid = { valid_from: '2024-07-01', valid_to: '2026-06-30', reclaim_by: '2026-10-31' };
  tempSite(
    'unreclaimed-after-deadline',
    'clue',
    expired,
    false,
    [3000, 12000],
    'still bare and disturbed in June–August 2025, after the permit reclamation deadline 2025-05-31',
  );
  tempSite(
    'disturbance-outside-permit',
    'clue',
    valid,
    true,
    [3000, 8000],
    'spoil dumped outside the temporary-land permit boundary (the part outside the permit)',
  );
  tempSite(
    'within-valid-permit',
    'decoy',
    valid,
    false,
    [3000, 10000],
    'lawful: temporary use inside its permit, which runs to 2026-06-30 (reclaim by 2026-10-31)',
  );
  if (demo) {
    tempSite(
      'unreclaimed-after-deadline',
      'clue',
      expired,
      false,
      [12000, 30000],
      'still bare after the reclamation deadline 2025-05-31',
    );
    tempSite(
      'within-valid-permit',
      'decoy',
      valid,
      false,
      [5000, 15000],
      'lawful: inside a permit valid to 2026-06-30',
    );
  }
  grasslandBits(l, zones);
  const grass = (i: number) => steppe(i) && has(i, ZONE.grassland) && !(bits[i]! & special);

  // 2. Forest ---------------------------------------------------------------------------------------
  const forestSpecs: Spec[] = [
    {
      scenario: 'forest-encroachment',
      expected: 'clue',
      kind: 'clear-cut',
      reason: 'forest cleared to bare soil inside forest land (NDVI/NBR drop)',
      area: [8000, 22000],
      centre: forest,
      ok: forest,
      shape: blob(CLASS.clearcut),
    },
    {
      scenario: 'forest-encroachment',
      expected: 'clue',
      kind: 'construction-in-forest',
      reason: 'buildings and a yard built inside forest land',
      area: [1200, 3000],
      centre: forest,
      ok: forest,
      shape: site,
    },
    {
      scenario: 'forest-encroachment',
      expected: 'clue',
      kind: 'clear-cut-below-mmu',
      reason: 'small clearing, below the 1,000 m² minimum mapping unit',
      area: [450, 800],
      centre: forest,
      ok: forest,
      shape: blob(CLASS.clearcut),
    },
  ];
  if (demo) {
    forestSpecs.push(
      {
        scenario: 'forest-encroachment',
        expected: 'clue',
        kind: 'road-cut',
        reason: 'a road cut through forest land',
        area: [1500, 3000],
        centre: forest,
        ok: forest,
        minOk: 0.9,
        shape: cut,
      },
      {
        scenario: 'forest-encroachment',
        expected: 'clue',
        kind: 'clear-cut',
        reason: 'forest cleared inside forest land',
        area: [20000, 45000],
        centre: forest,
        ok: forest,
        minOk: 0.92,
        shape: blob(CLASS.clearcut),
      },
    );
  }

  // 3. Black soil -----------------------------------------------------------------------------------
  const soilSpecs: Spec[] = [
    {
      scenario: 'black-soil',
      expected: 'clue',
      kind: 'topsoil-stripping',
      reason:
        'black topsoil stripped from cropland in a black-soil protection zone, outside the tillage cycle',
      area: [3000, 12000],
      centre: parcelOk,
      ok: parcelOk,
      shape: rect(CLASS.subsoil),
    },
    {
      scenario: 'black-soil',
      expected: 'clue',
      kind: 'water-filled-pit',
      reason: 'excavation pit, water-filled, on protected black-soil cropland',
      area: [1500, 5000],
      centre: parcelOk,
      ok: parcelOk,
      shape: waterPit,
    },
    {
      scenario: 'black-soil',
      expected: 'clue',
      kind: 'construction-on-cropland',
      reason: 'buildings and a hard yard on protected black-soil cropland',
      area: [1200, 4000],
      centre: parcelOk,
      ok: parcelOk,
      shape: site,
    },
  ];
  if (demo) {
    soilSpecs.push(
      {
        scenario: 'black-soil',
        expected: 'clue',
        kind: 'pit-below-mmu',
        reason: 'small pit below the minimum mapping unit',
        area: [400, 800],
        centre: parcelOk,
        ok: parcelOk,
        shape: waterPit,
      },
      {
        scenario: 'black-soil',
        expected: 'clue',
        kind: 'topsoil-stripping',
        reason: 'black topsoil stripped outside the tillage cycle',
        area: [15000, 30000],
        centre: parcelOk,
        ok: parcelOk,
        minOk: 0.9,
        shape: rect(CLASS.subsoil),
      },
    );
  }

  // 4. River ----------------------------------------------------------------------------------------
  const riverCentre = demo ? floodplainOutsideReserve : floodplain;
  const riverSpecs: Spec[] = [
    {
      scenario: 'river',
      expected: 'clue',
      kind: 'sand-mining-pit',
      reason: 'sand-mining pit with fresh sand piles inside the river management area',
      area: [2000, 8000],
      centre: riverCentre,
      ok: floodplain,
      minOk: 0.9,
      shape: sandPit,
    },
    {
      scenario: 'river',
      expected: 'clue',
      kind: 'channel-filling',
      reason: 'dumping/filling into the channel: water and bank turned to fill (MNDWI drop)',
      area: [1200, 4000],
      centre: channel,
      ok: nearChannel,
      minOk: 0.95,
      shape: blob(CLASS.fill),
    },
    {
      scenario: 'river',
      expected: 'clue',
      kind: 'construction-in-river-area',
      reason: 'buildings inside the river management area',
      area: [1000, 2500],
      centre: riverCentre,
      ok: floodplain,
      minOk: 0.9,
      shape: site,
    },
  ];
  if (demo) {
    riverSpecs.push({
      scenario: 'river',
      expected: 'clue',
      kind: 'sand-mining-pit',
      reason: 'large sand-mining pit in the floodplain',
      area: [10000, 20000],
      centre: riverCentre,
      ok: floodplain,
      minOk: 0.85,
      shape: sandPit,
    });
  }

  // 5. Grassland ------------------------------------------------------------------------------------
  const grassSpecs: Spec[] = [
    {
      scenario: 'grassland',
      expected: 'clue',
      kind: 'ploughed-grassland',
      reason: 'grassland ploughed: bare soil in the growing season',
      area: [8000, 35000],
      centre: grass,
      ok: grass,
      minOk: 0.97,
      shape: rect(CLASS.ploughedSteppe),
    },
    {
      scenario: 'grassland',
      expected: 'clue',
      kind: 'borrow-pit',
      reason: 'grassland dug up (borrow pit)',
      area: [1500, 5000],
      centre: grass,
      ok: grass,
      shape: blob(CLASS.fill),
    },
    {
      scenario: 'grassland',
      expected: 'clue',
      kind: 'livestock-shed',
      reason: 'sheds and a yard built on grassland',
      area: [1000, 2500],
      centre: grass,
      ok: grass,
      shape: site,
    },
  ];
  if (demo) {
    grassSpecs.push(
      {
        scenario: 'grassland',
        expected: 'clue',
        kind: 'borrow-pit-below-mmu',
        reason: 'small digging below the minimum mapping unit',
        area: [400, 800],
        centre: grass,
        ok: grass,
        shape: blob(CLASS.fill),
      },
      {
        scenario: 'grassland',
        expected: 'clue',
        kind: 'ploughed-grassland',
        reason: 'grassland ploughed: bare soil in the growing season',
        area: [40000, 90000],
        centre: grass,
        ok: grass,
        minOk: 0.95,
        shape: rect(CLASS.ploughedSteppe),
      },
    );
  }

  // 6. Hulun lake -----------------------------------------------------------------------------------
  const lakeSpecs: Spec[] = [
    {
      scenario: 'hulun-lake',
      expected: 'clue',
      kind: 'shoreline-construction',
      reason: 'construction inside the Hulun Lake protection belt',
      area: [2000, 6000],
      centre: shoreLandOnly,
      ok: shoreLand,
      shape: site,
    },
    {
      scenario: 'hulun-lake',
      expected: 'clue',
      kind: 'lake-filling',
      reason: 'lake filled along the shore: lake-area loss',
      area: [3000, 12000],
      centre: lakeShore,
      ok: (i) => has(i, ZONE.lake) && !zones.unzoned[i],
      shape: blob(CLASS.fill),
    },
    {
      scenario: 'hulun-lake',
      expected: 'clue',
      kind: 'algal-bloom',
      reason: 'algal bloom on the lake (high NDVI/FAI on water), July–August 2025',
      area: [15000, 50000],
      centre: lakeWaterDeep,
      ok: (i) => cls[i] === CLASS.lake,
      minOk: 1,
      shape: blob(CLASS.bloom),
      date: '2025-07-15',
      until: '2025-08-31',
    },
  ];
  if (demo) {
    lakeSpecs.push({
      scenario: 'hulun-lake',
      expected: 'clue',
      kind: 'shoreline-construction',
      reason: 'resort construction in the lake protection belt',
      area: [6000, 15000],
      centre: shoreLandOnly,
      ok: shoreLand,
      shape: site,
    });
  }

  // 7. Wetland --------------------------------------------------------------------------------------
  const wetSpecs: Spec[] = [
    {
      scenario: 'wetland',
      expected: 'clue',
      kind: 'drainage',
      reason: 'wetland drained to dry bare land inside the wetland reserve',
      area: [5000, 15000],
      centre: wetland,
      ok: (i) => has(i, ZONE.wetland) && cls[i] !== CLASS.river && cls[i] !== CLASS.lake,
      minOk: 0.95,
      shape: blob(CLASS.drained),
    },
    {
      scenario: 'wetland',
      expected: 'clue',
      kind: 'wetland-filling',
      reason: 'wetland filled and built on inside the reserve',
      area: [1500, 5000],
      centre: wetland,
      ok: (i) => has(i, ZONE.wetland) && cls[i] !== CLASS.river && cls[i] !== CLASS.lake,
      minOk: 0.95,
      shape: site,
    },
    {
      scenario: 'wetland',
      expected: 'clue',
      kind: 'conversion-to-cropland',
      reason: 'wetland ploughed into cropland inside the reserve',
      area: [5000, 15000],
      centre: wetland,
      ok: (i) => has(i, ZONE.wetland) && cls[i] !== CLASS.river && cls[i] !== CLASS.lake,
      minOk: 0.95,
      shape: rect(CLASS.bareBlack),
    },
  ];

  // 8. Mines (new pits; boundary cases below) ---------------------------------------------------------
  const mineSpecs: Spec[] = [
    {
      scenario: 'mine',
      expected: 'clue',
      kind: 'pit-without-permit',
      reason: 'new open pit and spoil heap with no mining permit',
      area: [3000, 12000],
      centre: grass,
      ok: grass,
      shape: newMine,
    },
  ];
  if (demo) {
    mineSpecs.push(
      {
        scenario: 'mine',
        expected: 'clue',
        kind: 'pit-without-permit-below-mmu',
        reason: 'small unpermitted digging below the minimum mapping unit',
        area: [400, 800],
        centre: grass,
        ok: grass,
        shape: blob(CLASS.minePit),
      },
      {
        scenario: 'mine',
        expected: 'clue',
        kind: 'pit-without-permit',
        reason: 'new open pit with no mining permit',
        area: [15000, 30000],
        centre: grass,
        ok: grass,
        shape: newMine,
      },
    );
  }

  for (const s of [
    ...forestSpecs,
    ...soilSpecs,
    ...riverSpecs,
    ...grassSpecs,
    ...lakeSpecs,
    ...wetSpecs,
    ...mineSpecs,
  ]) {
    if (!place(s) && s.centre === riverCentre) place({ ...s, centre: floodplain });
  }

  // Mine boundary cases: expansion across the permit boundary (clue) and inside it (decoy).
  for (const m of l.mines) {
    const [cx, cy] = centroid(m.pit);
    const r = Math.sqrt(ringArea(m.pit) / Math.PI);
    const permitG = turf.feature(pxPolygon(region, m.permit));
    const inPermit = (i: number) => has(i, ZONE.minePermit);
    const notWater = (i: number) => cls[i] !== CLASS.lake && cls[i] !== CLASS.river;
    let outside = false;
    let inside = false;
    for (let k = 0; k < 16 && !(outside && inside); k++) {
      const ang = (k / 16) * 2 * Math.PI + rng.range(0, 0.3);
      if (!outside) {
        const ring = blobRing(
          cx + Math.cos(ang) * r * 1.9,
          cy + Math.sin(ang) * r * 1.9,
          r * 0.75,
          rng,
          0.15,
          20,
        );
        const spec: Spec = {
          scenario: 'mine',
          expected: 'clue',
          kind: 'excavation-outside-permit',
          reason: `excavation beyond the boundary of mining permit ${m.permitNo} (越界开采; the part outside)`,
          area: [0, 0],
          centre: any,
          ok: notWater,
          shape: () => ({ paint: [{ ring, cls: CLASS.minePit }], footprint: [ring] }),
        };
        const shape = spec.shape(0, 0, 0, rng);
        let inN = 0;
        let n = 0;
        scanPolygon([ring], W, H, (row, x0, x1) => {
          for (let x = x0; x < x1; x++) {
            n++;
            if (inPermit(row * W + x)) inN++;
          }
        });
        if (
          n &&
          inN / n > 0.2 &&
          inN / n < 0.7 &&
          check([ring], (i) => notWater(i) && !zones.unzoned[i] && !has(i, ZONE.tempPermit), 0.95)
        ) {
          const out = turf.difference(
            turf.featureCollection([turf.feature(pxPolygon(region, ring)), permitG]),
          );
          if (out) {
            commit(spec, shape, { geometry: tidy(out.geometry), zone: m.permitNo });
            outside = true;
            continue;
          }
        }
      }
      if (!inside) {
        const ring = blobRing(
          cx + Math.cos(ang) * r * 1.25,
          cy + Math.sin(ang) * r * 1.25,
          r * 0.5,
          rng,
          0.15,
          20,
        );
        if (check([ring], (i) => inPermit(i) && notWater(i), 1)) {
          commit(
            {
              scenario: 'mine',
              expected: 'decoy',
              kind: 'expansion-inside-permit',
              reason: `lawful: pit expanded inside mining permit ${m.permitNo} (valid to ${m.validTo})`,
              area: [0, 0],
              centre: any,
              ok: any,
              shape: () => ({ paint: [], footprint: [] }),
            },
            { paint: [{ ring, cls: CLASS.minePit }], footprint: [ring] },
            { zone: m.permitNo },
          );
          inside = true;
        }
      }
    }
  }

  // Decoy: new building on construction land (a homestead plot), which no zoning layer covers.
  const unzonedFree = (i: number) => zones.unzoned[i] === 1 && bits[i] === 0 && steppe(i);
  place({
    scenario: 'grassland',
    expected: 'decoy',
    kind: 'outside-zoning',
    reason: 'lawful: a new barn on a homestead plot (construction land) outside every zoning layer',
    area: [1000, 2000],
    centre: unzonedFree,
    ok: unzonedFree,
    minOk: 1,
    shape: site,
  });

  // Decoys: normal harvest and autumn ploughing of black-soil cropland in the after window.
  for (const p of l.parcels) {
    const y = p.years[2025]!;
    if (y.harvest > dayOfYear(lastAfter)) continue;
    const geometry = pxPolygon(region, p.ring);
    events.push({
      id: `EV-${String(++seq).padStart(3, '0')}`,
      scenario: 'black-soil',
      expected: 'decoy',
      kind: y.plough <= dayOfYear(lastAfter) ? 'harvest-and-ploughing' : 'harvest',
      reason: `normal tillage cycle: ${y.crop} harvested${y.plough <= dayOfYear(lastAfter) ? ' and the field ploughed' : ''} in August 2025 on ordinary cropland`,
      date: iso(new Date(Date.UTC(2025, 0, y.harvest))),
      paint: [],
      geometry,
      areaM2: Math.round(areaOf(geometry)),
    });
  }
  // Once every layer is final (the grassland bit is derived after the temporary-land permits).
  for (const { ev, rings, outsidePermit, paint } of pending) {
    const also = alsoConcerns(ev.scenario, under(rings, outsidePermit), paint);
    if (also.length) ev.alsoScenarios = also;
  }
  return { events, tempPermits };
}

/**
 * Seasonal lake level: horizontal recession of the shore (pixels) by date. The lake is lowest in
 * late summer; 2025 is a drier year than 2024.
 */
export function recessionPx(date: Date): number {
  const doy = dayOfYear(date);
  const base = doy <= 150 ? 0 : doy >= 240 ? 8 : ((doy - 150) / 90) * 8;
  return base * (date.getUTCFullYear() === 2025 ? 1.25 : 1);
}

/** 1 where a lake pixel is exposed shore (mudflat) on `date`. */
export function exposedShore(l: Landscape, date: Date): Uint8Array {
  const r = recessionPx(date);
  const out = new Uint8Array(l.lakeDepth.length);
  if (r <= 0) return out;
  for (let i = 0; i < out.length; i++) {
    const d = l.lakeDepth[i]!;
    if (d > 0 && d < r * (0.15 + (2.2 * l.shallow[i]!) / 255)) out[i] = 1;
  }
  return out;
}
