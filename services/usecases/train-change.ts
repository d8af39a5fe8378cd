import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildChangeGraph, CHANGE_FEATURES } from '../../detectors/change/graph.ts';
import { loadModel } from '../adapters/onnx/session.ts';
import { readPlainTiff } from '../adapters/raster/plain-tiff.ts';
import { fitLogistic, mulberry32, precisionRecall } from '../domain/detectors/logistic.ts';
import { type DetectorManifest, parseManifest } from '../domain/detectors/manifest.ts';
import { readAlignedPair } from './read-pair.ts';
import { runTiled } from './run-model.ts';

/**
 * Train the `change` detector on OSCD cities: features from the feature graph, a
 * class-balanced logistic regression, the threshold that maximises F1 on the training
 * cities, then evaluation on held-out cities. Writes model.onnx, manifest.json, metrics.json.
 */
export interface CityMetrics {
  city: string;
  precision: number;
  recall: number;
  f1: number;
  changePixels: number;
  pixels: number;
}

export interface TrainReport {
  train: string[];
  evaluate: CityMetrics[];
  trainF1: number;
  threshold: number;
  samples: number;
  iterations: number;
  sha256: string;
}

async function cityLabels(oscdDir: string, city: string): Promise<Uint8Array> {
  const cm = await readPlainTiff(join(oscdDir, city, 'cm', `${city}-cm.tif`));
  const out = new Uint8Array(cm.data.length);
  // The files say 1 = no change, 2 = change (the dataset README says 0/1): accept both.
  let max = 0;
  for (let i = 0; i < cm.data.length; i++) max = Math.max(max, cm.data[i]!);
  const changed = max >= 2 ? 2 : 1;
  for (let i = 0; i < cm.data.length; i++) out[i] = cm.data[i] === changed ? 1 : 0;
  return out;
}

