import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildFeatureGraph, featureNames, type MlpHead } from '../adapters/onnx/feature-graph.ts';
import { loadModel, type ModelRunner } from '../adapters/onnx/session.ts';
import { SkypatrolError } from '../core/errors.ts';
import { mulberry32 } from '../domain/detectors/logistic.ts';
import { fitMlp } from '../domain/detectors/mlp.ts';
import { deadlineOf } from '../domain/detectors/rules.ts';
import type { ScenarioSpec } from '../domain/detectors/scenarios.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import {
  type Condition,
  type ConditionPair,
  conditionPair,
  loadSimRegion,
  rasterize,
  type SimRegion,
  type TruthFeature,
} from './eval-data.ts';
import type { TileComposite } from './read-tile.ts';

/**
 * Train a scenario detector from simulated regions (`skypatrol simulate` output, several seeds):
 * the feature graph runs on before/after composites of several conditions (Sentinel-2,
 * Landsat → Sentinel-2, one-pixel misregistration, the single cloudiest scene of each window —
 * thin cloud edges, haze and shadow penumbrae the masks leave — and GF → Sentinel-2 and
 * Sentinel-2 for the no-SWIR fallback),
 * pixels are sampled — positives inside the unlawful changes this scenario covers (its own planted
 * clues and those whose truth lists it in `also_scenarios`); negatives from
 * the area where the scenario's zoning rule would make a change unlawful (so the model learns
 * what the rule cannot remove: other scenarios' events, decoys, seasonal change), from decoys,
 * and from elsewhere — and a tiny MLP is fitted. Returns the two model graphs (full and
 * fallback); the caller picks the threshold and writes the version.
 */
export const FULL_BANDS: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir16', 'swir22'];
export const FALLBACK_BANDS: CanonicalBand[] = ['blue', 'green', 'red', 'nir'];

export interface TrainedModels {
  full: Uint8Array;
  fallback: Uint8Array;
  samples: { full: { positive: number; negative: number }; fallback: { positive: number; negative: number } };
  loss: { full: number; fallback: number };
  seeds: number[];
}

/** Simulated region folders under `dir` (or `dir` itself). */
export async function simRegionDirs(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const isRegion = async (d: string) =>
    stat(join(d, 'truth.geojson')).then(
      () => true,
      () => false,
    );
  if (await isRegion(root)) return [root];
  const out: string[] = [];
  for (const e of (await readdir(root, { withFileTypes: true }).catch(() => [])).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (!e.isFile() && (await isRegion(join(root, e.name)))) out.push(join(root, e.name));
  }
  if (!out.length)
    throw new SkypatrolError(
      'VALIDATION',
      `${dir} holds no simulated region (run \`skypatrol simulate --out …\`)`,
    );
  return out;
}

/** Where the scenario's rule keeps a change (1 = a change here would be a clue). */
export function unlawfulMask(
  region: SimRegion,
  spec: Pick<ScenarioSpec, 'layer' | 'rule' | 'deadlineField'>,
): Uint8Array {
  const layer = region.zones.filter((z) => z.kind === spec.layer);
  const n = region.tile.grid.width * region.tile.grid.height;
  if (spec.rule === 'inside')
    return rasterize(
      region.tile,
      layer.flatMap((z) => z.coordinates),
    );
  if (spec.rule === 'none') return new Uint8Array(n).fill(1);
  const lawful =
    spec.rule === 'outside'
      ? layer
      : layer.filter((z) => {
          const d = deadlineOf(z, spec.deadlineField ?? 'reclaim_by');
          return d === null || d >= region.windows.after.from;
        });
  const m = rasterize(
    region.tile,
    lawful.flatMap((z) => z.coordinates),
  );
  for (let i = 0; i < n; i++) m[i] = m[i] ? 0 : 1;
  return m;
}

