import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { listDetectorIds, readManifest } from '../../../adapters/files/detector-registry.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { SCENARIO_SPECS } from '../../../domain/detectors/scenarios.ts';
import { makeGolden, writeGolden } from '../../../usecases/detector-golden.ts';
import { listVersions, loadVersion, tuneDetector } from '../../../usecases/detector-versions.ts';
import { trainChange } from '../../../usecases/train-change.ts';
import { trainChangeConv } from '../../../usecases/train-change-conv.ts';
import { trainChangeMs } from '../../../usecases/train-change-ms.ts';
import { trainDetectors } from '../../../usecases/train-detector.ts';

export async function detectorsListCommand(config: Config): Promise<void> {
  for (const id of await listDetectorIds(config.detectorsDir)) {
    const { manifest } = await readManifest(config.detectorsDir, id);
    console.log(
      `${id}\t${manifest.version}\tthreshold ${manifest.threshold}${manifest.inputs.fallbackModel?.threshold !== undefined ? ` (no-SWIR ${manifest.inputs.fallbackModel.threshold})` : ''}\tMMU ${manifest.minAreaM2} m²\t${manifest.zoning.rule}${manifest.zoning.layer ? ` ${manifest.zoning.layer}` : ''}\t${manifest.name.zh} / ${manifest.name.en}`,
    );
  }
}

export async function detectorsTrainCommand(
  config: Config,
  id: string,
  opts: {
    data: string;
    train?: string;
    eval?: string;
    heldOut?: string;
    calibrate?: string;
    epochs?: number;
    context?: boolean;
    conv?: boolean;
  },
): Promise<void> {
  if (id === 'change' && !opts.train && !opts.eval) {
    const r = await (opts.conv ? trainChangeConv : trainChangeMs)({
      detectorsDir: config.detectorsDir,
      oscdDir: opts.data,
      log: (m) => console.log(m),
    });
    console.log(
      `change ${r.manifest.version}: model sha256 ${r.manifest.model.sha256}, threshold ${r.manifest.threshold}`,
    );
    return;
  }
  if (id === 'change') {
    // The earlier logistic change model (train/eval city split).
    const { dir } = await readManifest(config.detectorsDir, id);
    const report = await trainChange({
      oscdDir: opts.data,
      detectorDir: dir,
      trainCities: (opts.train ?? 'aguasclaras,bordeaux,mumbai,nantes,saclay_e')
        .split(',')
        .map((s) => s.trim()),
      evalCities: (opts.eval ?? 'paris,bercy').split(',').map((s) => s.trim()),
      log: (m) => console.log(m),
    });
    console.log(`model written: sha256 ${report.sha256}, threshold ${report.threshold}`);
    return;
  }
  const ids = id === 'all' ? SCENARIO_SPECS.map((s) => s.id) : id.split(',').map((s) => s.trim());
  const results = await trainDetectors({
    detectorsDir: config.detectorsDir,
    ids,
    data: opts.data,
    ...(opts.heldOut ? { heldOut: opts.heldOut } : {}),
    ...(opts.calibrate ? { calibrate: opts.calibrate } : {}),
    ...(opts.epochs ? { epochs: opts.epochs } : {}),
    ...(opts.context ? { context: true } : {}),
    log: (m) => console.log(m),
  });
  for (const r of results) {
    console.log(
      `${r.manifest.id} ${r.manifest.version}: threshold ${r.manifest.threshold}, model sha256 ${r.manifest.model.sha256}`,
    );
  }
}

