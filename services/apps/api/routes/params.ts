import { Type } from '@sinclair/typebox';
import { SkypatrolError } from '../../../core/errors.ts';

/** A database row id in a path: a positive integer that fits PostgreSQL's bigint (and a JS number). */
export const RowId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** A paging offset, bounded so the database never sees an out-of-range value. */
export const Offset = Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 });

/** Parse "west,south,east,north" in degrees; rejects anything else with a clear message. */
export function parseBbox(raw: string): [number, number, number, number] {
  const parts = raw.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v))) {
    throw new SkypatrolError('VALIDATION', `bbox must be four numbers west,south,east,north; got "${raw}"`);
  }
  const [w, s, e, n] = parts as [number, number, number, number];
  if (w < -180 || e > 180 || s < -90 || n > 90 || s > n || w > e) {
    throw new SkypatrolError(
      'VALIDATION',
      `bbox ${raw} is not a valid west,south,east,north extent in degrees`,
    );
  }
  return [w, s, e, n];
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

/** Parse an OGC/RFC 3339 datetime parameter: an instant, or an interval with ".." open ends. */
export function parseDatetime(raw: string): { from?: string; to?: string } {
  const day = (v: string) => {
    if (v === '..' || v === '') return undefined;
    // RFC 3339 only (JavaScript's Date also takes "2024-02-30" → March 1 and 5-digit years,
    // which PostgreSQL then refuses): the shape, then the calendar date must exist as written.
    const m = RFC3339.exec(v);
    const d = new Date(v);
    if (!m || Number.isNaN(d.getTime()) || new Date(`${m[1]}T00:00:00Z`).toISOString().slice(0, 10) !== m[1])
      throw new SkypatrolError('VALIDATION', `datetime "${v}" is not an RFC 3339 date or date-time`);
    const iso = d.toISOString();
    if (!/^\d{4}-/.test(iso) || iso < '0001')
      throw new SkypatrolError('VALIDATION', `datetime "${v}" is out of range`);
    return iso.slice(0, 10);
  };
  const [a, b, extra] = raw.split('/');
  if (extra !== undefined) throw new SkypatrolError('VALIDATION', `datetime "${raw}" has more than one "/"`);
  if (b === undefined) {
    const d = day(a!);
    return { ...(d ? { from: d, to: d } : {}) };
  }
  const from = day(a!);
  const to = day(b);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}
