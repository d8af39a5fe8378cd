import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LoadedDetector } from '../../services/adapters/files/detector-registry.ts';
import type { ModelRunner } from '../../services/adapters/onnx/session.ts';
import {
  type DetectorManifest,
  parseManifest,
  thresholdFor,
} from '../../services/domain/detectors/manifest.ts';
import { tileForLonLat } from '../../services/domain/geo/analysis-grid.ts';
import { cluesFromProbability, detectTile } from '../../services/usecases/detect-tile.ts';
import type { TileComposite } from '../../services/usecases/read-tile.ts';

/**
 * The no-SWIR fallback model's own threshold (`inputs.fallbackModel.threshold`): validated in
 * the manifest, and used by the patrol runtime whenever the fallback model ran on a pair.
 */
const shipped = () =>
  JSON.parse(readFileSync(new URL('../../detectors/grassland/manifest.json', import.meta.url), 'utf8')) as {
    threshold: number;
    inputs: { fallbackModel: Record<string, unknown> };
  } & Record<string, unknown>;

describe('inputs.fallbackModel.threshold', () => {
  it('is optional: without it the fallback model uses the manifest threshold', () => {
    const raw = shipped();
    delete raw.inputs.fallbackModel.threshold;
    const r = parseManifest(raw);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(thresholdFor(r.manifest, true)).toBe(r.manifest.threshold);
    expect(thresholdFor(r.manifest, false)).toBe(r.manifest.threshold);
  });

  it('is accepted between 0 and 1 and used only when the fallback model ran', () => {
    const raw = shipped();
    raw.threshold = 0.95;
    raw.inputs.fallbackModel.threshold = 0.7;
    const r = parseManifest(raw);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(thresholdFor(r.manifest, true)).toBe(0.7);
    expect(thresholdFor(r.manifest, false)).toBe(0.95);
  });

  it.each([0, 1, 1.5, -0.1, '0.5'])('rejects %s, naming the path', (v) => {
    const raw = shipped();
    raw.inputs.fallbackModel.threshold = v;
    const r = parseManifest(raw);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^inputs\.fallbackModel\.threshold: /);
  });
});

// A 64×64 tile; fake models output the after date's blue channel as the probability, so a
// square of 0.85 on a background of 0.1 is a clue at threshold 0.8 but not at 0.95.
const SIZE = 64;
const tile = (() => {
  const t = tileForLonLat(117.6, 48.9);
  return { ...t, grid: { ...t.grid, width: SIZE, height: SIZE } };
})();

function fakeRunner(): ModelRunner & { calls: number } {
  const r = {
    inputNames: ['before', 'after'],
    outputNames: ['probability'],
    bytes: new Uint8Array(),
    threads: 1,
    calls: 0,
    async run(feeds: Record<string, { data: Float32Array; dims: number[] }>) {
      r.calls++;
      const a = feeds.after!;
      const [, , h, w] = a.dims as [number, number, number, number];
      return { probability: { data: a.data.slice(0, h * w), dims: [1, 1, h, w] } };
    },
    async release() {},
  };
  return r;
}

function composite(withSwir: boolean, after: boolean): TileComposite {
  const n = SIZE * SIZE;
  const fill = (v: number) => new Float32Array(n).fill(v);
  const blue = fill(0.1);
  if (after) for (let y = 20; y < 40; y++) for (let x = 20; x < 40; x++) blue[y * SIZE + x] = 0.85;
  const bands: Record<string, Float32Array> = { blue, green: fill(0.1), red: fill(0.1), nir: fill(0.3) };
  if (withSwir) Object.assign(bands, { swir16: fill(0.2), swir22: fill(0.15) });
  return {
    bands,
    valid: new Uint8Array(n).fill(1),
    count: new Uint16Array(n).fill(1),
    date: new Int32Array(n).fill(after ? 20_000 : 19_600),
    scenes: [after ? 'after' : 'before'],
    failed: [],
  };
}

function detector(fallbackThreshold?: number): LoadedDetector & {
  runner: ReturnType<typeof fakeRunner>;
  fallbackRunner: ReturnType<typeof fakeRunner>;
} {
  const raw = shipped();
  raw.threshold = 0.95;
  raw.zoning = { layer: null, rule: 'none' };
  raw.tile = { size: 64, overlap: 8 };
  if (fallbackThreshold === undefined) delete raw.inputs.fallbackModel.threshold;
  else raw.inputs.fallbackModel.threshold = fallbackThreshold;
  const r = parseManifest(raw);
  if (!r.ok) throw new Error(r.problems.join('; '));
  return {
    manifest: r.manifest as DetectorManifest,
    dir: '.',
    modelPath: 'model.onnx',
    runner: fakeRunner(),
    fallbackRunner: fakeRunner(),
  };
}

const WINDOWS = {
  before: { from: '2023-06-01', to: '2023-08-31' },
  after: { from: '2024-06-01', to: '2024-08-31' },
};

async function detect(d: LoadedDetector, withSwir: boolean) {
  return detectTile({
    tile,
    before: composite(withSwir, false),
    after: composite(withSwir, true),
    detectors: [d],
    zones: { features: [] },
    windows: WINDOWS,
    fuse: false,
  });
}

describe('detectTile threshold choice', () => {
  it('a tile without SWIR runs the fallback model at the fallback threshold', async () => {
    const d = detector(0.8);
    const { features } = await detect(d, false);
    expect(d.fallbackRunner.calls).toBeGreaterThan(0);
    expect(d.runner.calls).toBe(0);
    expect(features).toHaveLength(1); // 0.85 ≥ 0.8
    expect(features[0]!.properties.area_m2).toBeGreaterThan(20 * 20 * 100 * 0.8);
  });

  it('a tile with SWIR runs the full model at the main threshold', async () => {
    const d = detector(0.8);
    const { features } = await detect(d, true);
    expect(d.runner.calls).toBeGreaterThan(0);
    expect(d.fallbackRunner.calls).toBe(0);
    expect(features).toHaveLength(0); // 0.85 < 0.95
  });

  it('without a declared fallback threshold the fallback model uses the main one', async () => {
    const { features } = await detect(detector(), false);
    expect(features).toHaveLength(0);
  });

  it('cluesFromProbability: an explicit threshold still wins; fallback without a fallback runner keeps the main one', () => {
    const d = detector(0.8);
    const after = composite(false, true);
    const args = {
      detector: d,
      probability: after.bands.blue!,
      valid: after.valid,
      tile,
      zones: { features: [] },
      windows: WINDOWS,
      seen: { beforeDate: '2023-08-31', afterDate: '2024-08-31', beforeScene: 'b', afterScene: 'a' },
      lonLat: (x: number, y: number): [number, number] => [117.6 + x * 1e-4, 48.9 - y * 1e-4],
    };
    expect(cluesFromProbability({ ...args, fallback: true }).features).toHaveLength(1);
    expect(cluesFromProbability({ ...args, fallback: false }).features).toHaveLength(0);
    expect(cluesFromProbability({ ...args, fallback: true, threshold: 0.9 }).features).toHaveLength(0);
    const { fallbackRunner: _, ...noRunner } = d;
    expect(cluesFromProbability({ ...args, detector: noRunner, fallback: true }).features).toHaveLength(0);
  });
});
