import * as turf from '@turf/turf';
import type { Feature, MultiPolygon, Polygon } from 'geojson';
import { multiPolygonAreaM2, type PolygonCoords } from '../geo/area.ts';
import type { ZoneLayer, ZoningRule } from './manifest.ts';

/**
 * Zoning rules: a detected change is a clue only where the zoning makes it unlawful. Pure
 * geometry (Turf, lon/lat); the detected polygon is clipped to the unlawful part, and the
 * zoning features it concerns are reported with it.
 */

/** One zoning feature near a tile (from PostGIS `zones`, or a zoning GeoJSON). */
export interface ZoneRecord {
  id: string;
  kind: ZoneLayer;
  properties: Record<string, unknown>;
  /** MultiPolygon coordinates, lon/lat. */
  coordinates: PolygonCoords[];
}

/** The zoning features a tile's detectors need. */
export interface TileZones {
  features: ZoneRecord[];
}

/** How a clue refers to a zoning feature it overlaps (zone id and, where known, permit number / name). */
export interface ZoneRef {
  id: string;
  kind: ZoneLayer;
  permit_no?: string;
  name?: string;
  deadline?: string;
}

export interface RuleSpec {
  rule: ZoningRule;
  layer: ZoneLayer | null;
  deadlineField?: string | undefined;
  /** Outside rules: changes farther than this from every feature of the layer are not clues. */
  maxDistanceM?: number | undefined;
}

/**
 * Whether a detector's zoning rule could keep a clue anywhere on a tile, given the zoning
 * features found on the tile and within `marginM` metres around it. An `inside` rule needs a
 * feature of its layer there; a rule with `maxDistanceM` (no farther than that from the layer)
 * one within that distance, which the margin covers when it is at least as wide. When this is
 * false, `applyZoningRule` drops every detection of the detector on the tile, so its model
 * need not run at all.
 */
export function ruleCanKeepClues(spec: RuleSpec, zones: readonly ZoneRecord[], marginM: number): boolean {
  if (spec.rule === 'none' || !spec.layer) return true;
  const present = zones.some((z) => z.kind === spec.layer && z.coordinates.length > 0);
  if (spec.rule === 'inside') return present;
  if (spec.maxDistanceM !== undefined && spec.maxDistanceM <= marginM) return present;
  return true;
}

export interface RuleOutcome {
  /** The unlawful part (null when nothing of it is unlawful). */
  coordinates: PolygonCoords[] | null;
  areaM2: number;
  /** Zoning features of the rule's layer the detection overlaps. */
  zones: ZoneRef[];
  /** Why it was dropped (null when kept). */
  reason: string | null;
}

type Geo = Feature<Polygon | MultiPolygon>;

const toFeature = (coords: PolygonCoords[]): Geo =>
  coords.length === 1 ? turf.polygon(coords[0]!) : turf.multiPolygon(coords);

function coordsOf(f: Geo | null): PolygonCoords[] {
  if (!f) return [];
  const g = f.geometry;
  return (g.type === 'Polygon' ? [g.coordinates] : g.coordinates) as PolygonCoords[];
}

function bboxOf(coords: PolygonCoords[]): [number, number, number, number] {
  let w = Infinity;
  let s = Infinity;
  let e = -Infinity;
  let n = -Infinity;
  for (const p of coords)
    for (const [x, y] of p[0]!) {
      if (x < w) w = x;
      if (x > e) e = x;
      if (y < s) s = y;
      if (y > n) n = y;
    }
  return [w, s, e, n];
}

const overlapsBox = (a: number[], b: number[]) =>
  a[0]! <= b[2]! && b[0]! <= a[2]! && a[1]! <= b[3]! && b[1]! <= a[3]!;

/** The deadline (ISO date) of a zoning feature, or null when it has none. */
export function deadlineOf(z: ZoneRecord, field: string): string | null {
  const v = z.properties[field];
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  return v.slice(0, 10);
}

function ref(z: ZoneRecord, deadlineField?: string): ZoneRef {
  const r: ZoneRef = { id: z.id, kind: z.kind };
  const permit = z.properties.permit_no;
  const name = z.properties.name;
  if (typeof permit === 'string') r.permit_no = permit;
  if (typeof name === 'string') r.name = name;
  if (deadlineField) {
    const d = deadlineOf(z, deadlineField);
    if (d) r.deadline = d;
  }
  return r;
}

/**
 * A detection cut at a zone's edge (by an `inside` rule's layer, or by lawful permits) keeps
 * what is left only if it is at least this share of the minimum mapping unit (the whole
 * detection having reached it) and, part by part, at least two pixels wide. Chosen on
 * calibration seeds 31–42 (docs/detectors-eval/clipped-parts.md).
 */
export const CLIPPED_MIN_AREA_FRACTION = 0.5;
/** Analysis pixel size (m) when the caller does not give one. */
const DEFAULT_PIXEL_M = 10;

