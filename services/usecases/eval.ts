import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { thresholdFor } from '../domain/detectors/manifest.ts';
import type { AnalysisTile } from '../domain/geo/analysis-grid.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { pixelToMap } from '../domain/geo/grid.ts';
import type { ClueFeature } from './detect-pair.ts';
import {
  cluesFromProbability,
  detectionValid,
  pixelSizeM,
  probabilityFor,
  resolveSites,
} from './detect-tile.ts';
import {
  type Condition,
  conditionPair,
  loadSimRegion,
  rasterize,
  type SimRegion,
  truthFor,
} from './eval-data.ts';
import { FULL_BANDS } from './train-scenario.ts';

/**
 * Evaluation of detectors on simulated regions never used for training, through the same
 * runtime as patrols (probabilityFor → cluesFromProbability: polygons, MMU, zoning rules):
 * object-level precision/recall/F1 per scenario (a detection matches a truth polygon at
 * IoU ≥ 0.25), pixel IoU, decoy false-clue rate and a precision–recall curve over thresholds,
 * per condition (Sentinel-2, Landsat→S2, GF→S2, one-pixel misregistration, cloudy scenes).
 */
export const MATCH_IOU = 0.25;
export const PR_THRESHOLDS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
  /** Pixel counts for pixel IoU. */
  ptp: number;
  pfp: number;
  pfn: number;
  decoysHit: number;
  decoys: number;
}

export interface Scores {
  precision: number;
  recall: number;
  f1: number;
  pixelIoU: number;
  decoyRate: number;
  tp: number;
  fp: number;
  fn: number;
  decoysHit: number;
  decoys: number;
}

const zero = (): Counts => ({ tp: 0, fp: 0, fn: 0, ptp: 0, pfp: 0, pfn: 0, decoysHit: 0, decoys: 0 });
const add = (a: Counts, b: Counts) => {
  for (const k of Object.keys(a) as (keyof Counts)[]) a[k] += b[k];
};
const r4 = (v: number) => Math.round(v * 10000) / 10000;

export function scores(c: Counts): Scores {
  const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : c.fn ? 0 : 1;
  const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const pixelIoU = c.ptp + c.pfp + c.pfn ? c.ptp / (c.ptp + c.pfp + c.pfn) : 1;
  return {
    precision: r4(precision),
    recall: r4(recall),
    f1: r4(f1),
    pixelIoU: r4(pixelIoU),
    decoyRate: r4(c.decoys ? c.decoysHit / c.decoys : 0),
    tp: c.tp,
    fp: c.fp,
    fn: c.fn,
    decoysHit: c.decoysHit,
    decoys: c.decoys,
  };
}

/** Pixel indices inside lon/lat polygons on the tile grid. */
function pixelsOf(tile: AnalysisTile, coords: ClueFeature['geometry']['coordinates']): Int32Array {
  const m = rasterize(tile, coords as never);
  const out: number[] = [];
  for (let i = 0; i < m.length; i++) if (m[i]) out.push(i);
  return Int32Array.from(out);
}

export interface TruthPx {
  id: string;
  scenario: string;
  kind: string;
  /** Other scenarios whose rules the change also breaks (truth `also_scenarios`). */
  alsoScenarios?: string[];
  expected: 'clue' | 'decoy';
  belowMmu: boolean;
  px: Int32Array;
  observable: boolean;
}

/**
 * Object and pixel matching of one detector's clues against a pair's truth. `anyLabel`: a
 * truth change is this scenario's if it is its primary label or one of its `alsoScenarios`
 * (multi-label scoring); otherwise the primary label only.
 */
