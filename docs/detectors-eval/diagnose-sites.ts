/**
 * Site-level diagnosis of the scenario detectors (issue 5): for every scored truth clue of the
 * scenarios given, whether its own detector found it before overlap resolution, and if the
 * resolution then gave it to another scenario; for every false clue that survives resolution,
 * what lies under it (another scenario's truth clue, a decoy, a cloud edge, nothing).
 *
 *   npx tsx docs/detectors-eval/diagnose-sites.ts --truth /tmp/skysim/calib [--scenarios river,wetland]
 *     [--conditions s2,cloudy] [--json out.json] [--multi]
 *
 * `--multi`: multi-label, as eval's multi-label table: a scenario's truth is every unlawful change
 * that falls under it (truth `scenario` or `also_scenarios`), and its clues are every kept clue
 * that names it (its own scenario or its `also_scenarios`).
 */
import { writeFile } from 'node:fs/promises';
import { type LoadedDetector, releaseDetector } from '../../services/adapters/files/detector-registry.ts';
import { thresholdFor } from '../../services/domain/detectors/manifest.ts';
import { resolveScenarioOverlaps } from '../../services/domain/detectors/rules.ts';
import { SCENARIO_PRECEDENCE, SCENARIO_SPECS } from '../../services/domain/detectors/scenarios.ts';
import { toLonLatFn } from '../../services/domain/geo/crs.ts';
import { pixelToMap } from '../../services/domain/geo/grid.ts';
import type { ClueFeature } from '../../services/usecases/detect-pair.ts';
import { cluesFromProbability, detectionValid, probabilityFor } from '../../services/usecases/detect-tile.ts';
import { loadVersion } from '../../services/usecases/detector-versions.ts';
import { MATCH_IOU } from '../../services/usecases/eval.ts';
import {
  CONDITIONS,
  type Condition,
  conditionPair,
  loadSimRegion,
  rasterize,
  truthFor,
} from '../../services/usecases/eval-data.ts';
import { FULL_BANDS, simRegionDirs } from '../../services/usecases/train-scenario.ts';

const EIGHT = SCENARIO_SPECS.map((s) => s.id);
const argv = process.argv.slice(2);
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const focus = (opt('scenarios') ?? 'river,wetland').split(',');
const conditions = (opt('conditions')?.split(',') ?? [...CONDITIONS]) as Condition[];
const order = (opt('order')?.split(',') ?? [...SCENARIO_PRECEDENCE]) as string[];
const multi = argv.includes('--multi');
const regionDirs = await simRegionDirs(opt('truth') ?? '/tmp/skysim/calib');
const detectors: LoadedDetector[] = [];
for (const id of EIGHT) detectors.push(await loadVersion('detectors', id, undefined, 1));