/** Whether something of polygon `p` is left after an inward buffer of `radiusM`. */
function hasCore(p: PolygonCoords, radiusM: number): boolean {
  const core = turf.buffer(turf.polygon(p), -radiusM, { units: 'meters' }) as Geo | undefined;
  return !!core && coordsOf(core).length > 0;
}

/** Drop sliver parts left by clipping (less than `minPartM2`). */
function dropSlivers(coords: PolygonCoords[], minPartM2: number): PolygonCoords[] {
  return coords.filter((p) => multiPolygonAreaM2([p]) >= minPartM2);
}

/**
 * Apply a scenario's zoning rule to one detected polygon.
 * @param afterFrom first day of the after window (ISO date): a deadline before it has passed.
 * @param minAreaM2 the detector's minimum mapping unit. Where the rule cut the detection (at the
 *   layer's edge, or lawful permits out of it), what is left must be half of it and two pixels
 *   (`pixelM`, default 10 m) wide (CLIPPED_MIN_AREA_FRACTION).
 */
export function applyZoningRule(
  detection: PolygonCoords[],
  spec: RuleSpec,
  zones: readonly ZoneRecord[],
  options: { afterFrom: string; minAreaM2: number; pixelM?: number },
): RuleOutcome {
  const area = multiPolygonAreaM2(detection);
  if (spec.rule === 'none' || !spec.layer) {
    return { coordinates: detection, areaM2: area, zones: [], reason: null };
  }
  const box = bboxOf(detection);
  const det = toFeature(detection);
  const deadlineField = spec.rule === 'after-deadline' ? (spec.deadlineField ?? 'reclaim_by') : undefined;
  const touching = zones.filter(
    (z) =>
      z.kind === spec.layer &&
      z.coordinates.length > 0 &&
      overlapsBox(bboxOf(z.coordinates), box) &&
      turf.booleanIntersects(det, toFeature(z.coordinates)),
  );
  const refs = touching.map((z) => ref(z, deadlineField));
  if (spec.rule !== 'inside' && spec.maxDistanceM !== undefined && !touching.length) {
    const d = spec.maxDistanceM;
    const padDeg = d / 70_000 + 1e-6; // generous in longitude at these latitudes
    const near = zones.some(
      (z) =>
        z.kind === spec.layer &&
        z.coordinates.length > 0 &&
        overlapsBox(
          bboxOf(z.coordinates).map((v, k) => (k < 2 ? v - padDeg : v + padDeg)),
          box,
        ) &&
        turf.booleanIntersects(det, turf.buffer(toFeature(z.coordinates), d, { units: 'meters' }) as Geo),
    );
    if (!near)
      return {
        coordinates: null,
        areaM2: 0,
        zones: [],
        reason: `farther than ${d} m from every ${spec.layer}`,
      };
  }

  let kept: PolygonCoords[];
  let clipped = false;
  if (spec.rule === 'inside') {
    if (!touching.length)
      return { coordinates: null, areaM2: 0, zones: refs, reason: `outside ${spec.layer}` };
    const parts: PolygonCoords[] = [];
    for (const z of touching) {
      const inter = turf.intersect(turf.featureCollection([det, toFeature(z.coordinates)]));
      parts.push(...coordsOf(inter as Geo | null));
    }
    kept =
      parts.length > 1
        ? coordsOf(turf.union(turf.featureCollection(parts.map((p) => turf.polygon(p)))) as Geo | null)
        : parts;
    // Cut at the layer's edge (more than 0.1 % of the detection outside it).
    clipped = kept.length > 0 && multiPolygonAreaM2(kept) < area * 0.999;
  } else {
    // `outside`: every feature of the layer makes the change lawful; `after-deadline`: only
    // features whose deadline has not passed at the start of the after window (or have none).
    const lawful =
      spec.rule === 'outside'
        ? touching
        : touching.filter((z) => {
            const d = deadlineOf(z, deadlineField!);
            return d === null || d >= options.afterFrom;
          });
    if (!lawful.length) kept = detection;
    else {
      clipped = true;
      let rest: Geo | null = det;
      for (const z of lawful) {
        if (!rest) break;
        rest = turf.difference(turf.featureCollection([rest, toFeature(z.coordinates)])) as Geo | null;
      }
      kept = coordsOf(rest);
    }
  }
  kept = dropSlivers(kept, Math.min(100, options.minAreaM2));
  let floor = options.minAreaM2;
  if (clipped && area >= options.minAreaM2) {
    // What is left of a detection cut at a zone's edge (the part inside the layer, or what
    // lawful permits leave): the MMU already held for the disturbance, so the unlawful part need
    // only be half of it, but it must be at least two pixels wide somewhere. An edge
    // misregistered by a pixel leaves strips one or two pixels wide all along it: not clues.
    floor = options.minAreaM2 * CLIPPED_MIN_AREA_FRACTION;
    const core = options.pixelM ?? DEFAULT_PIXEL_M;
    kept = kept.filter((p) => hasCore(p, core));
  }
  const keptArea = kept.length ? multiPolygonAreaM2(kept) : 0;
  if (!kept.length || keptArea < floor) {
    const small = 'narrower than two pixels or under half the minimum mapping unit';
    const why =
      spec.rule === 'inside'
        ? clipped
          ? `part inside ${spec.layer} ${small}`
          : `part inside ${spec.layer} below the minimum mapping unit`
        : spec.rule === 'outside'
          ? `inside ${spec.layer}`
          : `inside a ${spec.layer} within its ${deadlineField}`;
    return {
      coordinates: null,
      areaM2: keptArea,
      zones: refs,
      reason: clipped && spec.rule !== 'inside' ? `${why}; what lies outside is ${small}` : why,
    };
  }
  return { coordinates: kept, areaM2: keptArea, zones: refs, reason: null };
}

