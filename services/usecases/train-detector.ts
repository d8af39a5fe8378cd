import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { loadModel } from '../adapters/onnx/session.ts';
import { SkypatrolError } from '../core/errors.ts';
import { type DetectorManifest, parseManifest } from '../domain/detectors/manifest.ts';
import { scenarioSpec, zoningOf } from '../domain/detectors/scenarios.ts';
import { bumpVersion, sha256Hex, writeVersion } from './detector-versions.ts';
import { type EvalReport, evaluate, PR_THRESHOLDS } from './eval.ts';
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
 * `dir`, pick the threshold that maximises object F1 − decoy false-clue rate on those same
 * training regions, evaluate on held-out regions (`heldOut`, never used for training or for
 * the threshold), and write a new version (kept under versions/<version>/).
 */
export const CALIBRATION_CONDITIONS: Condition[] = ['s2', 'landsat-s2', 'gf-s2'];

export function metricsOf(report: EvalReport, id: string) {
  const d = report.detectors.find((x) => x.detector === id)!;
  return {
    overall: d.overall,
    conditions: d.conditions,
    pr: d.pr,
    seeds: d.seeds,
    decoysAllDetectors: report.decoys,
    evaluatedAt: report.generatedAt,
  };
}

export async function trainDetector(options: {
  detectorsDir: string;
  id: string;
  data: string;
  heldOut?: string;
  log?: (m: string) => void;
  epochs?: number;
  hidden?: number;
}): Promise<{ manifest: DetectorManifest; calibration: EvalReport; heldOut: EvalReport | null }> {
  const { id, ...rest } = options;
  return (await trainDetectors({ ...rest, ids: [id] }))[0]!;
}

/** Train several scenario detectors in one pass over the data, then calibrate, evaluate and write each. */
export async function trainDetectors(options: {
  detectorsDir: string;
  ids: string[];
  data: string;
  heldOut?: string;
  /** Training regions used to pick the threshold (the first N; default 4). */
  calibrationRegions?: number;
  log?: (m: string) => void;
  epochs?: number;
  hidden?: number;
}): Promise<{ manifest: DetectorManifest; calibration: EvalReport; heldOut: EvalReport | null }[]> {
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
  const overlap = heldDirs.filter((d) => dirs.includes(d));
  if (overlap.length)
    throw new SkypatrolError(
      'VALIDATION',
      `held-out regions are also training regions: ${overlap.join(', ')}`,
    );
  const models = await trainScenarios({
    specs,
    dataDirs: dirs,
    log,
    ...(options.epochs ? { epochs: options.epochs } : {}),
    ...(options.hidden ? { hidden: options.hidden } : {}),
  });
  const results = [];
  for (const spec of specs) {
    results.push(
      await finishDetector(spec, models.get(spec.id)!, {
        detectorsDir: options.detectorsDir,
        calibrationDirs: dirs.slice(0, options.calibrationRegions ?? 4),
        heldDirs,
        log,
      }),
    );
  }
  return results;
}

async function finishDetector(
  spec: NonNullable<ReturnType<typeof scenarioSpec>>,
  trained: TrainedModels,
  o: { detectorsDir: string; calibrationDirs: string[]; heldDirs: string[]; log: (m: string) => void },
): Promise<{ manifest: DetectorManifest; calibration: EvalReport; heldOut: EvalReport | null }> {
  const { log, heldDirs } = o;
  const dirs = o.calibrationDirs;
  const dir = resolve(o.detectorsDir, spec.id);
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
      architecture:
        'spectral-change feature graph (indices, differences, 5×5 mean/std in ONNX) + MLP 48→12→1',
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
    tile: { size: 512, overlap: 16 },
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

  const detector: LoadedDetector = {
    manifest,
    dir,
    modelPath: join(dir, 'model.onnx'),
    runner: await loadModel(trained.full, 1),
    fallbackRunner: await loadModel(trained.fallback, 1),
  };
  try {
    const calibration = await evaluate({
      detectors: [detector],
      regionDirs: dirs,
      conditions: CALIBRATION_CONDITIONS,
      thresholds: PR_THRESHOLDS,
    });
    const pr = calibration.detectors[0]!.pr;
    let best = pr[0]!;
    for (const p of pr) if (p.f1 - p.decoyRate >= best.f1 - best.decoyRate) best = p;
    manifest.threshold = best.threshold;
    log(
      `${spec.id}: threshold ${best.threshold}: training-region object F1 ${best.f1}, decoy rate ${best.decoyRate}`,
    );
    let heldOut: EvalReport | null = null;
    if (heldDirs.length) {
      heldOut = await evaluate({ detectors: [detector], regionDirs: heldDirs, conditions: [...CONDITIONS] });
      const o = heldOut.detectors[0]!.overall;
      log(
        `${spec.id} held-out: precision ${o.precision} recall ${o.recall} F1 ${o.f1} pixel IoU ${o.pixelIoU} decoy rate ${o.decoyRate}`,
      );
    }
    const metrics = {
      version,
      trainedOn: { seeds: trained.seeds, samples: trained.samples, loss: trained.loss },
      calibration: { seeds: calibration.regions.map((r) => r.seed), conditions: CALIBRATION_CONDITIONS, pr },
      heldOut: heldOut ? metricsOf(heldOut, spec.id) : null,
    };
    await writeVersion(
      dir,
      manifest,
      { 'model.onnx': trained.full, 'model-nosw.onnx': trained.fallback },
      metrics,
      `trained on simulator seeds ${trained.seeds.join(', ')}`,
    );
    return { manifest, calibration, heldOut };
  } finally {
    await detector.runner.release();
    await detector.fallbackRunner?.release();
  }
}
