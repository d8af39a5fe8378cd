import type pg from 'pg';
import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { fusedRunner, fusionGroup, isWindowDependent, type ModelRunner } from '../adapters/onnx/session.ts';
import { SkypatrolError } from '../core/errors.ts';
import { thresholdFor, type ZoneLayer } from '../domain/detectors/manifest.ts';
import { detectionValid, polygonize } from '../domain/detectors/polygonize.ts';
import {
  applyZoningRule,
  cluePriority,
  resolveScenarioOverlaps,
  ruleCanKeepClues,
  siteOutline,
  type TileZones,
  type ZoneRecord,
} from '../domain/detectors/rules.ts';
import { SCENARIO_PRECEDENCE } from '../domain/detectors/scenarios.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import { multiPolygonAreaM2, type PolygonCoords } from '../domain/geo/area.ts';
import { isGeographic, toLonLatFn } from '../domain/geo/crs.ts';
import { type Grid, pixelToMap } from '../domain/geo/grid.ts';
import { CANONICAL_BANDS, type CanonicalBand } from '../domain/imagery/bands.ts';
import { matchMeanStd } from '../domain/imagery/radiometry.ts';
import { type ClueFeature, roundArea, toClueFeature } from './detect-pair.ts';
import type { TileComposite } from './read-tile.ts';
import { runTiledFeeds, type TiledFeed } from './run-model.ts';

export type { TileZones, ZoneRecord } from '../domain/detectors/rules.ts';

/**
 * The multi-detector runtime of a patrol: one read and composite of each tile's inputs shared
 * by every requested detector, each detector's ONNX model run with overlap (runOnBands),
 * polygons (minimum mapping unit, holes kept, ellipsoidal areas, confidence from the
 * probabilities inside), then each scenario's zoning rule, which removes lawful changes.
 */

/** Union of the bands the detectors read (each tile is read and composited once for all of them). */
export function bandsFor(detectors: LoadedDetector[]): CanonicalBand[] {
  const want = new Set<string>();
  for (const d of detectors) for (const b of d.manifest.inputs.bands) want.add(b);
  return CANONICAL_BANDS.filter((b) => want.has(b));
}

/** Union of the bands every detector requires (a sensor without the optional ones still serves). */
export function requiredBandsFor(detectors: LoadedDetector[]): CanonicalBand[] {
  const want = new Set<string>();
  for (const d of detectors) for (const b of d.manifest.inputs.required) want.add(b);
  return CANONICAL_BANDS.filter((b) => want.has(b));
}

/** Zoning layers the rules of these detectors need. */
export function layersFor(detectors: LoadedDetector[]): ZoneLayer[] {
  const layers = new Set<ZoneLayer>();
  for (const d of detectors)
    if (d.manifest.zoning.rule !== 'none' && d.manifest.zoning.layer) layers.add(d.manifest.zoning.layer);
  return [...layers].sort();
}

/** Degrees around a tile within which `zonesForTile` fetches zoning features. */
const ZONE_MARGIN_DEG = 0.002;

/** The zone margin in metres at its narrowest on a tile (longitude degrees shrink northwards). */
export function zoneMarginM(tile: AnalysisTile): number {
  const lat = Math.max(Math.abs(tile.boundsLonLat[1]), Math.abs(tile.boundsLonLat[3]));
  return ZONE_MARGIN_DEG * 111_320 * Math.cos((Math.min(lat, 89) * Math.PI) / 180);
}

/** Zoning features the rules of these detectors need, intersecting the tile (from PostGIS `zones`). */
export async function zonesForTile(
  pool: pg.Pool,
  tile: AnalysisTile,
  detectors: LoadedDetector[],
): Promise<TileZones> {
  const layers = layersFor(detectors);
  if (!layers.length) return { features: [] };
  const [w, s, e, n] = tile.boundsLonLat;
  // A small margin so a polygon on the tile edge is clipped against whole zone edges.
  const m = ZONE_MARGIN_DEG;
  const { rows } = await pool.query<{
    id: string;
    kind: ZoneLayer;
    properties: Record<string, unknown>;
    geom: string;
  }>(
    `WITH box AS (SELECT ST_MakeEnvelope($2, $3, $4, $5, 4326) AS g)
     SELECT z.id::text AS id, z.kind, z.properties,
            ST_AsGeoJSON(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Intersection(z.geom, box.g)), 3)), 9) AS geom
       FROM zones z, box
      WHERE z.kind = ANY($1) AND ST_Intersects(z.geom, box.g)
      ORDER BY z.id`,
    [layers, w - m, s - m, e + m, n + m],
  );
  const features: ZoneRecord[] = [];
  for (const r of rows) {
    const g = JSON.parse(r.geom) as { type: string; coordinates: PolygonCoords[] };
    if (!g.coordinates?.length) continue;
    features.push({ id: r.id, kind: r.kind, properties: r.properties ?? {}, coordinates: g.coordinates });
  }
  return { features };
}

