import { z } from 'zod';
import { CANONICAL_BANDS } from '../imagery/bands.ts';

/**
 * A detector's manifest (`detectors/<id>/manifest.json`): what the model needs, what it
 * outputs, and how its output becomes clues. Validated on load.
 */
const Band = z.enum(CANONICAL_BANDS);

export const ManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case kebab-case id'),
    name: z.object({ zh: z.string().min(1), en: z.string().min(1) }),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version x.y.z'),
    model: z.object({
      file: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits'),
    }),
    inputs: z.object({
      /** Input tensor names and the dates they take. */
      tensors: z.array(z.object({ name: z.string().min(1), date: z.enum(['before', 'after']) })).min(1),
      bands: z.array(Band).min(1),
      required: z.array(Band).min(1),
      /** Value used for an optional band a sensor lacks (e.g. SWIR on GF), in reflectance. */
      fallback: z.record(z.string(), z.number()).default({}),
      units: z.literal('reflectance'),
      radiometricMatch: z.enum(['none', 'mean-std']).default('none'),
    }),
    tile: z.object({ size: z.number().int().min(64).max(4096), overlap: z.number().int().min(0).max(256) }),
    output: z.object({ name: z.string().min(1), meaning: z.string().min(1) }),
    threshold: z.number().gt(0).lt(1),
    minAreaM2: z.number().min(0),
    zoning: z.object({
      layer: z.string().nullable(),
      rule: z.enum(['none', 'inside', 'outside', 'after_reclaim_by', 'outside_permit']),
    }),
    legalBasis: z.array(z.string()),
    priorityWeight: z.number().min(0).max(10),
  })
  .superRefine((m, ctx) => {
    for (const b of m.inputs.required) {
      if (!m.inputs.bands.includes(b))
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', 'required'],
          message: `${b} is not in inputs.bands`,
        });
    }
    for (const b of m.inputs.bands) {
      if (!m.inputs.required.includes(b) && m.inputs.fallback[b] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['inputs', 'fallback'],
          message: `optional band ${b} needs a fallback value`,
        });
      }
    }
  });

export type DetectorManifest = z.infer<typeof ManifestSchema>;

/** Parse a manifest; returns a readable list of problems instead of throwing. */
export function parseManifest(
  raw: unknown,
): { ok: true; manifest: DetectorManifest } | { ok: false; problems: string[] } {
  const r = ManifestSchema.safeParse(raw);
  if (r.success) return { ok: true, manifest: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
}