export async function trainChange(options: {
  oscdDir: string;
  detectorDir: string;
  trainCities: string[];
  evalCities: string[];
  seed?: number;
  log?: (msg: string) => void;
}): Promise<TrainReport> {
  const log = options.log ?? (() => {});
  const manifestPath = join(options.detectorDir, 'manifest.json');
  const rawManifest = JSON.parse(await readFile(manifestPath, 'utf8')) as DetectorManifest;
  const parsed = parseManifest(rawManifest);
  if (!parsed.ok) throw new Error(`invalid manifest: ${parsed.problems.join('; ')}`);
  const manifest = parsed.manifest;
  const featureRunner = await loadModel(buildChangeGraph(null));
  const nF = CHANGE_FEATURES.length;
  const rand = mulberry32(options.seed ?? 20240601);

  const xs: number[] = [];
  const ys: number[] = [];
  const perClassCap = 30000;
  for (const city of options.trainCities) {
    const pair = await readAlignedPair(
      join(options.oscdDir, city, 'imgs_1'),
      join(options.oscdDir, city, 'imgs_2'),
      manifest,
    );
    const labels = await cityLabels(options.oscdDir, city);
    // Run the feature graph one channel at a time through the same tiler the detector uses.
    const feats: Float32Array[] = [];
    const featureManifest = { ...manifest, output: { name: 'features', meaning: '' } };
    for (let f = 0; f < nF; f++) {
      feats.push(await runTiled(singleChannel(featureRunner, f), featureManifest, pair, 'features'));
    }
    const pos: number[] = [];
    const neg: number[] = [];
    for (let i = 0; i < labels.length; i++) {
      if (!pair.valid[i]) continue;
      (labels[i] ? pos : neg).push(i);
    }
    const pick = (arr: number[]) => {
      if (arr.length <= perClassCap) return arr;
      const out: number[] = [];
      for (let k = 0; k < perClassCap; k++) out.push(arr[Math.floor(rand() * arr.length)]!);
      return out;
    };
    for (const [arr, label] of [
      [pick(pos), 1],
      [pick(neg), 0],
    ] as const) {
      for (const i of arr) {
        for (let f = 0; f < nF; f++) xs.push(feats[f]![i]!);
        ys.push(label);
      }
    }
    log(`features: ${city} (${pos.length} change / ${neg.length} no-change pixels)`);
  }
  await featureRunner.release();

  const y = Uint8Array.from(ys);
  const nPos = ys.reduce((s, v) => s + v, 0);
  const nNeg = ys.length - nPos;
  const sw = Float32Array.from(ys, (v) => (v ? ys.length / (2 * nPos) : ys.length / (2 * nNeg)));
  const fit = fitLogistic(Float32Array.from(xs), nF, y, sw, 1e-3);
  log(`logistic regression: ${fit.iterations} Newton steps, loss ${fit.loss.toFixed(4)}`);

  const bytes = buildChangeGraph({ weights: fit.weights, bias: fit.bias });
  const runner = await loadModel(bytes);
  const probe = async (city: string) => {
    const pair = await readAlignedPair(
      join(options.oscdDir, city, 'imgs_1'),
      join(options.oscdDir, city, 'imgs_2'),
      manifest,
    );
    return {
      prob: await runTiled(runner, manifest, pair),
      labels: await cityLabels(options.oscdDir, city),
      valid: pair.valid,
    };
  };

  // Threshold: maximise pooled F1 over the training cities.
  const trainMaps = [];
  for (const city of options.trainCities) trainMaps.push(await probe(city));
  let best = { t: 0.5, f1: -1 };
  for (let t = 0.5; t <= 0.995; t += 0.01) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const m of trainMaps) {
      const r = precisionRecall(
        m.prob.map((p) => (p >= t ? 1 : 0)),
        m.labels,
        m.valid,
      );
      tp += r.tp;
      fp += r.fp;
      fn += r.fn;
    }
    const f1 = (2 * tp) / (2 * tp + fp + fn || 1);
    if (f1 > best.f1) best = { t: Math.round(t * 100) / 100, f1 };
  }
  log(`threshold ${best.t} (training F1 ${best.f1.toFixed(3)})`);

  const evaluate: CityMetrics[] = [];
  for (const city of options.evalCities) {
    const m = await probe(city);
    const r = precisionRecall(
      m.prob.map((p) => (p >= best.t ? 1 : 0)),
      m.labels,
      m.valid,
    );
    evaluate.push({
      city,
      precision: r.precision,
      recall: r.recall,
      f1: r.f1,
      changePixels: m.labels.reduce((s, v) => s + v, 0),
      pixels: m.labels.length,
    });
    log(
      `evaluate ${city}: precision ${r.precision.toFixed(3)} recall ${r.recall.toFixed(3)} F1 ${r.f1.toFixed(3)}`,
    );
  }
  await runner.release();

  const sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeFile(join(options.detectorDir, manifest.model.file), bytes);
  const updated = { ...rawManifest, model: { ...rawManifest.model, sha256 }, threshold: best.t };
  await writeFile(manifestPath, `${JSON.stringify(updated, null, 2)}\n`);
  const report: TrainReport = {
    train: options.trainCities,
    evaluate,
    trainF1: best.f1,
    threshold: best.t,
    samples: ys.length,
    iterations: fit.iterations,
    sha256,
  };
  await writeFile(join(options.detectorDir, 'metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** Wrap a multi-channel feature runner so the tiler sees a single-channel output. */
function singleChannel(
  runner: Awaited<ReturnType<typeof loadModel>>,
  channel: number,
): Awaited<ReturnType<typeof loadModel>> {
  return {
    ...runner,
    async run(feeds) {
      const out = await runner.run(feeds);
      const f = out.features!;
      const [, , h, w] = f.dims as number[];
      const plane = f.data.subarray(channel * h! * w!, (channel + 1) * h! * w!);
      return { features: { data: plane, dims: [1, 1, h!, w!] } };
    },
  };
}
