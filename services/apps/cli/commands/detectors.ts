import { listDetectorIds, readManifest } from '../../../adapters/files/detector-registry.ts';
import type { Config } from '../../../core/config.ts';
import { SkypatrolError } from '../../../core/errors.ts';
import { trainChange } from '../../../usecases/train-change.ts';

export async function detectorsListCommand(config: Config): Promise<void> {
  for (const id of await listDetectorIds(config.detectorsDir)) {
    const { manifest } = await readManifest(config.detectorsDir, id);
    console.log(
      `${id}\t${manifest.version}\tthreshold ${manifest.threshold}\tMMU ${manifest.minAreaM2} m²\t${manifest.name.zh} / ${manifest.name.en}`,
    );
  }
}

export async function detectorsTrainCommand(
  config: Config,
  id: string,
  opts: { data: string; train: string; eval: string },
): Promise<void> {
  if (id !== 'change') {
    throw new SkypatrolError('DETECTOR_UNKNOWN', `no trainer for detector "${id}" yet (available: change)`);
  }
  const { dir } = await readManifest(config.detectorsDir, id);
  const report = await trainChange({
    oscdDir: opts.data,
    detectorDir: dir,
    trainCities: opts.train.split(',').map((s) => s.trim()),
    evalCities: opts.eval.split(',').map((s) => s.trim()),
    log: (m) => console.log(m),
  });
  console.log(`model written: sha256 ${report.sha256}, threshold ${report.threshold}`);
}
