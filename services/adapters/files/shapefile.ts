import { type UnzipFileInfo, unzipSync } from 'fflate';
import { SkypatrolError } from '../../core/errors.ts';
import type { RawFeature } from '../../domain/zoning/features.ts';

/**
 * Zipped ESRI Shapefiles (.shp + .dbf, with .prj and optionally .cpg/.shx) read from memory into
 * raw GeoJSON-like features. The formats are small and fixed (ESRI 1998 white paper, dBASE III),
 * so they are read here rather than through a package: we need the raw DBF bytes to pick the text
 * encoding (GBK vs UTF-8) and DBF dates as plain `YYYY-MM-DD` strings, never time-zone-shifted Dates.
 */

export interface ShapefileLayer {
  /** Path of the .shp inside the zip. */
  name: string;
  features: RawFeature[];
  /** Text of the .prj, null when the zip has none. */
  prj: string | null;
  /** TextDecoder label used for DBF text, and how it was chosen. */
  encoding: string;
  encodingSource: 'cpg' | 'ldid' | 'detected';
}

const MAX_ENTRY_BYTES = 1024 ** 3;

/** True when the bytes start like a zip archive (local file header or empty archive). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

function invalid(label: string, why: string, cause?: unknown): SkypatrolError {
  return new SkypatrolError('ZONES_INVALID_FILE', `${label}: ${why}`, cause === undefined ? {} : { cause });
}

/** Read the one Shapefile layer in a zip. Throws ZONES_INVALID_FILE for anything unreadable. */
export function readZippedShapefile(zip: Uint8Array, label: string): ShapefileLayer {
  const names: string[] = [];
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, {
      filter: (f: UnzipFileInfo) => {
        const base = f.name.split('/').pop() ?? '';
        if (f.name.endsWith('/') || f.name.startsWith('__MACOSX/') || base.startsWith('._')) return false;
        names.push(f.name);
        const wanted = /\.(shp|dbf|prj|cpg)$/i.test(f.name);
        if (wanted && f.originalSize > MAX_ENTRY_BYTES)
          throw new Error(`${f.name} would unpack to ${f.originalSize} bytes (limit ${MAX_ENTRY_BYTES})`);
        return wanted;
      },
    });
  } catch (err) {
    throw invalid(label, `not a readable zip archive (${(err as Error).message})`, err);
  }
  const shps = Object.keys(entries).filter((n) => /\.shp$/i.test(n));
  if (shps.length === 0)
    throw invalid(
      label,
      `the zip holds no .shp file (found: ${names.slice(0, 10).join(', ') || 'nothing'}); zip the .shp with its .shx, .dbf and .prj`,
    );
  if (shps.length > 1)
    throw invalid(
      label,
      `the zip holds ${shps.length} Shapefiles (${shps.join(', ')}); zip one layer per file`,
    );
  const shpName = shps[0]!;
  const stem = shpName.slice(0, -4).toLowerCase();
  const sibling = (ext: string) => {
    const key = Object.keys(entries).find((n) => n.toLowerCase() === `${stem}.${ext}`);
    return key === undefined ? undefined : entries[key];
  };
  const dbf = sibling('dbf');
  if (!dbf) throw invalid(label, `${shpName} has no .dbf (attribute table) next to it in the zip`);
  const text = (b: Uint8Array | undefined) => (b ? new TextDecoder('utf-8').decode(b).trim() : null);
  return readShapefile(
    { shp: entries[shpName]!, dbf, prj: text(sibling('prj')), cpg: text(sibling('cpg')) },
    label,
    shpName,
  );
}

/** Read a Shapefile from its parts. `label` names the file in error messages. */
export function readShapefile(
  parts: { shp: Uint8Array; dbf: Uint8Array; prj?: string | null; cpg?: string | null },
  label: string,
  name = 'layer.shp',
): ShapefileLayer {
  const shapes = readShp(parts.shp, `${label} (${name})`);
  const table = readDbf(parts.dbf, parts.cpg ?? null, `${label} (${name.replace(/\.shp$/i, '.dbf')})`);
  if (shapes.length !== table.records.length)
    throw invalid(label, `${name} has ${shapes.length} shapes but ${table.records.length} attribute records`);
  const features: RawFeature[] = [];
  shapes.forEach((geometry, index) => {
    const properties = table.records[index];
    // Deleted DBF records are deleted features (as in GDAL); indexes keep the file's numbering.
    if (properties !== null && properties !== undefined) features.push({ index, properties, geometry });
  });
  return {
    name,
    features,
    prj: parts.prj ?? null,
    encoding: table.encoding,
    encodingSource: table.encodingSource,
  };
}