/** Run the feature graph on a whole pair; returns F planes. */
export async function featurePlanes(
  runner: ModelRunner,
  bands: readonly CanonicalBand[],
  before: TileComposite,
  after: TileComposite,
  width: number,
  height: number,
  fallback: Record<string, number>,
): Promise<Float32Array[]> {
  const pack = (c: TileComposite) => {
    const out = new Float32Array(bands.length * width * height);
    bands.forEach((b, k) => {
      const src = c.bands[b];
      const fill = fallback[b] ?? 0;
      for (let i = 0; i < width * height; i++) {
        const v = src ? src[i]! : fill;
        out[k * width * height + i] = Number.isNaN(v) ? fill : v;
      }
    });
    return out;
  };
  const res = await runner.run({
    before: { data: pack(before), dims: [1, bands.length, height, width] },
    after: { data: pack(after), dims: [1, bands.length, height, width] },
  });
  const f = res.features!;
  const F = f.dims[1]!;
  const planes: Float32Array[] = [];
  for (let k = 0; k < F; k++) planes.push(f.data.slice(k * width * height, (k + 1) * width * height));
  return planes;
}

/** Samples as rows of float32 features in growable chunks (tens of MB, not JS number arrays). */
class SampleSet {
  private chunks: Float32Array[] = [];
  private fill = 0;
  readonly y: number[] = [];
  constructor(readonly nF: number) {}
  push(planes: Float32Array[], i: number, label: 0 | 1) {
    let c = this.chunks.at(-1);
    if (!c || this.fill + this.nF > c.length) {
      c = new Float32Array(this.nF * 65536);
      this.chunks.push(c);
      this.fill = 0;
    }
    for (let f = 0; f < this.nF; f++) c[this.fill + f] = planes[f]![i]!;
    this.fill += this.nF;
    this.y.push(label);
  }
  matrix(): Float32Array {
    const out = new Float32Array(this.y.length * this.nF);
    let o = 0;
    this.chunks.forEach((c, k) => {
      const used = k === this.chunks.length - 1 ? this.fill : c.length;
      out.set(c.subarray(0, used), o);
      o += used;
    });
    return out;
  }
}

function sample(
  set: SampleSet,
  planes: Float32Array[],
  indices: number[],
  cap: number,
  label: 0 | 1,
  rand: () => number,
): number {
  const picks =
    indices.length <= cap
      ? indices
      : Array.from({ length: cap }, () => indices[Math.floor(rand() * indices.length)]!);
  for (const i of picks) set.push(planes, i, label);
  return picks.length;
}

const FULL_CONDITIONS: Condition[] = ['s2', 'landsat-s2', 'misregistered', 'cloudy'];
const FALLBACK_CONDITIONS: Condition[] = ['gf-s2', 's2'];

