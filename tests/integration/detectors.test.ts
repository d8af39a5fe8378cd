import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  listDetectorIds,
  loadDetector,
  readManifest,
} from '../../services/adapters/files/detector-registry.ts';
import { mulberry32 } from '../../services/domain/detectors/logistic.ts';
import { ROOT } from '../support/cli.ts';

/** One conformance test over every detector folder: manifest, model hash, runtime contract. */
const DETECTORS = join(ROOT, 'detectors');
const ids = await listDetectorIds(DETECTORS);

describe('detector conformance', () => {
  it('finds the detectors', () => {
    expect(ids).toContain('change');
  });

  for (const id of ids) {
    describe(id, () => {
      it('has a valid manifest whose model hash matches the file', async () => {
        const { manifest, dir } = await readManifest(DETECTORS, id);
        const sha = createHash('sha256')
          .update(readFileSync(join(dir, manifest.model.file)))
          .digest('hex');
        expect(sha).toBe(manifest.model.sha256);
        expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/precision/i);
      });

      it('loads in onnxruntime with the inputs and output the manifest declares', async () => {
        const d = await loadDetector(DETECTORS, id, 1);
        try {
          expect([...d.runner.inputNames].sort()).toEqual(
            d.manifest.inputs.tensors.map((t) => t.name).sort(),
          );
          expect(d.runner.outputNames).toContain(d.manifest.output.name);
        } finally {
          await d.runner.release();
        }
      });

      it('outputs probabilities, high on a planted change and low on unchanged ground', async () => {
        const d = await loadDetector(DETECTORS, id, 1);
        try {
          const C = d.manifest.inputs.bands.length;
          const H = 64;
          const W = 64;
          const rand = mulberry32(7);
          // Vegetated ground (low red, high NIR) with mild noise; the after date has a 16×16 bare/built patch.
          const veg = [0.03, 0.06, 0.04, 0.35, 0.18, 0.09];
          const bare = [0.14, 0.17, 0.2, 0.24, 0.3, 0.26];
          const before = new Float32Array(C * H * W);
          const after = new Float32Array(C * H * W);
          for (let c = 0; c < C; c++) {
            for (let y = 0; y < H; y++) {
              for (let x = 0; x < W; x++) {
                const i = c * H * W + y * W + x;
                const noise = () => (rand() - 0.5) * 0.01;
                before[i] = (veg[c] ?? 0.1) + noise();
                const planted = x >= 24 && x < 40 && y >= 24 && y < 40;
                after[i] = (planted ? (bare[c] ?? 0.2) : (veg[c] ?? 0.1)) + noise();
              }
            }
          }
          const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
          for (const t of d.manifest.inputs.tensors)
            feeds[t.name] = { data: t.date === 'before' ? before : after, dims: [1, C, H, W] };
          const out = (await d.runner.run(feeds))[d.manifest.output.name]!;
          expect(out.dims).toEqual([1, 1, H, W]);
          for (const v of out.data) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
          expect(out.data[32 * W + 32]).toBeGreaterThan(d.manifest.threshold);
          expect(out.data[4 * W + 4]).toBeLessThan(d.manifest.threshold);
        } finally {
          await d.runner.release();
        }
      });
    });
  }
});
