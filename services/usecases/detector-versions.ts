import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadedDetector, loadDetectorFrom, readManifest } from '../adapters/files/detector-registry.ts';
import { SkypatrolError } from '../core/errors.ts';
import { type DetectorManifest, parseManifest } from '../domain/detectors/manifest.ts';

/**
 * Detector versions: the folder `detectors/<id>/` holds the current version (manifest.json,
 * model files, metrics.json); every version ever made — by training, retraining or tuning — is
 * kept in `detectors/<id>/versions/<version>/` (manifest, model files, metrics, note), so
 * versions can be listed, compared side by side by the same evaluation, and restored.
 */
export interface VersionInfo {
  version: string;
  current: boolean;
  createdAt: string | null;
  note: string | null;
  threshold: number;
  /** Threshold of the no-SWIR fallback model (null: none declared, the main threshold serves). */
  fallbackThreshold: number | null;
  minAreaM2: number;
  sha256: string;
  metrics: MetricsSummary | null;
}

export interface MetricsSummary {
  precision: number;
  recall: number;
  f1: number;
  pixelIoU: number;
  decoyRate: number;
  seeds: number[];
}

export const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

export function bumpVersion(v: string, part: 'minor' | 'patch'): string {
  const [maj, min, pat] = v.split('.').map(Number) as [number, number, number];
  return part === 'minor' ? `${maj}.${min + 1}.0` : `${maj}.${min}.${pat + 1}`;
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function summarize(metrics: unknown): MetricsSummary | null {
  const m = metrics as { heldOut?: { overall?: Record<string, number>; seeds?: number[] } } | null;
  const o = m?.heldOut?.overall;
  if (!o) return null;
  return {
    precision: o.precision!,
    recall: o.recall!,
    f1: o.f1!,
    pixelIoU: o.pixelIoU!,
    decoyRate: o.decoyRate!,
    seeds: m!.heldOut!.seeds ?? [],
  };
}

export async function listVersions(detectorsDir: string, id: string): Promise<VersionInfo[]> {
  const { manifest, dir } = await readManifest(detectorsDir, id);
  const vdir = join(dir, 'versions');
  const names = (await readdir(vdir, { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && /^\d+\.\d+\.\d+$/.test(e.name))
    .map((e) => e.name);
  if (!names.includes(manifest.version)) names.push(manifest.version);
  const out: VersionInfo[] = [];
  for (const v of names.sort(compareVersions)) {
    const base =
      v === manifest.version && !(await exists(join(vdir, v, 'manifest.json'))) ? dir : join(vdir, v);
    const m = await readJson<DetectorManifest>(join(base, 'manifest.json'));
    if (!m) continue;
    const info = await readJson<{ createdAt?: string; note?: string }>(join(base, 'version.json'));
    out.push({
      version: v,
      current: v === manifest.version,
      createdAt: info?.createdAt ?? null,
      note: info?.note ?? null,
      threshold: m.threshold,
      fallbackThreshold: m.inputs?.fallbackModel?.threshold ?? null,
      minAreaM2: m.minAreaM2,
      sha256: m.model.sha256,
      metrics: summarize(await readJson(join(base, 'metrics.json'))),
    });
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** Load one version of a detector (the current one when `version` is omitted). */
export async function loadVersion(
  detectorsDir: string,
  id: string,
  version?: string,
  threads = 1,
): Promise<LoadedDetector> {
  const { manifest, dir } = await readManifest(detectorsDir, id);
  if (!version || version === manifest.version) {
    const snap = join(dir, 'versions', manifest.version);
    return loadDetectorFrom((await exists(join(snap, 'manifest.json'))) ? snap : dir, manifest, threads);
  }
  const vdir = join(dir, 'versions', version);
  const raw = await readJson<unknown>(join(vdir, 'manifest.json'));
  if (!raw) {
    const known = (await listVersions(detectorsDir, id)).map((v) => v.version);
    throw new SkypatrolError(
      'NOT_FOUND',
      `detector ${id} has no version ${version} (versions: ${known.join(', ')})`,
    );
  }
  const parsed = parseManifest(raw);
  if (!parsed.ok)
    throw new SkypatrolError(
      'DETECTOR_INVALID',
      `detector ${id} ${version}: invalid manifest: ${parsed.problems.join('; ')}`,
    );
  return loadDetectorFrom(vdir, parsed.manifest, threads);
}

/**
 * Write a new current version: model files (bytes by file name), manifest, metrics; and a
 * snapshot of all of it under versions/<version>/.
 */
export async function writeVersion(
  dir: string,
  manifest: DetectorManifest,
  files: Record<string, Uint8Array> | null,
  metrics: unknown,
  note: string,
): Promise<void> {
  const parsed = parseManifest(manifest);
  if (!parsed.ok)
    throw new SkypatrolError('DETECTOR_INVALID', `new manifest is invalid: ${parsed.problems.join('; ')}`);
  const vdir = join(dir, 'versions', manifest.version);
  if (await exists(join(vdir, 'manifest.json')))
    throw new SkypatrolError('CONFLICT', `version ${manifest.version} of ${manifest.id} already exists`);
  // Keep the version being replaced.
  const previous = await readJson<DetectorManifest>(join(dir, 'manifest.json'));
  if (previous && previous.version !== manifest.version) await snapshot(dir, previous);
  await mkdir(vdir, { recursive: true });
  const modelFiles = [
    manifest.model.file,
    ...(manifest.inputs.fallbackModel ? [manifest.inputs.fallbackModel.file] : []),
  ];
  if (files) for (const [name, bytes] of Object.entries(files)) await writeFile(join(dir, name), bytes);
  for (const f of modelFiles) await copyFile(join(dir, f), join(vdir, f));
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFile(join(dir, 'manifest.json'), text);
  await writeFile(join(vdir, 'manifest.json'), text);
  const mtext = `${JSON.stringify(metrics ?? { version: manifest.version, heldOut: null }, null, 2)}\n`;
  await writeFile(join(dir, 'metrics.json'), mtext);
  await writeFile(join(vdir, 'metrics.json'), mtext);
  await writeFile(
    join(vdir, 'version.json'),
    `${JSON.stringify({ version: manifest.version, createdAt: new Date().toISOString(), note }, null, 2)}\n`,
  );
}

/** Copy the current files of a detector into versions/<version>/ unless already there. */
async function snapshot(dir: string, manifest: DetectorManifest): Promise<void> {
  const prevDir = join(dir, 'versions', manifest.version);
  if (await exists(join(prevDir, 'manifest.json'))) return;
  await mkdir(prevDir, { recursive: true });
  for (const f of [
    manifest.model.file,
    ...(manifest.inputs.fallbackModel ? [manifest.inputs.fallbackModel.file] : []),
  ])
    await copyFile(join(dir, f), join(prevDir, f));
  await writeFile(join(prevDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const metrics = await readFile(join(dir, 'metrics.json'), 'utf8').catch(() => null);
  if (metrics) await writeFile(join(prevDir, 'metrics.json'), metrics);
}

/** Save evaluation metrics for the current version (top level and its snapshot). */
export async function saveMetrics(dir: string, version: string, metrics: unknown): Promise<void> {
  const text = `${JSON.stringify(metrics, null, 2)}\n`;
  const current = await readJson<DetectorManifest>(join(dir, 'manifest.json'));
  if (current?.version === version) await writeFile(join(dir, 'metrics.json'), text);
  const vdir = join(dir, 'versions', version);
  if (await exists(vdir)) await writeFile(join(vdir, 'metrics.json'), text);
}

/**
 * `detectors tune`: new patch version with a new threshold, fallback-model threshold and/or
 * minimum mapping unit.
 */
export async function tuneDetector(
  detectorsDir: string,
  id: string,
  change: { threshold?: number; fallbackThreshold?: number; minAreaM2?: number; note?: string },
): Promise<DetectorManifest> {
  const { manifest, dir } = await readManifest(detectorsDir, id);
  if (
    change.threshold === undefined &&
    change.fallbackThreshold === undefined &&
    change.minAreaM2 === undefined
  )
    throw new SkypatrolError('VALIDATION', 'tune needs --threshold, --fallback-threshold and/or --min-area');
  if (change.threshold !== undefined && !(change.threshold > 0 && change.threshold < 1))
    throw new SkypatrolError(
      'VALIDATION',
      `threshold must be between 0 and 1 (exclusive), got ${change.threshold}`,
    );
  if (change.fallbackThreshold !== undefined) {
    if (!(change.fallbackThreshold > 0 && change.fallbackThreshold < 1))
      throw new SkypatrolError(
        'VALIDATION',
        `fallback threshold must be between 0 and 1 (exclusive), got ${change.fallbackThreshold}`,
      );
    if (!manifest.inputs.fallbackModel)
      throw new SkypatrolError(
        'VALIDATION',
        `detector ${id} declares no fallback model (inputs.fallbackModel): nothing to give a fallback threshold`,
      );
  }
  if (change.minAreaM2 !== undefined && !(change.minAreaM2 >= 0 && Number.isFinite(change.minAreaM2)))
    throw new SkypatrolError('VALIDATION', `min-area must be ≥ 0 m², got ${change.minAreaM2}`);
  await snapshot(dir, manifest);
  const existing = (await listVersions(detectorsDir, id)).map((v) => v.version).sort(compareVersions);
  let version = bumpVersion(manifest.version, 'patch');
  while (existing.includes(version)) version = bumpVersion(version, 'patch');
  const next: DetectorManifest = {
    ...manifest,
    version,
    ...(change.threshold !== undefined ? { threshold: change.threshold } : {}),
    ...(change.minAreaM2 !== undefined ? { minAreaM2: change.minAreaM2 } : {}),
  };
  if (change.fallbackThreshold !== undefined && manifest.inputs.fallbackModel)
    next.inputs = {
      ...manifest.inputs,
      fallbackModel: { ...manifest.inputs.fallbackModel, threshold: change.fallbackThreshold },
    };
  const note =
    change.note ??
    `tuned from ${manifest.version}: ${[
      change.threshold !== undefined ? `threshold ${manifest.threshold} → ${change.threshold}` : '',
      change.fallbackThreshold !== undefined
        ? `fallback-model threshold ${manifest.inputs.fallbackModel?.threshold ?? `${manifest.threshold} (main)`} → ${change.fallbackThreshold}`
        : '',
      change.minAreaM2 !== undefined ? `minAreaM2 ${manifest.minAreaM2} → ${change.minAreaM2}` : '',
    ]
      .filter(Boolean)
      .join(', ')}`;
  // Same model files: what they were trained on (and how they were calibrated) still holds.
  const previous = await readJson<Record<string, unknown>>(join(dir, 'metrics.json'));
  const kept = Object.fromEntries(
    Object.entries(previous ?? {}).filter(([k]) => k === 'trainedOn' || k === 'calibration'),
  );
  await writeVersion(
    dir,
    next,
    null,
    {
      version,
      ...kept,
      tunedFrom: manifest.version,
      heldOut: null,
      note: `not evaluated yet: run \`skypatrol eval --detector ${id} --save\``,
    },
    note,
  );
  return next;
}
