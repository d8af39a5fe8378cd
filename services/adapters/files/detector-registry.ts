import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SkypatrolError } from '../../core/errors.ts';
import { type DetectorManifest, parseManifest } from '../../domain/detectors/manifest.ts';
import { loadModel, type ModelRunner } from '../onnx/session.ts';

/** A detector folder loaded and verified: manifest valid, model hash matching, session ready. */
export interface LoadedDetector {
  manifest: DetectorManifest;
  dir: string;
  modelPath: string;
  runner: ModelRunner;
}

/** Ids of the detector folders (those holding a manifest.json). */
export async function listDetectorIds(detectorsDir: string): Promise<string[]> {
  const entries = await readdir(detectorsDir, { withFileTypes: true }).catch(() => []);
  const ids: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const has = await readFile(join(detectorsDir, e.name, 'manifest.json')).then(
      () => true,
      () => false,
    );
    if (has) ids.push(e.name);
  }
  return ids.sort();
}

/** Read and validate `detectors/<id>/manifest.json` without loading the model. */
export async function readManifest(
  detectorsDir: string,
  id: string,
): Promise<{ manifest: DetectorManifest; dir: string }> {
  const dir = resolve(detectorsDir, id);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (err) {
    const ids = await listDetectorIds(detectorsDir);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SkypatrolError(
        'DETECTOR_UNKNOWN',
        `unknown detector "${id}" (available: ${ids.join(', ') || 'none'})`,
      );
    }
    throw new SkypatrolError('DETECTOR_INVALID', `detector ${id}: manifest.json is not valid JSON`, {
      cause: err,
    });
  }
  const parsed = parseManifest(raw);
  if (!parsed.ok) {
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector ${id}: invalid manifest: ${parsed.problems.join('; ')}`,
    );
  }
  if (parsed.manifest.id !== id) {
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector folder ${id} holds a manifest for "${parsed.manifest.id}"`,
    );
  }
  return { manifest: parsed.manifest, dir };
}

export async function loadDetector(detectorsDir: string, id: string, threads = 0): Promise<LoadedDetector> {
  const { manifest, dir } = await readManifest(detectorsDir, id);
  const modelPath = join(dir, manifest.model.file);
  const bytes = await readFile(modelPath).catch((err) => {
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector ${id}: model file ${manifest.model.file} is missing`,
      { cause: err },
    );
  });
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.model.sha256) {
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector ${id}: ${manifest.model.file} has SHA-256 ${sha}, the manifest says ${manifest.model.sha256}`,
    );
  }
  const runner = await loadModel(bytes, threads);
  return { manifest, dir, modelPath, runner };
}
