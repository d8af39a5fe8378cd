/**
 * Zoning layer kinds and their attribute contract (docs/contracts.md, "Zoning layers").
 * Pure: no I/O.
 */

export const ZONE_KINDS = [
  'temporary_land_permit',
  'mining_permit',
  'forest_land',
  'black_soil_zone',
  'river_management_area',
  'grassland',
  'lake_protection_zone',
  'wetland_reserve',
  'admin_division',
] as const;

export type ZoneKind = (typeof ZONE_KINDS)[number];

export interface PropertySpec {
  name: string;
  /** `text` accepts a non-empty string or a finite number (DBF numeric fields, numeric adcodes). */
  type: 'text' | 'date';
  /** Allowed values, when the contract lists them. */
  values?: readonly string[];
}

export interface LayerSpec {
  required: readonly PropertySpec[];
  optional: readonly PropertySpec[];
}

const text = (name: string): PropertySpec => ({ name, type: 'text' });
const date = (name: string): PropertySpec => ({ name, type: 'date' });

export const LAYER_SPECS: Record<ZoneKind, LayerSpec> = {
  temporary_land_permit: {
    required: [text('permit_no'), date('reclaim_by')],
    optional: [text('holder'), date('valid_from'), date('valid_to'), text('purpose')],
  },
  mining_permit: {
    required: [text('permit_no'), date('valid_to')],
    optional: [text('holder'), date('valid_from'), text('mineral')],
  },
  forest_land: { required: [], optional: [text('name'), text('code')] },
  black_soil_zone: { required: [], optional: [text('name'), text('code')] },
  river_management_area: { required: [], optional: [text('name'), text('river')] },
  grassland: { required: [], optional: [text('name'), text('code')] },
  lake_protection_zone: { required: [], optional: [text('name')] },
  wetland_reserve: { required: [], optional: [text('name'), text('level')] },
  admin_division: {
    required: [text('name'), text('adcode')],
    optional: [{ name: 'level', type: 'text', values: ['county', 'township'] }],
  },
};

/** True for one of the nine layer kinds. */
export function isZoneKind(kind: string): kind is ZoneKind {
  return (ZONE_KINDS as readonly string[]).includes(kind);
}

/** True for an ISO 8601 calendar date `YYYY-MM-DD` that exists (no 2025-02-30). */
export function isIsoDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

export interface PropertyProblem {
  index: number;
  code: 'ZONES_MISSING_PROPERTY' | 'ZONES_INVALID_PROPERTY';
  property: string;
  message: string;
}

// Null, undefined and blank strings count as absent: Shapefiles cannot tell them apart.
function isBlank(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'string' && v.trim() === '');
}

/** The key carrying `name`: exact match first, else case-insensitive (DBF field names are often upper case). */
function findKey(props: Record<string, unknown>, name: string): string | undefined {
  if (Object.hasOwn(props, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(props).find((k) => k.toLowerCase() === lower);
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : `${JSON.stringify(v) ?? String(v)} (${typeof v})`;
}

/**
 * Check one feature's properties against its layer's contract; returns every problem found.
 * `index` is the feature's 0-based position in the file.
 */
export function validateProperties(
  kind: ZoneKind,
  props: Record<string, unknown>,
  index: number,
): PropertyProblem[] {
  const spec = LAYER_SPECS[kind];
  const problems: PropertyProblem[] = [];
  const check = (p: PropertySpec, required: boolean) => {
    const key = findKey(props, p.name);
    const value = key === undefined ? undefined : props[key];
    if (isBlank(value)) {
      if (required)
        problems.push({
          index,
          code: 'ZONES_MISSING_PROPERTY',
          property: p.name,
          message: `feature ${index}: missing required property "${p.name}" (${kind} requires ${spec.required.map((r) => r.name).join(', ')})`,
        });
      return;
    }
    const bad = (why: string) =>
      problems.push({
        index,
        code: 'ZONES_INVALID_PROPERTY',
        property: p.name,
        message: `feature ${index}: property "${p.name}" is ${describe(value)}, ${why}`,
      });
    if (p.type === 'date') {
      if (!isIsoDate(value)) bad('not an ISO 8601 date (YYYY-MM-DD)');
    } else if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) {
      bad('not text');
    } else if (p.values && !p.values.includes(String(value))) {
      bad(`not one of ${p.values.join(', ')}`);
    }
  };
  for (const p of spec.required) check(p, true);
  for (const p of spec.optional) check(p, false);
  return problems;
}

/**
 * Properties as stored: everything the file carries, with the contract's properties under their
 * canonical names (`PERMIT_NO` → `permit_no`) and blank strings of contract properties as null.
 */
export function normalizeProperties(kind: ZoneKind, props: Record<string, unknown>): Record<string, unknown> {
  const spec = LAYER_SPECS[kind];
  const out: Record<string, unknown> = { ...props };
  for (const p of [...spec.required, ...spec.optional]) {
    const key = findKey(props, p.name);
    if (key === undefined) continue;
    const value = props[key];
    delete out[key];
    out[p.name] = isBlank(value) ? null : typeof value === 'string' ? value.trim() : value;
  }
  return out;
}