/**
 * Priority 0–3 of a clue: the manifest's priority weight × confidence × an area factor that
 * grows from 0.5 at 1 000 m² to 1 at 100 000 m² (logarithmically), scaled to 0–3 and rounded.
 */
export function cluePriority(weight: number, confidence: number, areaM2: number): number {
  const areaFactor = 0.5 + 0.5 * Math.min(1, Math.max(0, Math.log10(Math.max(areaM2, 1) / 1000) / 2));
  const score = weight * Math.min(1, Math.max(0, confidence)) * areaFactor;
  return Math.max(0, Math.min(3, Math.round(score * 3)));
}

/**
 * One site, one clue: where clues of several scenarios cover the same ground (zoning layers
 * overlap — the grassland layer contains river management areas and the lake belt), the clue of
 * the most specific scenario is kept and the others are folded into it (`alsoScenarios`).
 * `order` lists scenario ids from most to least specific; ids not in it (e.g. `change`) neither
 * suppress nor are suppressed. Two clues overlap when their intersection covers at least
 * `minOverlap` of the smaller one. `absorbed` lists, per kept clue, the clues folded into it
 * (their union is the site's outline: `siteOutline`).
 */
export function resolveScenarioOverlaps<
  T extends { geometry: { coordinates: number[][][][] }; properties: { scenario: string; area_m2: number } },
>(
  features: T[],
  order: readonly string[],
  minOverlap = 0.5,
): { kept: T[]; folded: Map<T, string[]>; absorbed: Map<T, T[]> } {
  const rank = (f: T) => order.indexOf(f.properties.scenario);
  const ranked = features.filter((f) => rank(f) >= 0).sort((a, b) => rank(a) - rank(b));
  const absorbed = new Map<T, T[]>();
  const dropped = new Set<T>();
  const boxes = new Map(ranked.map((f) => [f, bboxOf(f.geometry.coordinates as PolygonCoords[])] as const));
  for (let i = 0; i < ranked.length; i++) {
    const a = ranked[i]!;
    if (dropped.has(a)) continue;
    for (let j = i + 1; j < ranked.length; j++) {
      const b = ranked[j]!;
      if (dropped.has(b) || rank(b) === rank(a)) continue;
      if (!overlapsBox(boxes.get(a)!, boxes.get(b)!)) continue;
      const inter = turf.intersect(
        turf.featureCollection([
          toFeature(a.geometry.coordinates as PolygonCoords[]),
          toFeature(b.geometry.coordinates as PolygonCoords[]),
        ]),
      ) as Geo | null;
      if (!inter) continue;
      const area = multiPolygonAreaM2(coordsOf(inter));
      if (area >= minOverlap * Math.min(a.properties.area_m2, b.properties.area_m2)) {
        dropped.add(b);
        absorbed.set(a, [...(absorbed.get(a) ?? []), b]);
      }
    }
  }
  const folded = new Map([...absorbed].map(([a, bs]) => [a, bs.map((b) => b.properties.scenario)] as const));
  return { kept: features.filter((f) => !dropped.has(f)), folded, absorbed };
}

/**
 * A site's outline: the union of the kept clue and the clues folded into it (lon/lat
 * multipolygon). `null` when nothing was folded or the union is empty.
 */
export function siteOutline(
  kept: { geometry: { coordinates: number[][][][] } },
  absorbed: readonly { geometry: { coordinates: number[][][][] } }[] | undefined,
): PolygonCoords[] | null {
  if (!absorbed?.length) return null;
  const u = turf.union(
    turf.featureCollection(
      [kept, ...absorbed].map((f) => toFeature(f.geometry.coordinates as PolygonCoords[])),
    ),
  ) as Geo | null;
  const coords = coordsOf(u);
  return coords.length ? coords : null;
}
