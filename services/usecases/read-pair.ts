import {
  type BandStack,
  openSceneFolder,
  readSceneBands,
  type SceneFolder,
} from '../adapters/raster/scene-folder.ts';
import { SkypatrolError } from '../core/errors.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import { gridBounds } from '../domain/geo/grid.ts';
import type { CanonicalBand } from '../domain/imagery/bands.ts';
import { matchMeanStd } from '../domain/imagery/radiometry.ts';

/** A before/after pair on one grid, ready for a detector. */
export interface AlignedPair {
  before: { scene: SceneFolder; stack: BandStack };
  after: { scene: SceneFolder; stack: BandStack };
  /** 1 where both dates observed every band. */
  valid: Uint8Array;
}

/**
 * Read the bands a detector needs from two scene folders onto the before scene's finest
 * grid, and (if the manifest asks) match the after scene's radiometry to the before scene.
 */
export async function readAlignedPair(
  beforeDir: string,
  afterDir: string,
  manifest: DetectorManifest,
): Promise<AlignedPair> {
  const [beforeScene, afterScene] = await Promise.all([
    openSceneFolder(beforeDir),
    openSceneFolder(afterDir),
  ]);
  const bands = manifest.inputs.bands as CanonicalBand[];
  const optional = bands.filter((b) => !manifest.inputs.required.includes(b));
  // Check both folders for missing bands before decoding anything.
  for (const scene of [beforeScene, afterScene]) {
    const missing = manifest.inputs.required.filter((b) => !scene.files.has(b));
    if (missing.length) await readSceneBands(scene, missing, {}); // throws SCENE_MISSING_BAND naming them
  }
  const before = await readSceneBands(beforeScene, bands, { optional });
  const after = await readSceneBands(afterScene, bands, { optional, target: before.grid });

  const valid = new Uint8Array(before.valid.length);
  let observed = 0;
  for (let i = 0; i < valid.length; i++) {
    valid[i] = before.valid[i]! & after.valid[i]!;
    observed += valid[i]!;
  }
  if (observed === 0) {
    const [w, s, e, n] = gridBounds(before.grid);
    throw new SkypatrolError(
      'SCENE_NO_OVERLAP',
      `scenes ${beforeScene.id} and ${afterScene.id} share no observed pixel within [${w}, ${s}, ${e}, ${n}]`,
    );
  }
  if (manifest.inputs.radiometricMatch === 'mean-std') {
    for (const b of bands) {
      const ref = before.bands.get(b);
      const tgt = after.bands.get(b);
      if (ref && tgt) after.bands.set(b, matchMeanStd(ref, tgt));
    }
  }
  return { before: { scene: beforeScene, stack: before }, after: { scene: afterScene, stack: after }, valid };
}