// ---------------------------------------------------------------------------------------------
// .shp

const NON_POLYGON: Record<number, string> = {
  1: 'Point',
  3: 'MultiLineString',
  8: 'MultiPoint',
  11: 'Point',
  13: 'MultiLineString',
  18: 'MultiPoint',
  21: 'Point',
  23: 'MultiLineString',
  28: 'MultiPoint',
  31: 'MultiPatch',
};

/** GeoJSON geometries (null for null shapes) in record order. */
export function readShp(shp: Uint8Array, label: string): unknown[] {
  const view = new DataView(shp.buffer, shp.byteOffset, shp.byteLength);
  if (shp.byteLength < 100 || view.getInt32(0, false) !== 9994)
    throw invalid(label, 'not a Shapefile (.shp header missing)');
  const declared = view.getInt32(24, false) * 2;
  const end = declared >= 100 && declared <= shp.byteLength ? declared : shp.byteLength;
  const out: unknown[] = [];
  let offset = 100;
  while (offset + 8 <= end) {
    const length = view.getInt32(offset + 4, false) * 2;
    const start = offset + 8;
    if (length < 4 || start + length > end)
      throw invalid(label, `corrupt .shp: record ${out.length + 1} runs past the end of the file`);
    const type = view.getInt32(start, true);
    if (type === 0) out.push(null);
    else if (type === 5 || type === 15 || type === 25)
      out.push(readPolygon(view, start, length, label, out.length));
    else out.push({ type: NON_POLYGON[type] ?? `shape type ${type}` });
    offset = start + length;
  }
  return out;
}

function readPolygon(view: DataView, start: number, length: number, label: string, record: number): unknown {
  const corrupt = () => invalid(label, `corrupt .shp: polygon record ${record + 1} is malformed`);
  if (length < 44) throw corrupt();
  const numParts = view.getInt32(start + 36, true);
  const numPoints = view.getInt32(start + 40, true);
  const pointsAt = start + 44 + 4 * numParts;
  if (numParts < 0 || numPoints < 0 || pointsAt - start + 16 * numPoints > length) throw corrupt();
  const parts: number[] = [];
  for (let i = 0; i < numParts; i++) parts.push(view.getInt32(start + 44 + 4 * i, true));
  const rings: number[][][] = [];
  for (let i = 0; i < numParts; i++) {
    const from = parts[i]!;
    const to = i + 1 < numParts ? parts[i + 1]! : numPoints;
    if (from < 0 || to > numPoints || from > to) throw corrupt();
    const ring: number[][] = [];
    for (let p = from; p < to; p++) {
      const at = pointsAt + 16 * p;
      ring.push([view.getFloat64(at, true), view.getFloat64(at + 8, true)]);
    }
    rings.push(ring);
  }
  return assemblePolygon(rings);
}

/** Signed area (shoelace, y up): negative for clockwise rings, which Shapefiles use for outer rings. */
function signedArea(ring: number[][]): number {
  if (ring.length < 3) return 0;
  // Relative to the first vertex: Gauss-Krüger eastings (e.g. 38 500 000 m) would lose digits.
  const [x0, y0] = ring[0] as [number, number];
  let a = 0;
  for (let i = 1; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i] as [number, number];
    const [x2, y2] = ring[i + 1] as [number, number];
    a += (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0);
  }
  return a / 2;
}

type Box = [number, number, number, number];
function boxOf(ring: number[][]): Box {
  const b: Box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of ring as [number, number][]) {
    if (x < b[0]) b[0] = x;
    if (y < b[1]) b[1] = y;
    if (x > b[2]) b[2] = x;
    if (y > b[3]) b[3] = y;
  }
  return b;
}

