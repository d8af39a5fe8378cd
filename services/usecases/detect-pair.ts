import type { LoadedDetector } from '../adapters/files/detector-registry.ts';
import { SkypatrolError } from '../core/errors.ts';
import type { DetectorManifest } from '../domain/detectors/manifest.ts';
import { type ChangePolygon, detectionValid, polygonize } from '../domain/detectors/polygonize.ts';
import type { ZoneRef } from '../domain/detectors/rules.ts';
import { areaUnits } from '../domain/geo/area.ts';
import { toLonLatFn } from '../domain/geo/crs.ts';
import { pixelToMap } from '../domain/geo/grid.ts';
import { type AlignedPair, readAlignedPair } from './read-pair.ts';
import { runTiled } from './run-model.ts';

export interface ClueFeature {
  type: 'Feature';
  geometry: { type: 'MultiPolygon'; coordinates: number[][][][] };
  properties: {
    scenario: string;
    status: 'new';
    detector: string;
    model_version: string;
    model_sha256: string;
    confidence: number;
    area_m2: number;
    area_ha: number;
    area_mu: number;
    first_seen: string;
    last_seen: string;
    before_date: string;
    after_date: string;
    before_scene: string;
    after_scene: string;
    /** 0–3, from the manifest's priority weight × confidence × area (detectTile). */
    priority?: number;
    /** Zoning features of the scenario's layer the detection overlaps (detectTile). */
    zones?: ZoneRef[];
    /** Other scenarios whose clues covered the same site and were folded into this one (detectTile). */
    also_scenarios?: string[];
  };
}

export interface DetectionResult {
  features: ClueFeature[];
  pair: AlignedPair;
  probability: Float32Array;
  stats: { width: number; height: number; validPixels: number; changedPixels: number; elapsedMs: number };
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** A clue's area in m², ha and mu, rounded as stored. */
export function roundArea(m2: number): { area_m2: number; area_ha: number; area_mu: number } {
  const a = areaUnits(m2);
  return { area_m2: round(a.m2, 1), area_ha: round(a.ha, 4), area_mu: round(a.mu, 2) };
}

/** A detected polygon as a clue GeoJSON Feature (the properties of the contracts). */
export function toClueFeature(
  p: ChangePolygon,
  manifest: DetectorManifest,
  seen: { beforeDate: string; afterDate: string; beforeScene: string; afterScene: string },
): ClueFeature {
  return {
    type: 'Feature',
    geometry: { type: 'MultiPolygon', coordinates: p.coordinates },
    properties: {
      scenario: manifest.id,
      status: 'new',
      detector: manifest.id,
      model_version: manifest.version,
      model_sha256: manifest.model.sha256,
      confidence: round(p.confidence, 4),
      ...roundArea(p.areaM2),
      first_seen: seen.afterDate,
      last_seen: seen.afterDate,
      before_date: seen.beforeDate,
      after_date: seen.afterDate,
      before_scene: seen.beforeScene,
      after_scene: seen.afterScene,
    },
  };
}

/**
 * The first real slice: two scenes → aligned bands → ONNX change model → threshold →
 * polygons (EPSG:4326) with ellipsoidal areas and confidence.
 */
export async function detectPair(options: {
  before: string;
  after: string;
  detector: LoadedDetector;
  threshold?: number;
  minAreaM2?: number;
}): Promise<DetectionResult> {
  const started = performance.now();
  const { manifest, runner } = options.detector;
  const pair = await readAlignedPair(options.before, options.after, manifest);
  const grid = pair.before.stack.grid;
  const toLonLat = toLonLatFn(grid.epsg);
  if (!toLonLat)
    throw new SkypatrolError('SCENE_CRS_UNSUPPORTED', `EPSG:${grid.epsg} is not a supported CRS`);

  const probability = await runTiled(runner, manifest, pair);
  const threshold = options.threshold ?? manifest.threshold;
  const polygons = polygonize({
    width: grid.width,
    height: grid.height,
    probability,
    // Away from mask edges, as in patrols (detectTile) and `eval`.
    valid: detectionValid(pair.valid, grid.width, grid.height),
    threshold,
    minAreaM2: options.minAreaM2 ?? manifest.minAreaM2,
    toLonLat: (x, y) => {
      const [mx, my] = pixelToMap(grid, x, y);
      return toLonLat(mx, my);
    },
  });

  const beforeDate = day(pair.before.scene.datetime);
  const afterDate = day(pair.after.scene.datetime);
  const features = polygons.map((p) =>
    toClueFeature(p, manifest, {
      beforeDate,
      afterDate,
      beforeScene: pair.before.scene.id,
      afterScene: pair.after.scene.id,
    }),
  );
  let validPixels = 0;
  let changedPixels = 0;
  for (let i = 0; i < probability.length; i++) {
    if (!pair.valid[i]) continue;
    validPixels++;
    if (probability[i]! >= threshold) changedPixels++;
  }
  return {
    features,
    pair,
    probability,
    stats: {
      width: grid.width,
      height: grid.height,
      validPixels,
      changedPixels,
      elapsedMs: performance.now() - started,
    },
  };
}
