import { join } from 'node:path';
import type { Command } from 'commander';
import {
  type LoadedDetector,
  listDetectorIds,
  readManifest,
  releaseDetector,
} from '../../../adapters/files/detector-registry.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { loadVersion, saveMetrics } from '../../../usecases/detector-versions.ts';
import { type EvalReport, evaluate } from '../../../usecases/eval.ts';
import { CONDITIONS, type Condition } from '../../../usecases/eval-data.ts';
import { writeEvalReport } from '../../../usecases/eval-report.ts';
import { metricsOf } from '../../../usecases/train-detector.ts';
import { simRegionDirs } from '../../../usecases/train-scenario.ts';

export async function evalCommand(
  config: Config,
  opts: {
    detector: string;
    truth: string;
    versions?: string;
    conditions?: string;
    out: string;
    json?: boolean;
    save?: boolean;
  },
): Promise<EvalReport> {
  const all = await listDetectorIds(config.detectorsDir);
  const ids = opts.detector === 'all' ? all : opts.detector.split(',').map((s) => s.trim());
  for (const id of ids) await readManifest(config.detectorsDir, id); // unknown ids → DETECTOR_UNKNOWN
  const conditions = (
    opts.conditions ? opts.conditions.split(',').map((s) => s.trim()) : [...CONDITIONS]
  ) as Condition[];
  for (const c of conditions)
    if (!(CONDITIONS as readonly string[]).includes(c))
      throw new SkypatrolError(
        'VALIDATION',
        `unknown condition "${c}" (conditions: ${CONDITIONS.join(', ')})`,
      );
  const versions = opts.versions?.split(',').map((s) => s.trim());
  if (versions && ids.length !== 1)
    throw new SkypatrolError(
      'VALIDATION',
      '--versions compares versions of one detector: give --detector <id>',
    );
  const regionDirs = await simRegionDirs(opts.truth);
  const log = opts.json ? () => {} : (m: string) => console.error(m);
  const threads = config.onnxThreads;
  const reports: EvalReport[] = [];
  if (versions) {
    for (const v of versions) {
      const d = await loadVersion(config.detectorsDir, ids[0]!, v, threads);
      try {
        reports.push(await evaluate({ detectors: [d], regionDirs, conditions, log }));
      } finally {
        await releaseDetector(d);
      }
    }
  } else {
    const detectors: LoadedDetector[] = [];
    try {
      for (const id of ids) detectors.push(await loadVersion(config.detectorsDir, id, undefined, threads));
      reports.push(await evaluate({ detectors, regionDirs, conditions, log }));
    } finally {
      for (const d of detectors) await releaseDetector(d);
    }
  }
  const report: EvalReport = {
    ...reports[0]!,
    detectors: reports.flatMap((r) => r.detectors),
    elapsedMs: reports.reduce((s, r) => s + r.elapsedMs, 0),
  };
  const files = await writeEvalReport(report, opts.out);
  if (opts.save && !versions) {
    for (const d of report.detectors) {
      const { dir, manifest } = await readManifest(config.detectorsDir, d.detector);
      const current = JSON.parse(
        await import('node:fs/promises').then((fs) =>
          fs.readFile(join(dir, 'metrics.json'), 'utf8').catch(() => '{}'),
        ),
      ) as Record<string, unknown>;
      await saveMetrics(dir, manifest.version, {
        ...current,
        version: manifest.version,
        heldOut: metricsOf(report, d.detector),
      });
    }
  }
  if (opts.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log('detector\tversion\tthreshold\tprecision\trecall\tF1\tpixel IoU\tdecoy rate');
    for (const d of report.detectors) {
      const o = d.overall;
      console.log(
        `${d.detector}\t${d.version}\t${d.threshold}\t${o.precision}\t${o.recall}\t${o.f1}\t${o.pixelIoU}\t${o.decoyRate}`,
      );
    }
    console.log(
      `all detectors: ${report.decoys.hit}/${report.decoys.total} decoys became clues (${report.decoys.rate})`,
    );
    console.log(`report: ${files.md}, ${files.png}`);
  }
  return report;
}

export function registerEvalCommand(cli: Command, loadConfig: () => Config): void {
  cli
    .command('eval')
    .description(
      'evaluate detectors on held-out simulated regions: object P/R/F1 (IoU ≥ 0.25), pixel IoU, decoy false-clue rate, PR curve (report.md + pr-curve.png)',
    )
    .requiredOption('--detector <id>', 'detector id, comma-separated ids, or "all"')
    .requiredOption(
      '--truth <dir>',
      'a simulated region (`skypatrol simulate`) or a folder of them, never used for training',
    )
    .option('--versions <a,b>', 'compare versions of one detector side by side')
    .option('--conditions <list>', `subset of ${CONDITIONS.join(',')}`)
    .option('--out <dir>', 'report folder (report.md, pr-curve.png, report.json)', 'docs/detectors-eval')
    .option(
      '--save',
      "store the figures as the current version's held-out metrics (detectors/<id>/metrics.json)",
    )
    .option('--json', 'print the report as JSON')
    .action(async (opts) => {
      await evalCommand(loadConfig(), opts);
    });
}