export function matchClues(
  clues: { px: Int32Array }[],
  truth: TruthPx[],
  scenario: string,
  valid: Uint8Array,
  anyLabel = false,
): Counts {
  const c = zero();
  // The general `change` detector should find every planted land change, lawful or not; only
  // cloud shadows are false changes for it.
  const isChange = scenario === 'change';
  // A change lawful under its own permit but inside this scenario's layer with its signal
  // (`alsoScenarios` of a decoy) is unlawful for this scenario: a target when scoring
  // multi-label, and never one of this scenario's decoys.
  const also = (t: TruthPx) => !!t.alsoScenarios?.includes(scenario);
  const mine = truth.filter((t) =>
    isChange
      ? t.kind !== 'cloud-shadow' && t.kind !== 'seasonal-lake-level'
      : t.expected === 'clue'
        ? t.scenario === scenario || (anyLabel && also(t))
        : anyLabel && also(t),
  );
  const targets = mine.filter((t) => !t.belowMmu && t.observable);
  const ignored = mine.filter((t) => t.belowMmu || !t.observable);
  const decoys = decoysOf(truth, scenario);
  const n = valid.length;
  const detMask = new Uint8Array(n);
  for (const d of clues) for (const i of d.px) detMask[i] = 1;
  // Pixel IoU over pixels observed in both dates.
  const truthMask = new Uint8Array(n);
  for (const t of targets) for (const i of t.px) truthMask[i] = 1;
  for (let i = 0; i < n; i++) {
    if (!valid[i]) continue;
    if (detMask[i] && truthMask[i]) c.ptp++;
    else if (detMask[i]) c.pfp++;
    else if (truthMask[i]) c.pfn++;
  }
  const overlap = (a: Int32Array, b: Set<number>) => {
    let k = 0;
    for (const i of a) if (b.has(i)) k++;
    return k;
  };
  const iou = (a: Int32Array, bSet: Set<number>, bSize: number) => {
    const inter = overlap(a, bSet);
    return inter / (a.length + bSize - inter || 1);
  };
  const targetSets = targets.map((t) => new Set(t.px));
  const ignoredSets = ignored.map((t) => new Set(t.px));
  const matched = new Set<number>();
  // Greedy one-to-one matching by IoU.
  const pairs: { d: number; t: number; v: number }[] = [];
  clues.forEach((d, di) => {
    targetSets.forEach((s, ti) => {
      const v = iou(d.px, s, targets[ti]!.px.length);
      if (v >= MATCH_IOU) pairs.push({ d: di, t: ti, v });
    });
  });
  pairs.sort((a, b) => b.v - a.v);
  const usedD = new Set<number>();
  for (const p of pairs) {
    if (usedD.has(p.d) || matched.has(p.t)) continue;
    usedD.add(p.d);
    matched.add(p.t);
  }
  c.tp = matched.size;
  c.fn = targets.length - matched.size;
  clues.forEach((d, di) => {
    if (usedD.has(di)) return;
    // A detection of an event we do not score (below the MMU, or mostly under cloud) is neither.
    if (ignoredSets.some((s, k) => iou(d.px, s, ignored[k]!.px.length) >= MATCH_IOU)) return;
    c.fp++;
  });
  c.decoys = decoys.length;
  c.decoysHit = decoysHitBy(clues, truth, decoys).size;
  return c;
}

/**
 * The observed decoys of a scenario: lawful changes, cloud shadows and seasonal change; for
 * `change`, only the false changes (cloud shadows, seasonal lake level). A decoy lawful only
 * under another scenario's permit that this scenario's law covers (`alsoScenarios`) is not one.
 */
export function decoysOf(truth: TruthPx[], scenario: string): TruthPx[] {
  const isChange = scenario === 'change';
  return truth.filter(
    (t) =>
      t.expected === 'decoy' &&
      t.observable &&
      !t.alsoScenarios?.includes(scenario) &&
      (!isChange || t.kind === 'cloud-shadow' || t.kind === 'seasonal-lake-level'),
  );
}

/**
 * Decoys that became a false clue: a detection overlaps the decoy at IoU ≥ 0.25, or lies at least
 * half inside it — unless the detection is itself a planted unlawful event (it matches a truth
 * clue of any scenario at IoU ≥ 0.25). Cloud-shadow decoys are whole shadows of one scene
 * (up to several km², masked in that scene and replaced in composites): a correct clue on
 * ground that happens to lie under such a shadow is not a lawful change becoming a clue.
 */
