import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulate } from '../../services/simulator/simulate.ts';
import { runCli } from '../support/cli.ts';

/** `skypatrol eval` end to end on a freshly simulated region (seed never used for training). */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skypatrol-eval-'));
  await simulate({ out: join(dir, 'regions', 'seed201'), seed: 201, size: 'small' });
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('skypatrol eval', () => {
  it('prints object P/R/F1, pixel IoU, decoy rate and a PR curve as JSON, and writes the report', async () => {
    const out = join(dir, 'report');
    const r = await runCli([
      'eval',
      '--detector',
      'mine,grassland',
      '--truth',
      join(dir, 'regions'),
      '--conditions',
      's2,gf-s2',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      regions: { seed: number }[];
      detectors: {
        detector: string;
        overall: {
          precision: number;
          recall: number;
          f1: number;
          pixelIoU: number;
          decoyRate: number;
          tp: number;
          fn: number;
        };
        named: { tp: number; fn: number; recall: number };
        conditions: Record<string, unknown>;
        pr: { threshold: number; precision: number; recall: number }[];
      }[];
      decoys: { total: number };
    };
    expect(report.regions.map((x) => x.seed)).toEqual([201]);
    expect(report.detectors.map((d) => d.detector)).toEqual(['mine', 'grassland']);
    for (const d of report.detectors) {
      for (const v of [
        d.overall.precision,
        d.overall.recall,
        d.overall.f1,
        d.overall.pixelIoU,
        d.overall.decoyRate,
      ]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(d.overall.tp + d.overall.fn).toBeGreaterThan(0); // planted truth was scored
      // Multi-label: every change under the scenario is scored, its own and those that also fall under it.
      expect(d.named.tp + d.named.fn).toBeGreaterThanOrEqual(d.overall.tp + d.overall.fn);
      expect(d.named.recall).toBeGreaterThanOrEqual(0);
      expect(Object.keys(d.conditions).sort()).toEqual(['gf-s2', 's2']);
      expect(d.pr.length).toBeGreaterThan(3);
    }
    expect(report.decoys.total).toBeGreaterThan(0);
    const png = await readFile(join(out, 'pr-curve.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/\| mine \| 1\.\d\.\d \|/);
    expect(md).toContain('## Multi-label');
    // A new pit dug in grassland is grassland damage too (truth also_scenarios): grassland's
    // multi-label targets include mine sites.
    const g = report.detectors.find((d) => d.detector === 'grassland')!;
    expect(g.named.tp + g.named.fn).toBeGreaterThan(g.overall.tp + g.overall.fn);
  }, 180_000);

  it('rejects an unknown detector, an unknown condition and a folder without regions, writing nothing', async () => {
    const unknown = await runCli([
      'eval',
      '--detector',
      'nope',
      '--truth',
      join(dir, 'regions'),
      '--out',
      join(dir, 'x'),
    ]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown detector "nope"/);
    const cond = await runCli([
      'eval',
      '--detector',
      'mine',
      '--truth',
      join(dir, 'regions'),
      '--conditions',
      'fog',
      '--out',
      join(dir, 'x'),
    ]);
    expect(cond.code).not.toBe(0);
    expect(cond.stderr).toMatch(/unknown condition "fog"/);
    const empty = await runCli([
      'eval',
      '--detector',
      'mine',
      '--truth',
      join(dir, 'report-none'),
      '--out',
      join(dir, 'x'),
    ]);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toMatch(/holds no simulated region/);
    await expect(readFile(join(dir, 'x', 'report.md'))).rejects.toThrow();
  }, 60_000);
});
