import { z } from 'zod';
import { CANONICAL_BANDS } from '../imagery/bands.ts';
import { ZONE_KINDS, type ZoneKind } from '../zoning/layers.ts';

/**
 * A detector's manifest (`detectors/<id>/manifest.json`): what the model needs, what it
 * outputs, and how its output becomes clues. Validated on load; every problem is reported
 * with its JSON path (`zoning.rule: …`).
 */
const Band = z.enum(CANONICAL_BANDS);

/** Zoning layers (the `zones.kind` values of the data contracts): one list, in zoning/layers. */
export const ZONE_LAYERS = ZONE_KINDS;
export type ZoneLayer = ZoneKind;

/**
 * Zoning rules, applied to each detected polygon (see `rules.ts`):
 * - `none`: every detection is a clue;
 * - `inside`: only the part inside the layer is a clue (forest land, river management area, …);
 * - `outside`: only the part outside every feature of the layer (e.g. a new pit outside any
 *   mining permit);
 * - `after-deadline`: the part inside a feature whose `deadlineField` date has not passed at
 *   the start of the after window is lawful; the part inside an expired feature, or outside
 *   every feature, is a clue (temporary land after `reclaim_by`; mining after `valid_to`).
 * Legacy spellings `after_reclaim_by` and `outside_permit` are read as `after-deadline` and
 * `outside`.
 */
export const ZONING_RULES = ['none', 'inside', 'outside', 'after-deadline'] as const;
export type ZoningRule = (typeof ZONING_RULES)[number];

const LEGACY_RULES: Record<string, ZoningRule> = {
  after_reclaim_by: 'after-deadline',
  outside_permit: 'outside',
};

const ModelFile = z.object({
  file: z
    .string()
    .min(1)
    .regex(/^[^/\\]+(\/[^/\\]+)*$/, 'a relative path inside the detector folder')
    .refine((f) => !f.split('/').includes('..'), 'must not leave the detector folder'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits'),
});

export const ManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case kebab-case id'),
    name: z.object({ zh: z.string().min(1), en: z.string().min(1) }),
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'semantic version x.y.z'),
    description: z.string().optional(),
    model: ModelFile.extend({
      /** Free-text architecture, e.g. "feature graph + logistic" or "conv net". */
      architecture: z.string().optional(),
    }),
    inputs: z.object({
      /** Input tensor names and the dates they take. */
      tensors: z.array(z.object({ name: z.string().min(1), date: z.enum(['before', 'after']) })).min(1),
      /** Channel order of every input tensor, [1, bands.length, H, W]. */
      bands: z.array(Band).min(1),
      required: z.array(Band).min(1),
      /** Value used for an optional band a sensor lacks (e.g. SWIR on GF), in reflectance. */
      fallback: z.record(z.string(), z.number()).default({}),
      /**
       * Declared fallback model for pairs in which a date lacks an optional band (GF-1/GF-6 WFV
       * have no SWIR): same tensors and output, channels `bands` only (a subset of `required`
       * ∪ the bands the fallback model needs).
       */
      fallbackModel: ModelFile.extend({
        bands: z.array(Band).min(1),
        /**
         * Probability threshold of the fallback model (its outputs are calibrated apart from the
         * full model's); the manifest `threshold` when omitted.
         */
        threshold: z.number().gt(0).lt(1).optional(),
      }).optional(),
      units: z.literal('reflectance'),
      radiometricMatch: z.enum(['none', 'mean-std']).default('none'),
    }),
    tile: z.object({ size: z.number().int().min(64).max(4096), overlap: z.number().int().min(0).max(256) }),
    output: z.object({ name: z.string().min(1), meaning: z.string().min(1) }),
    threshold: z.number().gt(0).lt(1),
    minAreaM2: z.number().min(0),
    zoning: z.object({
      layer: z.enum(ZONE_LAYERS).nullable(),
      rule: z.preprocess((v) => (typeof v === 'string' && LEGACY_RULES[v]) || v, z.enum(ZONING_RULES)),
      /** Date property compared by `after-deadline` (default `reclaim_by`). */
      deadlineField: z.string().min(1).optional(),
      /**
       * `outside` / `after-deadline`: a change outside every feature of the layer is a clue only
       * within this distance (m) of one (e.g. spoil spilling out of a temporary-land permit).
       */
      maxDistanceM: z.number().min(0).max(10_000).optional(),
      /** Human-readable statement of the rule (zh first). */
      description: z.string().optional(),
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
    const fm = m.inputs.fallbackModel;
    if (fm) {
      for (const b of fm.bands) {
        if (!m.inputs.required.includes(b))
          ctx.addIssue({
            code: 'custom',
            path: ['inputs', 'fallbackModel', 'bands'],
            message: `${b} is optional; the fallback model may only read required bands`,
          });
      }
    }
    if (m.zoning.rule !== 'none' && !m.zoning.layer) {
      ctx.addIssue({
        code: 'custom',
        path: ['zoning', 'layer'],
        message: `rule "${m.zoning.rule}" needs a zoning layer`,
      });
    }
    if (m.tile.overlap * 2 >= m.tile.size) {
      ctx.addIssue({ code: 'custom', path: ['tile', 'overlap'], message: 'overlap must be < size / 2' });
    }
  });

export type DetectorManifest = z.infer<typeof ManifestSchema>;

/**
 * The probability threshold a detector's output is cut at: the fallback model's own threshold
 * when the fallback model ran (`inputs.fallbackModel.threshold`, if declared), else `threshold`.
 */
export function thresholdFor(
  m: Pick<DetectorManifest, 'threshold' | 'inputs'>,
  fallbackModel: boolean,
): number {
  return (fallbackModel ? m.inputs.fallbackModel?.threshold : undefined) ?? m.threshold;
}

/** Parse a manifest; returns a readable list of problems instead of throwing. */
export function parseManifest(
  raw: unknown,
): { ok: true; manifest: DetectorManifest } | { ok: false; problems: string[] } {
  const r = ManifestSchema.safeParse(raw);
  if (r.success) return { ok: true, manifest: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) };
}