export function decoysHitBy(
  clues: { px: Int32Array }[],
  truth: TruthPx[],
  decoys: TruthPx[] = truth.filter((t) => t.expected === 'decoy' && t.observable),
): Set<string> {
  const hit = new Set<string>();
  if (!decoys.length || !clues.length) return hit;
  const inter = (a: Int32Array, b: Set<number>) => {
    let k = 0;
    for (const i of a) if (b.has(i)) k++;
    return k;
  };
  const events = truth.filter((t) => t.expected === 'clue').map((t) => ({ t, s: new Set(t.px) }));
  const falseClues = clues.filter(
    (d) =>
      !events.some(({ t, s }) => {
        const k = inter(d.px, s);
        return k > 0 && k / (d.px.length + t.px.length - k) >= MATCH_IOU;
      }),
  );
  for (const t of decoys) {
    const s = new Set(t.px);
    if (
      falseClues.some((d) => {
        const k = inter(d.px, s);
        return k > 0 && (k / (d.px.length + t.px.length - k) >= MATCH_IOU || k >= d.px.length / 2);
      })
    )
      hit.add(t.id);
  }
  return hit;
}

export interface DetectorEval {
  detector: string;
  version: string;
  threshold: number;
  /** Threshold of the declared no-SWIR fallback model (null: the detector has none). */
  fallbackThreshold: number | null;
  minAreaM2: number;
  overall: Scores;
  /**
   * Multi-label scores: every clue that names this scenario (its own, and those of another
   * scenario that took the site and list this one in `also_scenarios`) against every unlawful
   * change that falls under it (truth `scenario` or `also_scenarios`). A wetland filled inside a
   * river management area is damage under both laws; a river clue naming wetland on it is right
   * for both. What a prosecutor opening the clues sees; `overall` scores the primary label only,
   * against the primary truth label.
   */
  named: Scores;
  conditions: Record<string, Scores>;
  /** Multi-label scores (as `named`) per condition. */
  namedConditions: Record<string, Scores>;
  seeds: number[];
  pr: { threshold: number; precision: number; recall: number; f1: number; decoyRate: number }[];
  /** The condition the precision–recall curve was swept on. */
  prCondition: string;
  /** Which model's threshold the sweep replaced (`any`: whichever ran on the pair). */
  prModel: PrModel;
  /** How the sweep scored: primary labels, or multi-label as `named`. */
  prScoring: 'primary' | 'multi';
}

/**
 * Which threshold a precision–recall sweep replaces: `any` the one of whichever model ran on
 * a pair; `full` only on pairs the full model ran on (fallback pairs keep their manifest
 * threshold); `fallback` only on pairs the no-SWIR fallback model ran on.
 */
export type PrModel = 'any' | 'full' | 'fallback';

export interface EvalReport {
  generatedAt: string;
  regions: { dir: string; seed: number }[];
  conditions: Condition[];
  detectors: DetectorEval[];
  /** All scenario detectors together: decoys that became a clue of any of them. */
  decoys: { hit: number; total: number; rate: number };
  elapsedMs: number;
}

