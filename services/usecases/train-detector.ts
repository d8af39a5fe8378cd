import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { featureGraphArchitecture } from '../adapters/onnx/feature-graph.ts';
import { loadModel } from '../adapters/onnx/session.ts';
import { SkypatrolError } from '../core/errors.ts';
import { type DetectorManifest, parseManifest } from '../domain/detectors/manifest.ts';
import { scenarioSpec, zoningOf } from '../domain/detectors/scenarios.ts';
import { bumpVersion, sha256Hex, writeVersion } from './detector-versions.ts';
import { type EvalReport, evaluate } from './eval.ts';
import { CONDITIONS, type Condition } from './eval-data.ts';
import {
  FALLBACK_BANDS,
  FULL_BANDS,
  simRegionDirs,
  type TrainedModels,
  trainScenarios,
} from './train-scenario.ts';

/**
 * `skypatrol detectors train <scenario> --data <dir>`: train on the simulated regions in
 * `dir`; pick each threshold on calibration regions — `calibrate` (regions never trained on)
 * or, without it, the first training regions — maximising object F1 − decoy false-clue rate
 * over every condition; when several scenarios are trained together, the thresholds are then
 * chosen again with all of them running at once (a site claimed by several scenarios goes to
 * the most specific one, exactly as patrols resolve it); evaluate on held-out regions
 * (`heldOut`, never used for training or threshold choice, all trained detectors together)
 * and write a new version of each (kept under versions/<version>/).
 */
export const CALIBRATION_CONDITIONS: Condition[] = [...CONDITIONS];
export const CALIBRATION_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99];
export const SCENARIO_HIDDEN = 16;
/** Context the graph needs around a window: base 5×5 pools + 3×3 smoothing (16); with the context features 45×45 + 3×3, rounded up (24). */
export const scenarioTile = (context: boolean) => ({ size: 512, overlap: context ? 24 : 16 });

export function metricsOf(report: EvalReport, id: string) {
  const d = report.detectors.find((x) => x.detector === id)!;
  return {
    overall: d.overall,
    conditions: d.conditions,
    /** Multi-label: clues naming the scenario against every change under it (truth also_scenarios). */
    multiLabel: { overall: d.named, conditions: d.namedConditions },
    pr: d.pr,
    seeds: d.seeds,
    decoysAllDetectors: report.decoys,
    evaluatedAt: report.generatedAt,
  };
}

type TrainResult = { manifest: DetectorManifest; calibration: EvalReport; heldOut: EvalReport | null };

export async function trainDetector(options: {
  detectorsDir: string;
  id: string;
  data: string;
  heldOut?: string;
  calibrate?: string;
  log?: (m: string) => void;
  epochs?: number;
  hidden?: number;
  context?: boolean;
}): Promise<TrainResult> {
  const { id, ...rest } = options;
  return (await trainDetectors({ ...rest, ids: [id] }))[0]!;
}

const bestThreshold = (pr: EvalReport['detectors'][number]['pr']) => {
  let best = pr[0]!;
  for (const p of pr) if (p.f1 - p.decoyRate > best.f1 - best.decoyRate) best = p;
  return best;
};

