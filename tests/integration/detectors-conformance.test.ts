import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  listDetectorIds,
  loadDetector,
  readManifest,
  releaseDetector,
} from '../../services/adapters/files/detector-registry.ts';
import { parseManifest } from '../../services/domain/detectors/manifest.ts';
import { SCENARIO_SPECS } from '../../services/domain/detectors/scenarios.ts';
import type { CanonicalBand } from '../../services/domain/imagery/bands.ts';
import { fromB64, readGolden, runGolden } from '../../services/usecases/detector-golden.ts';
import { ROOT } from '../support/cli.ts';

/**
 * One conformance test over every detector folder: the manifest validates, the model files
 * match their SHA-256, onnxruntime loads them with the declared inputs and output, the golden
 * tile runs through the runtime path and reproduces the expected probabilities, and the README
 * states measured accuracy.
 */
const DETECTORS = join(ROOT, 'detectors');
const ids = await listDetectorIds(DETECTORS);

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('detector conformance', () => {
  it('finds the nine detectors', () => {
    for (const id of ['change', ...SCENARIO_SPECS.map((s) => s.id)]) expect(ids).toContain(id);
  });

  it('rejects broken manifests with the path of each problem', () => {
    const { manifest } = {
      manifest: JSON.parse(readFileSync(join(DETECTORS, 'mine', 'manifest.json'), 'utf8')),
    };
    const bad = parseManifest({ ...manifest, threshold: 2, zoning: { layer: 'nope', rule: 'inside' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems.some((p) => p.startsWith('threshold:'))).toBe(true);
      expect(bad.problems.some((p) => p.startsWith('zoning.layer:'))).toBe(true);
    }
  });

  for (const id of ids) {
    describe(id, () => {
      it('has a valid manifest whose model hashes match the files, and a README with measured accuracy', async () => {
        const { manifest, dir } = await readManifest(DETECTORS, id);
        expect(sha(join(dir, manifest.model.file))).toBe(manifest.model.sha256);
        const fm = manifest.inputs.fallbackModel;
        if (fm) expect(sha(join(dir, fm.file))).toBe(fm.sha256);
        const readme = readFileSync(join(dir, 'README.md'), 'utf8');
        expect(readme).toMatch(/precision/i);
        expect(readme).toMatch(/\d\.\d{2}/);
      });

      it('loads in onnxruntime and reproduces its golden tile', async () => {
        const d = await loadDetector(DETECTORS, id, 1);
        try {
          expect([...d.runner.inputNames].sort()).toEqual(
            d.manifest.inputs.tensors.map((t) => t.name).sort(),
          );
          expect(d.runner.outputNames).toContain(d.manifest.output.name);
          const g = await readGolden(d.dir);
          const out = await runGolden(d, g);
          const expected = fromB64(g.expected);
          expect(out.length).toBe(expected.length);
          let maxDiff = 0;
          for (let i = 0; i < out.length; i++) {
            expect(out[i]).toBeGreaterThanOrEqual(0);
            expect(out[i]).toBeLessThanOrEqual(1);
            maxDiff = Math.max(maxDiff, Math.abs(out[i]! - expected[i]!));
          }
          expect(maxDiff).toBeLessThanOrEqual(g.tolerance);
          // The golden tile is not trivial: some pixels above the threshold, some below.
          expect(expected.some((v) => v >= d.manifest.threshold)).toBe(true);
          expect(expected.some((v) => v < d.manifest.threshold)).toBe(true);
          if (g.expectedFallback && d.fallbackRunner) {
            const fb = await runGolden(d, g, d.fallbackRunner, g.fallbackBands as CanonicalBand[]);
            const ef = fromB64(g.expectedFallback);
            let m = 0;
            for (let i = 0; i < fb.length; i++) m = Math.max(m, Math.abs(fb[i]! - ef[i]!));
            expect(m).toBeLessThanOrEqual(g.tolerance);
          }
        } finally {
          await releaseDetector(d);
        }
      });
    });
  }
});