export async function evaluate(options: {
  detectors: LoadedDetector[];
  regionDirs: string[];
  conditions: Condition[];
  thresholds?: number[];
  /** Sweep the precision–recall curve on every condition (default: the first only). */
  prAllConditions?: boolean;
  /** Which model's threshold the sweep replaces (default `any`). */
  prModel?: PrModel;
  /**
   * How the precision–recall sweep scores (default `primary`): `multi` as the multi-label
   * table (`named`): every clue naming the scenario against every change under it.
   */
  prScoring?: 'primary' | 'multi';
  log?: (m: string) => void;
}): Promise<EvalReport> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const thresholds = options.thresholds ?? PR_THRESHOLDS;
  const per = new Map<
    string,
    {
      overall: Counts;
      named: Counts;
      cond: Map<string, Counts>;
      namedCond: Map<string, Counts>;
      pr: Map<number, Counts>;
    }
  >();
  for (const d of options.detectors)
    per.set(d.manifest.id, {
      overall: zero(),
      named: zero(),
      cond: new Map(),
      namedCond: new Map(),
      pr: new Map(),
    });
  const all = { hit: 0, total: 0 };
  const regions: EvalReport['regions'] = [];
  for (const dir of options.regionDirs) {
    const region: SimRegion = await loadSimRegion(dir);
    regions.push({ dir, seed: region.seed });
    const tile = region.tile;
    const toLonLat = toLonLatFn(tile.epsg)!;
    const lonLat = (x: number, y: number) => {
      const [mx, my] = pixelToMap(tile.grid, x, y);
      return toLonLat(mx, my);
    };
    const zones = { features: region.zones };
    const truthPx = new Map(region.truth.map((t) => [t.id, rasterize(tile, t.coordinates)] as const));
    for (const cond of options.conditions) {
      const pair = await conditionPair(region, cond, FULL_BANDS);
      if (!pair) {
        log(`seed ${region.seed} ${cond}: no scenes`);
        continue;
      }
      const n = tile.grid.width * tile.grid.height;
      const valid = new Uint8Array(n);
      for (let i = 0; i < n; i++) valid[i] = pair.before.valid[i]! & pair.after.valid[i]!;
      const truth: TruthPx[] = truthFor(region, pair).map((t) => {
        const mask = truthPx.get(t.id)!;
        const px: number[] = [];
        let seen = 0;
        for (let i = 0; i < n; i++)
          if (mask[i]) {
            px.push(i);
            if (valid[i]) seen++;
          }
        return {
          id: t.id,
          scenario: t.scenario,
          kind: t.kind,
          alsoScenarios: t.alsoScenarios,
          expected: t.expected,
          belowMmu: t.belowMmu,
          px: Int32Array.from(px),
          observable: px.length > 0 && seen / px.length >= 0.5,
        };
      });
      const seenDates = {
        beforeDate: region.windows.before.to,
        afterDate: region.windows.after.to,
        beforeScene: pair.beforeScenes[0]?.id ?? '',
        afterScene: pair.afterScenes.at(-1)?.id ?? '',
      };
      // Clues come from the pixels detectTile would use (away from mask edges); truth
      // observability and pixel IoU stay on everything observed.
      const detectable = detectionValid(valid, tile.grid.width, tile.grid.height);
      const anyHit = new Set<string>();
      // Every detector's clues at its own threshold first: overlapping clues of several
      // scenarios are resolved to the most specific one, exactly as detectTile does.
      const runs = new Map<LoadedDetector, (threshold: number) => ClueFeature[]>();
      // The operating threshold of each detector on this pair: the fallback model's own when it ran.
      const own = new Map<LoadedDetector, { threshold: number; fallbackModel: boolean }>();
      for (const d of options.detectors) {
        const { probability, fallback } = await probabilityFor(
          d,
          pair.before,
          pair.after,
          tile.grid.width,
          tile.grid.height,
        );
        const fallbackModel = fallback && !!d.fallbackRunner;
        own.set(d, { threshold: thresholdFor(d.manifest, fallbackModel), fallbackModel });
        runs.set(
          d,
          (threshold: number) =>
            cluesFromProbability({
              detector: d,
              probability,
              valid: detectable,
              tile,
              zones,
              windows: region.windows,
              seen: seenDates,
              lonLat,
              threshold,
            }).features,
        );
      }
      const base = new Map(options.detectors.map((d) => [d, runs.get(d)!(own.get(d)!.threshold)] as const));
      const prModel = options.prModel ?? 'any';
      // Sites as a patrol keeps them (detectTile's resolveSites): one clue per site, whole outline.
      const sites = (features: ClueFeature[]) =>
        resolveSites(features, options.detectors, zones, region.windows, pixelSizeM(tile.grid)).features;
      const others = (d: LoadedDetector) =>
        options.detectors.filter((o) => o !== d).flatMap((o) => base.get(o)!);
      const resolvedFor = (d: LoadedDetector, own: ClueFeature[]) =>
        sites([...own, ...others(d)])
          .filter((f) => f.properties.scenario === d.manifest.id)
          .map((f) => ({ px: pixelsOf(tile, f.geometry.coordinates) }));
      const naming = (kept: ClueFeature[], id: string) =>
        kept
          .filter((f) => f.properties.scenario === id || f.properties.also_scenarios?.includes(id))
          .map((f) => ({ px: pixelsOf(tile, f.geometry.coordinates) }));
      // Every clue at the operating thresholds, resolved once: which scenarios each one names.
      const resolvedAll = sites([...base.values()].flat());
      const namedFor = (id: string) => naming(resolvedAll, id);
      // The clues naming a detector's scenario with its clues at another threshold.
      const namedWith = (d: LoadedDetector, own: ClueFeature[]) =>
        naming(sites([...own, ...others(d)]), d.manifest.id);
      for (const d of options.detectors) {
        const entry = per.get(d.manifest.id)!;
        const { threshold: operating, fallbackModel } = own.get(d)!;
        const swept = prModel === 'any' || (prModel === 'fallback') === fallbackModel;
        const ownAt = (threshold: number) =>
          threshold === operating || !swept ? base.get(d)! : runs.get(d)!(threshold);
        const run = (threshold: number) => resolvedFor(d, ownAt(threshold));
        const clues = run(operating);
        const c = matchClues(clues, truth, d.manifest.id, valid);
        add(entry.overall, c);
        const named = matchClues(namedFor(d.manifest.id), truth, d.manifest.id, valid, true);
        add(entry.named, named);
        if (!entry.namedCond.has(cond)) entry.namedCond.set(cond, zero());
        add(entry.namedCond.get(cond)!, named);
        if (!entry.cond.has(cond)) entry.cond.set(cond, zero());
        add(entry.cond.get(cond)!, c);
        // Decoys hit by any scenario detector (the general `change` screen has no zoning rule and
        // reports lawful changes by design; it is not part of the combined rate).
        if (d.manifest.zoning.rule !== 'none')
          for (const id of decoysHitBy(clues, truth, decoysOf(truth, d.manifest.id))) anyHit.add(id);
        // The precision–recall curve is swept on the first condition only (Sentinel-2 by default):
        // polygons and zoning rules at every threshold are the costly part of an evaluation.
        for (const th of options.prAllConditions || cond === options.conditions[0] ? thresholds : []) {
          if (!entry.pr.has(th)) entry.pr.set(th, zero());
          add(
            entry.pr.get(th)!,
            options.prScoring === 'multi'
              ? matchClues(namedWith(d, ownAt(th)), truth, d.manifest.id, valid, true)
              : matchClues(run(th), truth, d.manifest.id, valid),
          );
        }
        const s = scores(c);
        log(
          `seed ${region.seed} ${cond} ${d.manifest.id}: TP ${c.tp} FP ${c.fp} FN ${c.fn} (P ${s.precision} R ${s.recall}), decoys hit ${c.decoysHit}/${c.decoys}`,
        );
      }
      // Decoys lawful under every scenario's law (none lists them in `alsoScenarios`).
      const decoys = truth.filter((x) => x.expected === 'decoy' && x.observable && !x.alsoScenarios?.length);
      all.total += decoys.length;
      all.hit += anyHit.size;
    }
  }
  const detectors: DetectorEval[] = options.detectors.map((d) => {
    const e = per.get(d.manifest.id)!;
    return {
      detector: d.manifest.id,
      version: d.manifest.version,
      threshold: d.manifest.threshold,
      fallbackThreshold: d.manifest.inputs.fallbackModel ? thresholdFor(d.manifest, true) : null,
      minAreaM2: d.manifest.minAreaM2,
      overall: scores(e.overall),
      named: scores(e.named),
      namedConditions: Object.fromEntries([...e.namedCond].map(([k, v]) => [k, scores(v)])),
      conditions: Object.fromEntries([...e.cond].map(([k, v]) => [k, scores(v)])),
      seeds: regions.map((r) => r.seed),
      prCondition: options.prAllConditions ? options.conditions.join('+') : options.conditions[0]!,
      prModel: options.prModel ?? 'any',
      prScoring: options.prScoring ?? 'primary',
      pr: [...e.pr]
        .sort((a, b) => a[0] - b[0])
        .map(([threshold, c]) => {
          const s = scores(c);
          return { threshold, precision: s.precision, recall: s.recall, f1: s.f1, decoyRate: s.decoyRate };
        }),
    };
  });
  return {
    generatedAt: new Date().toISOString(),
    regions,
    conditions: options.conditions,
    detectors,
    decoys: { hit: all.hit, total: all.total, rate: r4(all.total ? all.hit / all.total : 0) },
    elapsedMs: Math.round(performance.now() - started),
  };
}