const num = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number`);
  return n;
};

export function registerDetectorsCommands(cli: Command, loadConfig: () => Config): void {
  const detectors = cli.command('detectors').description('detector models');
  detectors
    .command('list')
    .description('list detectors with version, threshold and zoning rule')
    .action(async () => detectorsListCommand(loadConfig()));
  detectors
    .command('train')
    .description(
      'learn a detector from labelled data: scenarios (or "all") from simulated regions (`skypatrol simulate`), change (multi-scale features + MLP, leave-one-city-out vs CVA+Otsu) from OSCD; writes a new version',
    )
    .argument('<id>', 'detector id, comma-separated ids, or "all" (the eight scenarios)')
    .requiredOption(
      '--data <dir>',
      'labelled data: a folder of simulated regions (for change: the OSCD folder)',
    )
    .option('--held-out <dir>', 'simulated regions to evaluate the new version on (never trained on)')
    .option(
      '--calibrate <dir>',
      'simulated regions to choose thresholds on (never trained on; default: the first four training regions)',
    )
    .option('--epochs <n>', 'MLP training epochs', num('epochs'))
    .option(
      '--context',
      'scenario detectors: add the wider-context features (15×15 mean/std, 45×45 mean of the before indices; tile overlap 24)',
    )
    .option(
      '--conv',
      'change only: the earlier 3×3 conv network (0.2.0) instead of the multi-scale features + MLP',
    )
    .option('--train <cities>', 'change only: comma-separated training cities')
    .option('--eval <cities>', 'change only: comma-separated held-out cities')
    .action(async (id, opts) => detectorsTrainCommand(loadConfig(), id, opts));
  detectors
    .command('tune')
    .description(
      'new version of a detector with another threshold, fallback-model threshold and/or minimum mapping unit',
    )
    .argument('<id>', 'detector id')
    .option('--threshold <p>', 'probability threshold (0–1)', num('threshold'))
    .option(
      '--fallback-threshold <p>',
      'threshold (0–1) of the declared no-SWIR fallback model, used when a date lacks SWIR (e.g. GF→S2)',
      num('fallback-threshold'),
    )
    .option('--min-area <m2>', 'minimum mapping unit in m²', num('min-area'))
    .option('--note <text>', 'why')
    .action(
      async (
        id,
        opts: { threshold?: number; fallbackThreshold?: number; minArea?: number; note?: string },
      ) => {
        const m = await tuneDetector(loadConfig().detectorsDir, id, {
          ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
          ...(opts.fallbackThreshold !== undefined ? { fallbackThreshold: opts.fallbackThreshold } : {}),
          ...(opts.minArea !== undefined ? { minAreaM2: opts.minArea } : {}),
          ...(opts.note ? { note: opts.note } : {}),
        });
        console.log(
          `${id} ${m.version}: threshold ${m.threshold}${m.inputs.fallbackModel?.threshold !== undefined ? `, fallback-model threshold ${m.inputs.fallbackModel.threshold}` : ''}, MMU ${m.minAreaM2} m² (evaluate it: skypatrol eval --detector ${id} --save)`,
        );
      },
    );
  detectors
    .command('versions')
    .description('list the versions of a detector with their settings and held-out accuracy')
    .argument('<id>', 'detector id')
    .option('--json', 'print JSON')
    .action(async (id, opts: { json?: boolean }) => {
      const versions = await listVersions(loadConfig().detectorsDir, id);
      if (!versions.length) throw new SkypatrolError('NOT_FOUND', `detector ${id} has no versions`);
      if (opts.json) {
        console.log(JSON.stringify(versions, null, 2));
        return;
      }
      for (const v of versions) {
        const m = v.metrics;
        console.log(
          `${v.current ? '*' : ' '} ${v.version}\tthreshold ${v.threshold}${v.fallbackThreshold !== null ? ` (no-SWIR ${v.fallbackThreshold})` : ''}\tMMU ${v.minAreaM2} m²\t${
            m ? `P ${m.precision} R ${m.recall} F1 ${m.f1} decoys ${m.decoyRate}` : 'not evaluated'
          }\t${v.createdAt ?? ''}\t${v.note ?? ''}`,
        );
      }
    });
  detectors
    .command('golden')
    .description('write the golden test tile of detectors (a crop of a simulated region + expected output)')
    .argument('<id>', 'detector id or "all"')
    .requiredOption('--data <dir>', 'a simulated region')
    .action(async (id: string, opts: { data: string }) => {
      const config = loadConfig();
      const list = id === 'all' ? await listDetectorIds(config.detectorsDir) : [id];
      for (const one of list) {
        const d = await loadVersion(config.detectorsDir, one, undefined, 1);
        try {
          const g = await makeGolden(d, opts.data);
          await writeGolden(d.dir.replace(/\/versions\/[^/]+$/, ''), g);
          console.log(
            `${one}: golden tile from seed ${g.source.seed} at (${g.source.x0}, ${g.source.y0}), event ${g.source.event}`,
          );
        } finally {
          await d.runner.release();
          await d.fallbackRunner?.release();
        }
      }
    });
}
