import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../services/domain/detectors/manifest.ts';

const MANIFEST_PATH = new URL('../../detectors/change/manifest.json', import.meta.url);

/** A fresh, mutable copy of the shipped change-detector manifest for each test. */
function shipped(): Record<string, unknown> & {
  id: unknown;
  model: Record<string, unknown>;
  inputs: Record<string, unknown> & {
    bands: string[];
    required: string[];
    fallback?: Record<string, number>;
  };
} {
  return JSON.parse(readFileSync(MANIFEST_PATH, 'utf8'));
}

function problems(raw: unknown): string[] {
  const r = parseManifest(raw);
  if (r.ok) throw new Error('expected the manifest to be rejected');
  return r.problems;
}

describe('parseManifest', () => {
  it('accepts detectors/change/manifest.json as shipped', () => {
    const r = parseManifest(shipped());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.manifest.id).toBe('change');
    expect(r.manifest.inputs.required).toEqual(['blue', 'green', 'red', 'nir']);
  });

  it('fills in defaults for fallback and radiometricMatch', () => {
    const raw = shipped();
    raw.inputs.bands = ['blue', 'green', 'red', 'nir'];
    delete raw.inputs.fallback;
    delete raw.inputs.radiometricMatch;
    const r = parseManifest(raw);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.manifest.inputs.fallback).toEqual({});
    expect(r.manifest.inputs.radiometricMatch).toBe('none');
  });

  it('rejects an id that is not lower-case kebab-case, naming the id path', () => {
    const raw = shipped();
    raw.id = 'Change_Detector';
    const p = problems(raw);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^id: /);
    expect(p[0]).toContain('kebab-case');
  });

  it('rejects a manifest without model.sha256, naming the path', () => {
    const raw = shipped();
    delete raw.model.sha256;
    expect(problems(raw)).toEqual([expect.stringMatching(/^model\.sha256: /)]);
  });

  it('rejects a model.sha256 that is not 64 hex digits', () => {
    const raw = shipped();
    raw.model.sha256 = 'ABC123';
    expect(problems(raw)).toEqual(['model.sha256: 64 hex digits']);
  });

  it('rejects a required band that is not in inputs.bands, naming the band and path', () => {
    const raw = shipped();
    raw.inputs.required = [...raw.inputs.required, 'rededge1'];
    expect(problems(raw)).toEqual(['inputs.required: rededge1 is not in inputs.bands']);
  });

  it('rejects an optional band without a fallback value, naming the band and path', () => {
    const raw = shipped();
    raw.inputs.fallback = { swir16: 0.2 };
    expect(problems(raw)).toEqual(['inputs.fallback: optional band swir22 needs a fallback value']);
  });

  it('rejects a band that is not canonical, naming its index in the path', () => {
    const raw = shipped();
    raw.inputs.bands = ['blue', 'green', 'red', 'B08'];
    expect(problems(raw)).toEqual([expect.stringMatching(/^inputs\.bands\.3: /)]);
  });

  it('reports every problem, not just the first', () => {
    const raw = shipped();
    raw.id = '9lives';
    raw.threshold = 1.5;
    const p = problems(raw);
    expect(p.some((s) => s.startsWith('id: '))).toBe(true);
    expect(p.some((s) => s.startsWith('threshold: '))).toBe(true);
  });

  it('reports a non-object under (root)', () => {
    expect(problems(null)).toEqual([expect.stringMatching(/^\(root\): /)]);
  });
});
