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
  /** The declared fallback model for pairs lacking an optional band (e.g. no SWIR on GF). */
  fallbackRunner?: ModelRunner;
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

/** Read a model file of a detector and check its SHA-256 against the manifest. */
export async function readVerifiedModel(
  dir: string,
  id: string,
  model: { file: string; sha256: string },
): Promise<Uint8Array> {
  const bytes = await readFile(join(dir, model.file)).catch((err) => {
    throw new SkypatrolError('DETECTOR_INVALID', `detector ${id}: model file ${model.file} is missing`, {
      cause: err,
    });
  });
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== model.sha256) {
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector ${id}: ${model.file} has SHA-256 ${sha}, the manifest says ${model.sha256}`,
    );
  }
  return bytes;
}

/** Load a verified manifest + model(s) from a detector folder (or one of its version folders). */
export async function loadDetectorFrom(
  dir: string,
  manifest: DetectorManifest,
  threads = 0,
): Promise<LoadedDetector> {
  const id = manifest.id;
  const runner = await loadModel(await readVerifiedModel(dir, id, manifest.model), threads);
  const fm = manifest.inputs.fallbackModel;
  const fallbackRunner = fm ? await loadModel(await readVerifiedModel(dir, id, fm), threads) : undefined;
  return {
    manifest,
    dir,
    modelPath: join(dir, manifest.model.file),
    runner,
    ...(fallbackRunner ? { fallbackRunner } : {}),
  };
}

export async function loadDetector(detectorsDir: string, id: string, threads = 0): Promise<LoadedDetector> {
  const { manifest, dir } = await readManifest(detectorsDir, id);
  return loadDetectorFrom(dir, manifest, threads);
}

/** Release a detector's ONNX sessions. */
export async function releaseDetector(d: LoadedDetector): Promise<void> {
  await d.runner.release();
  await d.fallbackRunner?.release();
}