const rows: Record<string, unknown>[] = [];
const zoneLayers = ['river_management_area', 'wetland_reserve', 'lake_protection_zone', 'grassland'];
const inter = (a: Int32Array, b: Uint8Array) => {
  let k = 0;
  for (const i of a) if (b[i]) k++;
  return k;
};
const toPx = (m: Uint8Array) => {
  const o: number[] = [];
  for (let i = 0; i < m.length; i++) if (m[i]) o.push(i);
  return Int32Array.from(o);
};
for (const dir of regionDirs) {
  const region = await loadSimRegion(dir);
  const tile = region.tile;
  const { width: w, height: h } = tile.grid;
  const n = w * h;
  const toLonLat = toLonLatFn(tile.epsg)!;
  const lonLat = (x: number, y: number) => {
    const [mx, my] = pixelToMap(tile.grid, x, y);
    return toLonLat(mx, my);
  };
  const zoneMask = new Map<string, Uint8Array>();
  for (const layer of zoneLayers) {
    const m = new Uint8Array(n);
    for (const z of region.zones.filter((z) => z.kind === layer)) {
      const r = rasterize(tile, z.coordinates);
      for (let i = 0; i < n; i++) if (r[i]) m[i] = 1;
    }
    zoneMask.set(layer, m);
  }
  const truthMask = new Map(region.truth.map((t) => [t.id, rasterize(tile, t.coordinates)] as const));
  for (const cond of conditions) {
    const pair = await conditionPair(region, cond, FULL_BANDS);
    if (!pair) continue;
    const valid = new Uint8Array(n);
    for (let i = 0; i < n; i++) valid[i] = pair.before.valid[i]! & pair.after.valid[i]!;
    // Distance (px, Chebyshev, capped 4) to the nearest invalid pixel.
    const near = new Uint8Array(n).fill(9);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        if (valid[y * w + x]) continue;
        for (let dy = -4; dy <= 4; dy++)
          for (let dx = -4; dx <= 4; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const d = Math.max(Math.abs(dx), Math.abs(dy));
            if (d < near[yy * w + xx]!) near[yy * w + xx] = d;
          }
      }
    const truth = truthFor(region, pair).map((t) => {
      const px = toPx(truthMask.get(t.id)!);
      const seen = inter(px, valid);
      return { ...t, px, observable: px.length > 0 && seen / px.length >= 0.5 };
    });
    const seen = {
      beforeDate: region.windows.before.to,
      afterDate: region.windows.after.to,
      beforeScene: pair.beforeScenes[0]?.id ?? '',
      afterScene: pair.afterScenes.at(-1)?.id ?? '',
    };
    const detectable = detectionValid(valid, w, h);
    const all: ClueFeature[] = [];
    for (const d of detectors) {
      const { probability, fallback } = await probabilityFor(d, pair.before, pair.after, w, h);
      const threshold = thresholdFor(d.manifest, fallback && !!d.fallbackRunner);
      const f = cluesFromProbability({
        detector: d,
        probability,
        valid: detectable,
        tile,
        zones: { features: region.zones },
        windows: region.windows,
        seen,
        lonLat,
        threshold,
      }).features;
      all.push(...f);
    }
    const { kept, folded } = resolveScenarioOverlaps(all, order);
    const keptSet = new Set(kept);
    const px = new Map(all.map((f) => [f, pixelsOf(f)] as const));
    function pixelsOf(f: ClueFeature) {
      return toPx(rasterize(tile, f.geometry.coordinates as never));
    }
    const iouOf = (a: Int32Array, t: { px: Int32Array }) => {
      const m = new Uint8Array(n);
      for (const i of t.px) m[i] = 1;
      const k = inter(a, m);
      return k / (a.length + t.px.length - k || 1);
    };
    const whoFolded = (f: ClueFeature) =>
      [...folded]
        .filter(([, s]) => s.includes(f.properties.scenario))
        .find(([a]) => {
          const k = iouOf(px.get(a)!, { px: px.get(f)! });
          return k > 0;
        })?.[0];
    const zonesOf = (p: Int32Array) =>
      zoneLayers
        .map((l) => [l, p.length ? inter(p, zoneMask.get(l)!) / p.length : 0] as const)
        .filter(([, v]) => v > 0)
        .map(([l, v]) => `${l.split('_')[0]}:${v.toFixed(2)}`)
        .join(' ');
    for (const s of focus) {
      const concerns = (t: (typeof truth)[number]) =>
        t.expected === 'clue' && (t.scenario === s || (multi && t.alsoScenarios.includes(s)));
      const names = (f: ClueFeature) =>
        f.properties.scenario === s || (multi && !!folded.get(f)?.includes(s));
      // Missed truth clues.
      for (const t of truth.filter((t) => concerns(t) && !t.belowMmu && t.observable)) {
        const own = all.filter((f) => f.properties.scenario === s);
        const best = own.map((f) => ({ f, v: iouOf(px.get(f)!, t) })).sort((a, b) => b.v - a.v)[0];
        const others = all
          .filter((f) => f.properties.scenario !== s)
          .map((f) => ({ f, v: iouOf(px.get(f)!, t) }))
          .filter((x) => x.v >= MATCH_IOU)
          .map(
            (x) =>
              `${x.f.properties.scenario}${keptSet.has(x.f) ? '' : '(folded)'}@${x.v.toFixed(2)}/p${x.f.properties.confidence}`,
          );
        const rawHit = !!best && best.v >= MATCH_IOU;
        const keptHit = kept.some((f) => names(f) && iouOf(px.get(f)!, t) >= MATCH_IOU);
        const status = keptHit
          ? 'found'
          : rawHit
            ? `taken by ${whoFolded(best!.f)?.properties.scenario}`
            : 'missed';
        rows.push({
          seed: region.seed,
          cond,
          scenario: s,
          type: 'truth',
          id: t.id,
          truthScenario: t.scenario,
          kind: t.kind,
          areaPx: t.px.length,
          status,
          bestOwnIoU: best ? +best.v.toFixed(2) : 0,
          bestOwnConf: best ? best.f.properties.confidence : null,
          others: others.join(' '),
          zones: zonesOf(t.px),
        });
      }
      // False clues that survive resolution.
      for (const f of kept.filter(names)) {
        const p = px.get(f)!;
        const mine = truth.filter(concerns);
        if (mine.some((t) => iouOf(p, t) >= MATCH_IOU)) continue;
        const under = truth
          .map((t) => ({
            t,
            v: iouOf(p, t),
            inside: t.px.length ? inter(p, truthMask.get(t.id)!) / p.length : 0,
          }))
          .filter((x) => x.v >= 0.1 || x.inside >= 0.3)
          .sort((a, b) => b.v - a.v)
          .map(
            (x) =>
              `${x.t.expected}:${x.t.scenario}${x.t.alsoScenarios.length ? `+${x.t.alsoScenarios.join('+')}` : ''}/${x.t.kind}@${x.v.toFixed(2)}/${x.inside.toFixed(2)}`,
          );
        let edge = 0;
        for (const i of p) if (near[i]! <= 2) edge++;
        rows.push({
          seed: region.seed,
          cond,
          scenario: s,
          type: 'false',
          clueScenario: f.properties.scenario,
          areaPx: p.length,
          conf: f.properties.confidence,
          under: under.join(' ') || 'nothing',
          nearInvalid2px: +(edge / p.length).toFixed(2),
          zones: zonesOf(p),
          alsoScenarios: (folded.get(f) ?? []).join(','),
        });
      }
    }
  }
}
for (const d of detectors) await releaseDetector(d);
for (const r of rows) console.log(JSON.stringify(r));
const out = opt('json');
if (out) await writeFile(out, JSON.stringify(rows, null, 1));