/** 1 inside, −1 outside, 0 on the boundary (even-odd ray casting). */
function pointInRing(ring: number[][], x: number, y: number): number {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    const cross = (xj - xi) * (y - yi) - (x - xi) * (yj - yi);
    if (
      cross === 0 &&
      Math.min(xi, xj) <= x &&
      x <= Math.max(xi, xj) &&
      Math.min(yi, yj) <= y &&
      y <= Math.max(yi, yj)
    )
      return 0;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside ? 1 : -1;
}

function ringInside(hole: number[][], outer: number[][]): boolean {
  for (const [x, y] of hole as [number, number][]) {
    const c = pointInRing(outer, x, y);
    if (c !== 0) return c > 0;
  }
  return false;
}

/**
 * Rings → Polygon/MultiPolygon by the Shapefile convention: clockwise rings are outer rings,
 * counter-clockwise ones holes of the smallest outer ring containing them (so islands in lakes
 * nest right). A hole inside no outer ring becomes a polygon of its own, as GDAL does; a ring with
 * no area is kept as an outer ring so that validation sees it.
 */
export function assemblePolygon(rings: number[][][]): unknown {
  const outers: { ring: number[][]; area: number; box: Box; holes: number[][][] }[] = [];
  const holes: number[][][] = [];
  for (const ring of rings) {
    const a = signedArea(ring);
    if (a > 0) holes.push(ring);
    else outers.push({ ring, area: -a, box: boxOf(ring), holes: [] });
  }
  for (const hole of holes) {
    const hb = boxOf(hole);
    let best: (typeof outers)[number] | undefined;
    for (const o of outers) {
      if (hb[0] < o.box[0] || hb[1] < o.box[1] || hb[2] > o.box[2] || hb[3] > o.box[3]) continue;
      if ((best === undefined || o.area < best.area) && ringInside(hole, o.ring)) best = o;
    }
    if (best) best.holes.push(hole);
    else outers.push({ ring: hole, area: signedArea(hole), box: hb, holes: [] });
  }
  const polygons = outers.map((o) => [o.ring, ...o.holes]);
  return polygons.length === 1
    ? { type: 'Polygon', coordinates: polygons[0] }
    : { type: 'MultiPolygon', coordinates: polygons };
}

// ---------------------------------------------------------------------------------------------
// .dbf

interface DbfField {
  name: string;
  type: string;
  offset: number;
  length: number;
}

