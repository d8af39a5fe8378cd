/**
 * Threshold calibration on simulator seeds never trained on and never used for the held-out
 * figures (31–34: `skypatrol simulate --out <dir>/seedN --seed N`). All eight scenario detectors
 * run together, as in a patrol and in `skypatrol eval`; one detector's threshold is swept while
 * the others keep theirs.
 *
 *   npx tsx docs/detectors-eval/calibrate-thresholds.ts fallback --truth /tmp/skysim/calib --out f.json
 *     sweeps the no-SWIR fallback model's threshold on the gf-s2 condition (GF-1 before,
 *     Sentinel-2 after: every pair runs the fallback model);
 *   npx tsx docs/detectors-eval/calibrate-thresholds.ts main --truth … --fallback grassland=0.8,… --out m.json
 *     sweeps the full model's threshold over all five conditions pooled (gf-s2 pairs stay at
 *     the fallback thresholds given) and prints the figures at the current settings.
 *
 * `--fallback id=p,…` / `--main id=p,…` override the installed thresholds in memory.
 * `--multi`: score the sweep multi-label (every clue naming the scenario against every change
 * under it, as eval's multi-label table) instead of by primary labels.
 * Rule used (docs/detectors-eval/report.md): highest F1 with the detector's decoy rate ≤ 5 %;
 * ties → the middle of the tied thresholds.
 */
import { writeFile } from 'node:fs/promises';
import { type LoadedDetector, releaseDetector } from '../../services/adapters/files/detector-registry.ts';
import { SCENARIO_SPECS } from '../../services/domain/detectors/scenarios.ts';
import { loadVersion } from '../../services/usecases/detector-versions.ts';
import { evaluate } from '../../services/usecases/eval.ts';
import { CONDITIONS } from '../../services/usecases/eval-data.ts';
import { simRegionDirs } from '../../services/usecases/train-scenario.ts';

const EIGHT = SCENARIO_SPECS.map((s) => s.id);
export const GRID = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99];

const argv = process.argv.slice(2);
const step = argv[0];
const opt = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const pairs = (s: string | undefined) =>
  new Map(
    (s ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => {
        const [k, v] = kv.split('=');
        return [k!, Number(v)] as const;
      }),
  );
if (step !== 'fallback' && step !== 'main')
  throw new Error('usage: calibrate-thresholds.ts fallback|main --truth <dir>');
const fallbackOverride = pairs(opt('fallback'));
const multi = argv.includes('--multi');
const mainOverride = pairs(opt('main'));
const regionDirs = await simRegionDirs(opt('truth') ?? '/tmp/skysim/calib');
const detectors: LoadedDetector[] = [];
for (const id of EIGHT) {
  const d = await loadVersion('detectors', id, undefined, 1);
  const m = d.manifest;
  if (mainOverride.has(id)) m.threshold = mainOverride.get(id)!;
  if (fallbackOverride.has(id) && m.inputs.fallbackModel)
    m.inputs.fallbackModel = { ...m.inputs.fallbackModel, threshold: fallbackOverride.get(id)! };
  detectors.push(d);
}
const started = performance.now();
try {
  const report = await evaluate({
    detectors,
    regionDirs,
    conditions: step === 'fallback' ? ['gf-s2'] : [...CONDITIONS],
    thresholds: GRID,
    prAllConditions: true,
    prModel: step === 'fallback' ? 'fallback' : 'full',
    prScoring: multi ? 'multi' : 'primary',
  });
  const out: Record<string, unknown> = {};
  for (const d of report.detectors) {
    const eligible = d.pr.filter((p) => p.decoyRate <= 0.05);
    const best = Math.max(...eligible.map((p) => p.f1));
    const tied = eligible.filter((p) => p.f1 === best).map((p) => p.threshold);
    const pick = tied[Math.floor((tied.length - 1) / 2)]!;
    const cur = multi ? d.named : d.overall;
    out[d.detector] = {
      current: step === 'fallback' ? d.fallbackThreshold : d.threshold,
      atCurrent: cur,
      conditions: d.conditions,
      pr: d.pr,
      best: { f1: best, tied, pick },
    };
    console.log(
      `${d.detector}: current ${step === 'fallback' ? d.fallbackThreshold : d.threshold} → F1 ${cur.f1} (P ${cur.precision} R ${cur.recall}, decoys ${cur.decoysHit}/${cur.decoys}); best F1 ${best} at ${tied.join('/')} → pick ${pick}`,
    );
    console.log(
      `   ${d.pr.map((p) => `${p.threshold}:${p.f1.toFixed(3)}${p.decoyRate > 0 ? `(d${(p.decoyRate * 100).toFixed(1)})` : ''}`).join(' ')}`,
    );
    if (step === 'main')
      console.log(
        `   ${Object.entries(d.conditions)
          .map(([c, s]) => `${c} ${s.f1}`)
          .join(' / ')}`,
      );
  }
  console.log(`all eight: decoys ${report.decoys.hit}/${report.decoys.total} (${report.decoys.rate})`);
  console.log(
    `seeds ${report.regions.map((r) => r.seed).join(', ')}; ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  const file = opt('out');
  if (file) await writeFile(file, `${JSON.stringify({ step, report, out }, null, 2)}\n`);
} finally {
  for (const d of detectors) await releaseDetector(d);
}