/** Train several scenario detectors in one pass over the data, then calibrate, evaluate and write each. */
export async function trainDetectors(options: {
  detectorsDir: string;
  ids: string[];
  data: string;
  heldOut?: string;
  /** Simulated regions, never trained on, to pick thresholds on. */
  calibrate?: string;
  /** Without `calibrate`: training regions used to pick the threshold (the first N; default 4). */
  calibrationRegions?: number;
  log?: (m: string) => void;
  epochs?: number;
  hidden?: number;
  /** Wider-context features (`buildFeatureGraph` option) for the detectors trained in this run. */
  context?: boolean;
}): Promise<TrainResult[]> {
  const log = options.log ?? (() => {});
  const specs = options.ids.map((id) => {
    const spec = scenarioSpec(id);
    if (!spec)
      throw new SkypatrolError(
        'DETECTOR_UNKNOWN',
        `no simulator trainer for detector "${id}" (the change detector trains on OSCD)`,
      );
    return spec;
  });
  const dirs = await simRegionDirs(options.data);
  const heldDirs = options.heldOut ? await simRegionDirs(options.heldOut) : [];
  const calDirs = options.calibrate ? await simRegionDirs(options.calibrate) : [];
  for (const [what, list] of [
    ['held-out', heldDirs],
    ['calibration', calDirs],
  ] as const) {
    const overlap = list.filter((d) => dirs.includes(d));
    if (overlap.length)
      throw new SkypatrolError(
        'VALIDATION',
        `${what} regions are also training regions: ${overlap.join(', ')}`,
      );
  }
  if (calDirs.some((d) => heldDirs.includes(d)))
    throw new SkypatrolError('VALIDATION', 'calibration regions are also held-out regions');
  const hidden = options.hidden ?? SCENARIO_HIDDEN;
  const models = await trainScenarios({
    specs,
    dataDirs: dirs,
    log,
    hidden,
    context: options.context ?? false,
    ...(options.epochs ? { epochs: options.epochs } : {}),
  });
  const calibrationDirs = calDirs.length ? calDirs : dirs.slice(0, options.calibrationRegions ?? 4);
  const built: { spec: (typeof specs)[number]; trained: TrainedModels; detector: LoadedDetector }[] = [];
  try {
    for (const spec of specs)
      built.push({
        spec,
        trained: models.get(spec.id)!,
        detector: await buildDetector(
          spec,
          models.get(spec.id)!,
          options.detectorsDir,
          hidden,
          options.context ?? false,
        ),
      });
    // Thresholds: each detector alone first, then (several detectors) all together.
    const calibrations = new Map<string, EvalReport>();
    for (const { spec, detector } of built) {
      const cal = await evaluate({
        detectors: [detector],
        regionDirs: calibrationDirs,
        conditions: CALIBRATION_CONDITIONS,
        thresholds: CALIBRATION_THRESHOLDS,
        prAllConditions: true,
      });
      const best = bestThreshold(cal.detectors[0]!.pr);
      detector.manifest.threshold = best.threshold;
      calibrations.set(spec.id, cal);
      log(
        `${spec.id}: threshold ${best.threshold} alone: calibration object F1 ${best.f1}, decoy rate ${best.decoyRate}`,
      );
    }
    if (built.length > 1) {
      const joint = await evaluate({
        detectors: built.map((b) => b.detector),
        regionDirs: calibrationDirs,
        conditions: CALIBRATION_CONDITIONS,
        thresholds: CALIBRATION_THRESHOLDS,
        prAllConditions: true,
      });
      for (const { spec, detector } of built) {
        const best = bestThreshold(joint.detectors.find((d) => d.detector === spec.id)!.pr);
        detector.manifest.threshold = best.threshold;
        calibrations.set(spec.id, joint);
        log(
          `${spec.id}: threshold ${best.threshold} with all: calibration object F1 ${best.f1}, decoy rate ${best.decoyRate}`,
        );
      }
    }
    let heldOut: EvalReport | null = null;
    if (heldDirs.length) {
      heldOut = await evaluate({
        detectors: built.map((b) => b.detector),
        regionDirs: heldDirs,
        conditions: [...CONDITIONS],
      });
      for (const d of heldOut.detectors) {
        const o = d.overall;
        log(
          `${d.detector} held-out: precision ${o.precision} recall ${o.recall} F1 ${o.f1} pixel IoU ${o.pixelIoU} decoy rate ${o.decoyRate}`,
        );
      }
      log(
        `held-out, all together: decoy false-clue rate ${heldOut.decoys.rate} (${heldOut.decoys.hit}/${heldOut.decoys.total})`,
      );
    }
    const results: TrainResult[] = [];
    for (const { spec, trained, detector } of built) {
      const manifest = detector.manifest;
      const calibration = calibrations.get(spec.id)!;
      const metrics = {
        version: manifest.version,
        trainedOn: { seeds: trained.seeds, samples: trained.samples, loss: trained.loss },
        calibration: {
          seeds: calibration.regions.map((r) => r.seed),
          conditions: CALIBRATION_CONDITIONS,
          jointly: built.length > 1,
          pr: calibration.detectors.find((d) => d.detector === spec.id)!.pr,
        },
        heldOut: heldOut ? metricsOf(heldOut, spec.id) : null,
      };
      await writeVersion(
        detector.dir,
        manifest,
        { 'model.onnx': trained.full, 'model-nosw.onnx': trained.fallback },
        metrics,
        `trained on simulator seeds ${trained.seeds.join(', ')}; threshold on seeds ${calibration.regions.map((r) => r.seed).join(', ')}`,
      );
      results.push({ manifest, calibration, heldOut });
    }
    return results;
  } finally {
    for (const { detector } of built) {
      await detector.runner.release();
      await detector.fallbackRunner?.release();
    }
  }
}

async function buildDetector(
  spec: NonNullable<ReturnType<typeof scenarioSpec>>,
  trained: TrainedModels,
  detectorsDir: string,
  hidden: number,
  context: boolean,
): Promise<LoadedDetector> {
  const dir = resolve(detectorsDir, spec.id);
  await mkdir(dir, { recursive: true });
  const previous = await readFile(join(dir, 'manifest.json'), 'utf8')
    .then((t) => JSON.parse(t) as DetectorManifest)
    .catch(() => null);
  // Next free minor version (an earlier retraining may have left a version that was not promoted).
  let version = previous ? bumpVersion(previous.version, 'minor') : '1.0.0';
  while (
    await stat(join(dir, 'versions', version, 'manifest.json')).then(
      () => true,
      () => false,
    )
  )
    version = bumpVersion(version, 'minor');
  const manifest: DetectorManifest = {
    id: spec.id,
    name: spec.name,
    version,
    description: spec.signal,
    model: {
      file: 'model.onnx',
      sha256: sha256Hex(trained.full),
      architecture: featureGraphArchitecture(FULL_BANDS, hidden, context),
    },
    inputs: {
      tensors: [
        { name: 'before', date: 'before' },
        { name: 'after', date: 'after' },
      ],
      bands: FULL_BANDS,
      required: FALLBACK_BANDS,
      fallback: { swir16: 0.2, swir22: 0.15 },
      fallbackModel: { file: 'model-nosw.onnx', sha256: sha256Hex(trained.fallback), bands: FALLBACK_BANDS },
      units: 'reflectance',
      radiometricMatch: 'none',
    },
    tile: scenarioTile(context),
    output: {
      name: 'probability',
      meaning: `probability that the pixel shows the ${spec.name.en.toLowerCase()} change signal: ${spec.signal}`,
    },
    threshold: 0.5,
    minAreaM2: previous?.minAreaM2 ?? spec.minAreaM2,
    zoning: zoningOf(spec),
    legalBasis: spec.legalBasis,
    priorityWeight: spec.priorityWeight,
  };
  const check = parseManifest(manifest);
  if (!check.ok) throw new SkypatrolError('DETECTOR_INVALID', check.problems.join('; '));
  return {
    manifest,
    dir,
    modelPath: join(dir, 'model.onnx'),
    runner: await loadModel(trained.full, 1),
    fallbackRunner: await loadModel(trained.fallback, 1),
  };
}