/** .cpg code page → TextDecoder label; undefined when unusable (e.g. "SYSTEM"). */
export function encodingFromCpg(cpg: string): string | undefined {
  const c = cpg
    .trim()
    .toUpperCase()
    .replace(/^ANSI\s+/, '');
  if (['UTF-8', 'UTF8', '65001'].includes(c)) return 'utf-8';
  // GB18030 is a superset of GBK/CP936 and GB2312: one decoder for all of them.
  if (['GBK', 'CP936', '936', 'GB2312', 'GB18030', '54936', 'EUC-CN', 'MS936', 'WINDOWS-936'].includes(c))
    return 'gb18030';
  if (['88591', '8859-1', 'ISO-8859-1', 'ISO88591', 'LATIN1', '1252', 'CP1252'].includes(c))
    return 'windows-1252';
  if (['BIG5', 'CP950', '950'].includes(c)) return 'big5';
  try {
    return new TextDecoder(c.toLowerCase()).encoding;
  } catch {
    return undefined;
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Attribute records in file order; null marks a deleted record. */
export function readDbf(
  dbf: Uint8Array,
  cpg: string | null,
  label: string,
): {
  records: (Record<string, unknown> | null)[];
  encoding: string;
  encodingSource: ShapefileLayer['encodingSource'];
} {
  const view = new DataView(dbf.buffer, dbf.byteOffset, dbf.byteLength);
  if (dbf.byteLength < 33) throw invalid(label, 'not a dBASE file (too short)');
  const numRecords = view.getUint32(4, true);
  const headerLength = view.getUint16(8, true);
  const recordLength = view.getUint16(10, true);
  const ldid = dbf[29]!;
  const fields: DbfField[] = [];
  const nameBytes: Uint8Array[] = [];
  let offset = 1; // byte 0 of a record is its deletion flag
  for (let p = 32; p + 32 <= headerLength && dbf[p] !== 0x0d; p += 32) {
    let n = 0;
    while (n < 11 && dbf[p + n] !== 0) n++;
    const type = String.fromCharCode(dbf[p + 11]!);
    // FoxPro stores the width of long character fields' high byte in the "decimals" byte.
    const length = type === 'C' ? dbf[p + 16]! + 256 * dbf[p + 17]! : dbf[p + 16]!;
    nameBytes.push(dbf.subarray(p, p + n));
    fields.push({ name: '', type, offset, length });
    offset += length;
  }
  if (fields.length === 0 || offset > recordLength || headerLength > dbf.byteLength)
    throw invalid(label, 'corrupt .dbf header');
  if (headerLength + numRecords * recordLength > dbf.byteLength)
    throw invalid(label, `corrupt .dbf: ${numRecords} records declared but the file is shorter`);

  const recordAt = (r: number) => headerLength + r * recordLength;
  let encoding: string | undefined = cpg ? encodingFromCpg(cpg) : undefined;
  let encodingSource: ShapefileLayer['encodingSource'] = 'cpg';
  if (!encoding && (ldid === 0x4d || ldid === 0x7a)) {
    encoding = 'gb18030'; // language driver: Chinese GBK (code page 936)
    encodingSource = 'ldid';
  }
  if (!encoding) {
    // No usable code page: UTF-8 when every text byte is valid UTF-8, else GB18030.
    encodingSource = 'detected';
    let utf8 = nameBytes.every(isUtf8);
    const textFields = fields.filter((f) => f.type === 'C');
    for (let r = 0; utf8 && r < numRecords; r++) {
      const base = recordAt(r);
      for (const f of textFields) {
        if (!isUtf8(dbf.subarray(base + f.offset, base + f.offset + f.length))) {
          utf8 = false;
          break;
        }
      }
    }
    encoding = utf8 ? 'utf-8' : 'gb18030';
  }
  const decoder = new TextDecoder(encoding);
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    let name = decoder.decode(nameBytes[i]).trim() || `field_${i + 1}`;
    for (let k = 2; seen.has(name); k++) name = `${name}_${k}`;
    seen.add(name);
    f.name = name;
  });

  const records: (Record<string, unknown> | null)[] = [];
  for (let r = 0; r < numRecords; r++) {
    const base = recordAt(r);
    if (dbf[base] === 0x2a) {
      records.push(null);
      continue;
    }
    const rec: Record<string, unknown> = {};
    for (const f of fields) {
      const bytes = dbf.subarray(base + f.offset, base + f.offset + f.length);
      rec[f.name] = readField(f.type, bytes, view, base + f.offset, decoder);
    }
    records.push(rec);
  }
  return { records, encoding, encodingSource };
}

const ascii = (b: Uint8Array) => String.fromCharCode(...b).trim();

function readField(
  type: string,
  bytes: Uint8Array,
  view: DataView,
  at: number,
  decoder: TextDecoder,
): unknown {
  switch (type) {
    case 'C': {
      const s = decoder.decode(bytes).replace(/[\s\0]+$/, '');
      return s === '' ? null : s;
    }
    case 'N':
    case 'F': {
      const s = ascii(bytes);
      if (s === '' || /^\*+$/.test(s)) return null;
      const n = Number(s);
      return Number.isFinite(n) ? n : null;
    }
    case 'D': {
      const s = ascii(bytes);
      if (s === '' || /^0+$/.test(s)) return null;
      const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
      // An odd value is passed through so that date validation rejects it with the feature index.
      return m ? `${m[1]}-${m[2]}-${m[3]}` : s;
    }
    case 'L': {
      const s = ascii(bytes);
      if (/^[TtYy]$/.test(s)) return true;
      if (/^[FfNn]$/.test(s)) return false;
      return null;
    }
    case 'I':
      return bytes.length === 4 ? view.getInt32(at, true) : null;
    case 'O':
    case 'B':
      return bytes.length === 8 ? view.getFloat64(at, true) : null;
    default:
      return null; // memo, timestamp, binary: not attributes a zoning layer needs
  }
}