/** Train several scenarios in one pass over the data (features are shared; sampling is per scenario). */
export async function trainScenarios(options: {
  specs: ScenarioSpec[];
  dataDirs: string[];
  hidden?: number;
  epochs?: number;
  seed?: number;
  /** Add the wider-context features (`buildFeatureGraph` option) to every trained scenario. */
  context?: boolean;
  log?: (msg: string) => void;
}): Promise<Map<string, TrainedModels>> {
  const log = options.log ?? (() => {});
  const rand = mulberry32(options.seed ?? 1234);
  const context = options.context ?? false;
  const nFull = featureNames(FULL_BANDS, context).length;
  const nFb = featureNames(FALLBACK_BANDS, context).length;
  const sets = new Map(
    options.specs.map((s) => [s.id, { full: new SampleSet(nFull), fb: new SampleSet(nFb) }]),
  );
  const fullRunner = await loadModel(buildFeatureGraph(FULL_BANDS, null, undefined, { context }), 1);
  const fbRunner = await loadModel(buildFeatureGraph(FALLBACK_BANDS, null, undefined, { context }), 1);
  const seeds: number[] = [];
  // An unlawful change this scenario's law covers: its own, or another scenario's that falls
  // under it too (truth `also_scenarios`, e.g. a wetland filled inside a river management area).
  const concerns = (t: TruthFeature, id: string) =>
    t.expected === 'clue' && (t.scenario === id || t.alsoScenarios.includes(id));
  try {
    for (const dir of options.dataDirs) {
      const region = await loadSimRegion(dir);
      seeds.push(region.seed);
      const { width, height } = region.tile.grid;
      const n = width * height;
      const masks = options.specs.map((spec) => ({
        spec,
        mine: rasterize(
          region.tile,
          region.truth.filter((t) => concerns(t, spec.id)).flatMap((t) => t.coordinates),
        ),
        others: rasterize(
          region.tile,
          region.truth.filter((t) => !concerns(t, spec.id)).flatMap((t) => t.coordinates),
        ),
        zone: unlawfulMask(region, spec),
      }));
      const pairs: { fb: boolean; runner: ModelRunner; bands: CanonicalBand[]; cond: Condition }[] = [
        ...FULL_CONDITIONS.map((cond) => ({ fb: false, runner: fullRunner, bands: FULL_BANDS, cond })),
        ...FALLBACK_CONDITIONS.map((cond) => ({ fb: true, runner: fbRunner, bands: FALLBACK_BANDS, cond })),
      ];
      const cache = new Map<Condition, ConditionPair | null>();
      for (const p of pairs) {
        if (!cache.has(p.cond)) cache.set(p.cond, await conditionPair(region, p.cond, FULL_BANDS));
        const pair = cache.get(p.cond);
        if (!pair) continue;
        const planes = await featurePlanes(p.runner, p.bands, pair.before, pair.after, width, height, {});
        for (const { spec, mine, others, zone } of masks) {
          const set = p.fb ? sets.get(spec.id)!.fb : sets.get(spec.id)!.full;
          const pos: number[] = [];
          const negZone: number[] = [];
          const negEvents: number[] = [];
          const negElse: number[] = [];
          for (let i = 0; i < n; i++) {
            if (!(pair.before.valid[i]! & pair.after.valid[i]!)) continue;
            if (mine[i]) pos.push(i);
            else if (others[i]) negEvents.push(i);
            else if (zone[i]) negZone.push(i);
            else negElse.push(i);
          }
          sample(set, planes, pos, 2500, 1, rand);
          sample(set, planes, negEvents, 2500, 0, rand);
          sample(set, planes, negZone, 2500, 0, rand);
          sample(set, planes, negElse, 1200, 0, rand);
        }
      }
      log(`seed ${region.seed}: features sampled for ${options.specs.map((s) => s.id).join(', ')}`);
    }
  } finally {
    await fullRunner.release();
    await fbRunner.release();
  }
  const out = new Map<string, TrainedModels>();
  for (const spec of options.specs) {
    const { full, fb } = sets.get(spec.id)!;
    const fit = (set: SampleSet, label: string) => {
      const y = Uint8Array.from(set.y);
      const nPos = set.y.reduce((a, v) => a + v, 0);
      const nNeg = y.length - nPos;
      if (!nPos || !nNeg)
        throw new SkypatrolError(
          'VALIDATION',
          `no ${nPos ? 'negative' : 'positive'} samples for ${spec.id} (${label})`,
        );
      const w = Float32Array.from(set.y, (v) => (v ? y.length / (2 * nPos) : y.length / (2 * nNeg)));
      const m = fitMlp(set.matrix(), set.nF, y, w, {
        hidden: options.hidden ?? 16,
        epochs: options.epochs ?? 8,
        seed: options.seed ?? 1234,
      });
      log(
        `${spec.id} ${label}: MLP ${set.nF}→${m.hidden}→1 on ${y.length} pixels (${nPos} positive), loss ${m.loss.toFixed(4)}`,
      );
      return { m, nPos, nNeg };
    };
    const a = fit(full, 'full');
    const b = fit(fb, 'fallback');
    const head = (m: typeof a.m): MlpHead => ({ w1: m.w1, b1: m.b1, w2: m.w2, b2: m.b2, hidden: m.hidden });
    out.set(spec.id, {
      full: buildFeatureGraph(FULL_BANDS, head(a.m), `skypatrol-${spec.id}`, { context }),
      fallback: buildFeatureGraph(FALLBACK_BANDS, head(b.m), `skypatrol-${spec.id}-nosw`, { context }),
      samples: {
        full: { positive: a.nPos, negative: a.nNeg },
        fallback: { positive: b.nPos, negative: b.nNeg },
      },
      loss: { full: a.m.loss, fallback: b.m.loss },
      seeds,
    });
  }
  return out;
}

export async function trainScenario(options: {
  spec: ScenarioSpec;
  dataDirs: string[];
  hidden?: number;
  epochs?: number;
  seed?: number;
  log?: (msg: string) => void;
}): Promise<TrainedModels> {
  const { spec, ...rest } = options;
  return (await trainScenarios({ ...rest, specs: [spec] })).get(spec.id)!;
}