/**
 * Answers of `hasBand` per band array and validity mask: a tile asks for every band of every
 * detector on both dates, and a band seen nowhere (or only late in the tile) is scanned whole
 * each time (about 50 ms a tile in the patrol bench before this was kept).
 */
const bandSeen = new WeakMap<Float32Array, WeakMap<Uint8Array, boolean>>();

/** True when some valid pixel of the composite has a value for `band` (the window observed it). */
function hasBand(c: TileComposite, band: string): boolean {
  const v = c.bands[band];
  if (!v) return false;
  let byValid = bandSeen.get(v);
  const known = byValid?.get(c.valid);
  if (known !== undefined) return known;
  let seen = false;
  for (let i = 0; i < v.length; i++) {
    if (c.valid[i] && !Number.isNaN(v[i]!)) {
      seen = true;
      break;
    }
  }
  if (!byValid) {
    byValid = new WeakMap();
    bandSeen.set(v, byValid);
  }
  byValid.set(c.valid, seen);
  return seen;
}

/** Which model and channel order a detector runs with on this pair (declared fallback when an optional band is missing). */
export function modelFor(
  d: LoadedDetector,
  before: TileComposite,
  after: TileComposite,
): { runner: ModelRunner; bands: CanonicalBand[]; fallback: boolean } {
  const m = d.manifest;
  for (const b of m.inputs.required) {
    if (!hasBand(before, b) || !hasBand(after, b)) {
      throw new SkypatrolError('SCENE_MISSING_BAND', `detector ${m.id} needs band ${b} in both windows`);
    }
  }
  const complete = m.inputs.bands.every((b) => hasBand(before, b) && hasBand(after, b));
  if (!complete && d.fallbackRunner && m.inputs.fallbackModel) {
    return {
      runner: d.fallbackRunner,
      bands: m.inputs.fallbackModel.bands as CanonicalBand[],
      fallback: true,
    };
  }
  return { runner: d.runner, bands: m.inputs.bands as CanonicalBand[], fallback: !complete };
}

/** Probability raster of one detector on a tile pair (no thresholding). */
export async function probabilityFor(
  d: LoadedDetector,
  before: TileComposite,
  after: TileComposite,
  width: number,
  height: number,
): Promise<{ probability: Float32Array; fallback: boolean }> {
  return (await probabilitiesFor([d], before, after, width, height)).get(d.manifest.id)!;
}

/**
 * How much larger than its manifest's window a model without window dependence may be run in
 * (run-model.ts windowCentres): at most 1/8, so a session's memory grows by at most about a quarter.
 */
const WINDOW_STRETCH = 1.125;

/**
 * Probability rasters of several detectors on one tile pair. Detectors whose models can share
 * a session (same window size, same operator sets; see adapters/onnx/fuse.ts) run
 * as one fused ONNX graph, fed once per distinct input tensor, so the features they compute
 * alike (indices, differences, neighbourhood statistics) are computed once per window. With
 * `fuse: false` each runs on its own (same numbers; used to measure what fusion saves).
 */
export async function probabilitiesFor(
  detectors: LoadedDetector[],
  before: TileComposite,
  after: TileComposite,
  width: number,
  height: number,
  options: { fuse?: boolean } = {},
): Promise<Map<string, { probability: Float32Array; fallback: boolean }>> {
  const matched = new Map<string, Float32Array>();
  const matchedAfter = (b: CanonicalBand) => {
    let m = matched.get(b);
    if (!m) {
      m = matchMeanStd(before.bands[b]!, after.bands[b]!);
      matched.set(b, m);
    }
    return m;
  };
  const missing = (b: string) => !hasBand(before, b) || !hasBand(after, b);
  interface Plan {
    d: LoadedDetector;
    runner: ModelRunner;
    fallback: boolean;
    feeds: (TiledFeed & { key: string })[];
  }
  const plans: Plan[] = detectors.map((d) => {
    const m = d.manifest;
    const { runner, bands, fallback } = modelFor(d, before, after);
    const match = m.inputs.radiometricMatch === 'mean-std';
    const present = bands.filter((b) => !missing(b));
    const beforeBands = new Map<CanonicalBand, Float32Array>(present.map((b) => [b, before.bands[b]!]));
    const afterBands = new Map<CanonicalBand, Float32Array>(
      present.map((b) => [b, match ? matchedAfter(b) : after.bands[b]!]),
    );
    // Packed alike ⇔ same bands in the same order, the same ones missing, the same fill values.
    const signature = bands
      .map((b) => `${b}${present.includes(b) ? '' : '!'}=${m.inputs.fallback[b] ?? 0}`)
      .join(',');
    const feeds = m.inputs.tensors.map((t) => ({
      name: t.name,
      bands: t.date === 'before' ? beforeBands : afterBands,
      order: bands,
      fallback: m.inputs.fallback,
      key: `${t.date}|${t.date === 'after' && match ? 'mean-std' : 'none'}|${signature}`,
    }));
    return { d, runner, fallback, feeds };
  });

  const groups = new Map<string, Plan[]>();
  plans.forEach((p, i) => {
    const fusable = options.fuse !== false ? fusionGroup(p.runner) : null;
    // Same window size: one session. Overlap is the context a model needs on each side, so
    // the group's windows take the largest; a model with less sees more than it needs, and
    // its kept centres are the same. Not so for a model reading its whole window at every
    // pixel (a mean over the window, say): it shares windows only of exactly its own size and
    // overlap, so that its numbers do not depend on which other detectors run beside it.
    const { size, overlap } = p.d.manifest.tile;
    const key =
      fusable === null
        ? `alone:${i}`
        : isWindowDependent(p.runner)
          ? `${size}/${overlap}/exact/${fusable}`
          : `${size}/${fusable}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  });

  const out = new Map<string, { probability: Float32Array; fallback: boolean }>();
  for (const group of groups.values()) {
    const tile = {
      size: group[0]!.d.manifest.tile.size,
      overlap: Math.max(...group.map((p) => p.d.manifest.tile.overlap)),
    };
    // Models that see only a neighbourhood give the same numbers in any window: balanced,
    // slightly larger windows where that saves a row or column of them (run-model.ts).
    const options = { stretch: group.some((p) => isWindowDependent(p.runner)) ? 1 : WINDOW_STRETCH };
    if (group.length === 1) {
      const p = group[0]!;
      const output = p.d.manifest.output.name;
      const r = await runTiledFeeds(p.runner, tile, width, height, p.feeds, [output], options);
      out.set(p.d.manifest.id, { probability: r.get(output)!, fallback: p.fallback });
      continue;
    }
    const shared = new Map<string, TiledFeed>();
    const nameOf = (f: TiledFeed & { key: string }) => {
      let feed = shared.get(f.key);
      if (!feed) {
        feed = { ...f, name: `in${shared.size}` };
        shared.set(f.key, feed);
      }
      return feed.name;
    };
    const members = group.map((p) => ({
      runner: p.runner,
      prefix: p.d.manifest.id,
      inputs: Object.fromEntries(p.feeds.map((f) => [f.name, nameOf(f)])),
    }));
    const fused = await fusedRunner(members);
    const outputs = group.map((p, i) => fused.outputs[i]![p.d.manifest.output.name]!);
    const r = await runTiledFeeds(fused.runner, tile, width, height, [...shared.values()], outputs, options);
    group.forEach((p, i) => {
      out.set(p.d.manifest.id, { probability: r.get(outputs[i]!)!, fallback: p.fallback });
    });
  }
  return out;
}

/**
 * One detector's probability raster → clue features: threshold, polygons (MMU), zoning rule.
 * `threshold`/`minAreaM2` override the manifest (evaluation sweeps them). `fallback`: the
 * probabilities come from the pair without an optional band (probabilitiesFor's `fallback`);
 * when the detector's declared fallback model ran, its own threshold applies.
 */
export function cluesFromProbability(a: {
  detector: LoadedDetector;
  probability: Float32Array;
  valid: Uint8Array;
  tile: AnalysisTile;
  zones: TileZones;
  windows: { before: { from: string; to: string }; after: { from: string; to: string } };
  seen: { beforeDate: string; afterDate: string; beforeScene: string; afterScene: string };
  lonLat: (x: number, y: number) => [number, number];
  threshold?: number;
  minAreaM2?: number;
  fallback?: boolean;
}): { features: ClueFeature[]; dropped: number } {
  const m = a.detector.manifest;
  const minAreaM2 = a.minAreaM2 ?? m.minAreaM2;
  const polygons = polygonize({
    width: a.tile.grid.width,
    height: a.tile.grid.height,
    probability: a.probability,
    valid: a.valid,
    threshold: a.threshold ?? thresholdFor(m, !!a.fallback && !!a.detector.fallbackRunner),
    minAreaM2,
    toLonLat: a.lonLat,
  });
  const features: ClueFeature[] = [];
  let dropped = 0;
  for (const p of polygons) {
    const outcome = applyZoningRule(
      p.coordinates,
      {
        rule: m.zoning.rule,
        layer: m.zoning.layer,
        deadlineField: m.zoning.deadlineField,
        maxDistanceM: m.zoning.maxDistanceM,
      },
      a.zones.features,
      { afterFrom: a.windows.after.from, minAreaM2, pixelM: pixelSizeM(a.tile.grid) },
    );
    if (!outcome.coordinates) {
      dropped++;
      continue;
    }
    const f = toClueFeature({ ...p, coordinates: outcome.coordinates, areaM2: outcome.areaM2 }, m, a.seen);
    f.properties.priority = cluePriority(m.priorityWeight, p.confidence, outcome.areaM2);
    f.properties.zones = outcome.zones;
    features.push(f);
  }
  return { features, dropped };
}

/** Pixel size in metres of a projected analysis grid (undefined for a geographic one). */
export function pixelSizeM(grid: Grid): number | undefined {
  return isGeographic(grid.epsg) ? undefined : grid.resX;
}

// The detection margin lives with polygonize in the domain; re-exported for eval and tools.
export { detectionValid, MASK_MARGIN_PX } from '../domain/detectors/polygonize.ts';

const day = (n: number) => new Date(Math.max(n, 0) * 86_400_000).toISOString().slice(0, 10);

/**
 * Run every detector on one tile's composites, polygonize (MMU, ~1 px simplification, holes kept,
 * ellipsoidal areas, confidence from the probabilities inside), apply each scenario's zoning rule.
 * Pure of I/O apart from ONNX sessions. Features carry properties.scenario = detector id and a
 * `priority` (0–3 from the manifest's priority weight × confidence × area) and the zoning
 * overlaps (zone ids/permit numbers) in properties.zones.
 */
export async function detectTile(args: {
  tile: AnalysisTile;
  before: TileComposite;
  after: TileComposite;
  detectors: LoadedDetector[];
  zones: TileZones;
  windows: { before: { from: string; to: string }; after: { from: string; to: string } };
  /** Run the detectors as one fused ONNX session where they allow it (default true). */
  fuse?: boolean;
  /**
   * Skip detectors whose zoning rule can keep no clue on this tile (default true; the clues are
   * the same either way — false runs them all, for comparisons).
   */
  gate?: boolean;
}): Promise<{
  features: ClueFeature[];
  dropped: { scenario: string; rule: string; count: number }[];
  /** Detectors not run: their zoning rule could keep no clue on this tile (no zone of theirs there). */
  skipped: string[];
}> {
  const { tile, before, after, zones, windows } = args;
  // A detector whose rule would drop everything it finds here is not run (`ruleCanKeepClues`):
  // the clues are the same, without its inference.
  const marginM = zoneMarginM(tile);
  const detectors =
    args.gate === false
      ? args.detectors
      : args.detectors.filter((d) => ruleCanKeepClues(d.manifest.zoning, zones.features, marginM));
  const skipped = args.detectors.filter((d) => !detectors.includes(d)).map((d) => d.manifest.id);
  const { width, height } = tile.grid;
  const n = width * height;
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) valid[i] = before.valid[i]! & after.valid[i]!;
  const toLonLat = toLonLatFn(tile.epsg);
  if (!toLonLat)
    throw new SkypatrolError('SCENE_CRS_UNSUPPORTED', `EPSG:${tile.epsg} is not a supported CRS`);
  const lonLat = (x: number, y: number) => {
    const [mx, my] = pixelToMap(tile.grid, x, y);
    return toLonLat(mx, my);
  };
  let newest = -1;
  for (let i = 0; i < n; i++) if (valid[i] && after.date[i]! > newest) newest = after.date[i]!;
  const seen = {
    beforeDate: windows.before.to,
    afterDate: newest >= 0 ? day(newest) : windows.after.to,
    beforeScene: before.scenes[0] ?? '',
    afterScene: after.scenes.at(-1) ?? '',
  };

  const detectable = detectionValid(valid, width, height);
  const features: ClueFeature[] = [];
  const dropped: { scenario: string; rule: string; count: number }[] = [];
  const probabilities = await probabilitiesFor(detectors, before, after, width, height, {
    ...(args.fuse !== undefined ? { fuse: args.fuse } : {}),
  });
  for (const d of detectors) {
    const { probability, fallback } = probabilities.get(d.manifest.id)!;
    const r = cluesFromProbability({
      detector: d,
      probability,
      valid: detectable,
      tile,
      zones,
      windows,
      seen,
      lonLat,
      fallback,
    });
    features.push(...r.features);
    if (d.manifest.zoning.rule !== 'none')
      dropped.push({ scenario: d.manifest.id, rule: d.manifest.zoning.rule, count: r.dropped });
  }
  const kept = resolveSites(features, detectors, zones, windows, pixelSizeM(tile.grid));
  const merged = new Map<string, number>();
  for (const f of features)
    if (!kept.original.has(f))
      merged.set(f.properties.scenario, (merged.get(f.properties.scenario) ?? 0) + 1);
  for (const [scenario, count] of merged) dropped.push({ scenario, rule: 'same-site', count });
  return { features: kept.features, dropped, skipped };
}

/**
 * One clue per site (`resolveScenarioOverlaps`): the most specific scenario keeps it and names
 * the others in `also_scenarios`, and the clue outlines the whole site — the union of its own
 * outline and those folded into it, every part unlawful under at least one scenario it names —
 * so a specific clue that saw only part of a site (a pit dug past a mining permit, seen whole
 * by the grassland detector) still outlines all of it. A permit-based rule (`after-deadline`:
 * mines, temporary land) is applied again to that union, so a clue never grows back over a valid
 * permit of its own scenario (`pixelM`: the analysis pixel size, for the rule's width test). Kept clues that absorbed others are new features (areas, priority
 * and zones of the outline); `features` are not changed. `original`: the input features kept.
 */
export function resolveSites(
  features: ClueFeature[],
  detectors: readonly LoadedDetector[],
  zones: TileZones,
  windows: { after: { from: string } },
  pixelM?: number,
): { features: ClueFeature[]; original: Set<ClueFeature> } {
  const { kept, folded, absorbed } = resolveScenarioOverlaps(features, SCENARIO_PRECEDENCE);
  const out = kept.map((f) => {
    const also = folded.get(f);
    if (!also?.length) return f;
    const properties = { ...f.properties, also_scenarios: also };
    const site = { ...f, properties };
    const union = siteOutline(f, absorbed.get(f));
    const m = detectors.find((d) => d.manifest.id === f.properties.scenario)?.manifest;
    if (!union || !m) return site;
    let coordinates: PolygonCoords[] = union;
    let areaM2 = multiPolygonAreaM2(union);
    if (m.zoning.rule === 'after-deadline') {
      const outcome = applyZoningRule(
        union,
        {
          rule: m.zoning.rule,
          layer: m.zoning.layer,
          deadlineField: m.zoning.deadlineField,
          maxDistanceM: m.zoning.maxDistanceM,
        },
        zones.features,
        { afterFrom: windows.after.from, minAreaM2: m.minAreaM2, pixelM },
      );
      if (!outcome.coordinates) return site;
      coordinates = outcome.coordinates;
      areaM2 = outcome.areaM2;
      properties.zones = outcome.zones;
    }
    Object.assign(properties, roundArea(areaM2));
    if (properties.priority !== undefined)
      properties.priority = cluePriority(m.priorityWeight, properties.confidence, areaM2);
    return {
      ...site,
      geometry: { type: 'MultiPolygon' as const, coordinates: coordinates as number[][][][] },
    };
  });
  return { features: out, original: new Set(kept) };
}
