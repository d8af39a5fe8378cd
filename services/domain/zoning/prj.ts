import { isSupportedEpsg } from './srs.ts';

/**
 * Shapefile `.prj` (OGC/ESRI WKT1, or WKT2) → EPSG code. Pure.
 *
 * The authority code wins when it is one we support; otherwise the CRS is recognised from its
 * datum and projection parameters (ESRI .prj files carry no authority), then from its name.
 * Only WGS 84 and CGCS2000 datums are accepted: Beijing 1954 and Xian 1980 are ~100 m away and
 * must be reprojected by the data owner.
 */

export interface WktNode {
  keyword: string;
  args: WktValue[];
}
export type WktValue = string | number | WktNode;

/** Parse WKT (`KEYWORD[arg, …]`, brackets or parentheses) into a tree; throws on malformed text. */
export function parseWkt(text: string): WktNode {
  let i = 0;
  const s = text.replace(/^\uFEFF/, '');
  const ws = () => {
    while (i < s.length && /\s/.test(s[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new Error(`malformed WKT at character ${i}: ${what}`);
  };
  const value = (): WktValue => {
    ws();
    const ch = s[i];
    if (ch === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= s.length) fail('unterminated string');
        if (s[i] === '"') {
          if (s[i + 1] === '"') {
            out += '"';
            i += 2;
            continue;
          }
          i++;
          return out;
        }
        out += s[i++];
      }
    }
    const num = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(s.slice(i, i + 64));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i, i + 256));
    if (!word) return fail('expected a value');
    i += word[0].length;
    ws();
    if (s[i] !== '[' && s[i] !== '(') return word[0];
    const close = s[i] === '[' ? ']' : ')';
    i++;
    const args: WktValue[] = [];
    ws();
    if (s[i] === close) {
      i++;
      return { keyword: word[0].toUpperCase(), args };
    }
    for (;;) {
      args.push(value());
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === close) {
        i++;
        return { keyword: word[0].toUpperCase(), args };
      }
      fail(`expected "," or "${close}"`);
    }
  };
  const root = value();
  ws();
  if (typeof root !== 'object') fail('expected a CRS keyword');
  if (i < s.length) fail('trailing text');
  return root as WktNode;
}

const isNode = (v: WktValue | undefined): v is WktNode => typeof v === 'object' && v !== null;
const children = (n: WktNode, ...keywords: string[]) =>
  n.args.filter((a): a is WktNode => isNode(a) && keywords.includes(a.keyword));
const child = (n: WktNode, ...keywords: string[]) => children(n, ...keywords)[0];
const nameOf = (n: WktNode | undefined) => (n && typeof n.args[0] === 'string' ? n.args[0] : '');
const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

const GEOGRAPHIC = [
  'GEOGCS',
  'GEOGCRS',
  'GEOGRAPHICCRS',
  'BASEGEOGCRS',
  'GEODCRS',
  'GEODETICCRS',
  'BASEGEODCRS',
];
const PROJECTED = ['PROJCS', 'PROJCRS', 'PROJECTEDCRS'];

/** EPSG code from a top-level AUTHORITY["EPSG","n"] (WKT1) or ID["EPSG",n] (WKT2). */
function authorityCode(n: WktNode): number | null {
  for (const a of children(n, 'AUTHORITY', 'ID')) {
    if (typeof a.args[0] === 'string' && a.args[0].toUpperCase() === 'EPSG') {
      const code = Number(a.args[1]);
      if (Number.isInteger(code)) return code;
    }
  }
  return null;
}

type Datum = 'wgs84' | 'cgcs2000';

const WGS84_NAMES = new Set([
  'wgs84',
  'wgs1984',
  'dwgs1984',
  'worldgeodeticsystem1984',
  'worldgeodeticsystem1984ensemble',
]);
const CGCS2000_NAMES = new Set([
  'china2000',
  'dchina2000',
  'cgcs2000',
  'dcgcs2000',
  'chinageodeticcoordinatesystem2000',
  'gcschinageodeticcoordinatesystem2000',
]);

/** The datum of a geographic CRS node, by datum name, else by ellipsoid (name and flattening). */
function datumOf(geog: WktNode): { datum: Datum } | { error: string } {
  const datum = child(geog, 'DATUM', 'GEODETICDATUM', 'TRF', 'ENSEMBLE', 'DATUMENSEMBLE');
  const dn = norm(nameOf(datum));
  if (WGS84_NAMES.has(dn)) return { datum: 'wgs84' };
  if (CGCS2000_NAMES.has(dn)) return { datum: 'cgcs2000' };
  const sph = datum && child(datum, 'SPHEROID', 'ELLIPSOID');
  const sn = norm(nameOf(sph));
  const rf = sph ? Number(sph.args[2]) : Number.NaN;
  if (sn === 'cgcs2000') return { datum: 'cgcs2000' };
  // A datum GDAL could not name ("unknown") on the WGS 84 ellipsoid is WGS 84.
  if (
    /^(d)?(unknown|unnamed|notspecified.*)$/.test(dn) &&
    (sn === 'wgs1984' || sn === 'wgs84') &&
    rf === 298.257223563
  )
    return { datum: 'wgs84' };
  return {
    error: `datum "${nameOf(datum) || 'unnamed'}" is neither WGS 84 nor CGCS2000 (reproject the layer to CGCS2000 or WGS 84 first)`,
  };
}

function unitFactor(n: WktNode, ...keywords: string[]): number | null {
  const u = child(n, ...keywords);
  return u && typeof u.args[1] === 'number' ? u.args[1] : null;
}

const PARAM_ALIASES: Record<string, string> = {
  centralmeridian: 'cm',
  longitudeofnaturalorigin: 'cm',
  longitudeofcenter: 'cm',
  falseeasting: 'fe',
  falsenorthing: 'fn',
  scalefactor: 'k',
  scalefactoratnaturalorigin: 'k',
  latitudeoforigin: 'lat0',
  latitudeofnaturalorigin: 'lat0',
};

function parameters(proj: WktNode): Record<string, number> {
  const conv = child(proj, 'CONVERSION', 'DERIVINGCONVERSION');
  const out: Record<string, number> = {};
  for (const p of children(conv ?? proj, 'PARAMETER')) {
    const key = PARAM_ALIASES[norm(nameOf(p))];
    if (key && typeof p.args[1] === 'number') out[key] = p.args[1];
  }
  return out;
}

function methodOf(proj: WktNode): string {
  const conv = child(proj, 'CONVERSION', 'DERIVINGCONVERSION');
  return norm(nameOf(child(conv ?? proj, 'PROJECTION', 'METHOD')));
}

const near = (a: number | undefined, b: number, tol = 1e-6) => a !== undefined && Math.abs(a - b) <= tol;

/** EPSG code of a transverse Mercator / Gauss-Krüger on a supported datum, from its parameters. */
function tmercEpsg(datum: Datum, p: Record<string, number>): number | null {
  const { cm, fe, k } = p;
  if (cm === undefined || fe === undefined || k === undefined) return null;
  if (!near(p.lat0 ?? 0, 0)) return null;
  if (datum === 'wgs84') {
    const zone = (cm + 183) / 6;
    if (!Number.isInteger(Math.round(zone * 1e6) / 1e6) || zone < 1 || zone > 60) return null;
    if (!near(k, 0.9996) || !near(fe, 500000, 1e-3)) return null;
    if (near(p.fn ?? 0, 0, 1e-3)) return 32600 + Math.round(zone);
    if (near(p.fn, 10000000, 1e-3)) return 32700 + Math.round(zone);
    return null;
  }
  if (!near(k, 1) || !near(p.fn ?? 0, 0, 1e-3)) return null;
  const z = Math.round(cm / 3);
  if (!near(cm, z * 3) || z < 25 || z > 45) return null;
  if (near(fe, 500000, 1e-3)) return 4534 + (z - 25); // CM 75E…135E, no zone prefix
  if (near(fe, z * 1000000 + 500000, 1e-3)) return 4488 + z; // zone 25…45, prefix in false easting
  return null;
}

/** Fallback for a PROJCS whose parameters are missing: the conventional ESRI/EPSG names. */
function epsgFromName(name: string): number | null {
  const s = name.replace(/[\s_/-]+/g, ' ');
  let m = /CGCS ?2000 .*3 ?Degree G(?:auss)? ?K(?:ruger)? ?CM ?(\d+) ?E\b/i.exec(s);
  if (m) {
    const cm = Number(m[1]);
    return cm % 3 === 0 && cm >= 75 && cm <= 135 ? 4534 + (cm - 75) / 3 : null;
  }
  m = /CGCS ?2000 .*3 ?Degree G(?:auss)? ?K(?:ruger)? ?Zone ?(\d+)\b/i.exec(s);
  if (m) {
    const z = Number(m[1]);
    return z >= 25 && z <= 45 ? 4488 + z : null;
  }
  m = /WGS ?(?:19)?84 .*UTM ?Zone ?(\d+) ?([NS])\b/i.exec(s);
  if (m) {
    const z = Number(m[1]);
    return z >= 1 && z <= 60 ? (m[2]!.toUpperCase() === 'N' ? 32600 : 32700) + z : null;
  }
  return null;
}

export type PrjResult =
  | { ok: true; epsg: number; name: string }
  | { ok: false; name: string; reason: string };

/** Identify the EPSG code of a `.prj` WKT; `reason` says why it is not supported. */
export function prjToEpsg(wkt: string): PrjResult {
  let root: WktNode;
  try {
    root = parseWkt(wkt);
  } catch (err) {
    return { ok: false, name: '', reason: (err as Error).message };
  }
  // A compound CRS (horizontal + vertical): the horizontal part decides.
  if (['COMPD_CS', 'COMPOUNDCRS'].includes(root.keyword)) {
    const horizontal = child(root, ...PROJECTED, ...GEOGRAPHIC);
    if (!horizontal)
      return { ok: false, name: nameOf(root), reason: 'compound CRS without a horizontal CRS' };
    root = horizontal;
  }
  const name = nameOf(root);
  const unsupported = (reason: string): PrjResult => ({ ok: false, name, reason });
  const auth = authorityCode(root);
  if (auth !== null && isSupportedEpsg(auth)) return { ok: true, epsg: auth, name };
  const authNote = auth !== null ? ` (EPSG:${auth} is not supported)` : '';

  if (GEOGRAPHIC.includes(root.keyword)) {
    const d = datumOf(root);
    if ('error' in d) return unsupported(d.error + authNote);
    const f = unitFactor(root, 'UNIT', 'ANGLEUNIT');
    if (f !== null && !near(f, Math.PI / 180, 1e-9))
      return unsupported(`angular unit is not the degree${authNote}`);
    return { ok: true, epsg: d.datum === 'wgs84' ? 4326 : 4490, name };
  }
  if (!PROJECTED.includes(root.keyword))
    return unsupported(`${root.keyword} is not a geographic or projected CRS`);

  const geog = child(root, ...GEOGRAPHIC);
  if (!geog) return unsupported(`projected CRS without a geographic base CRS${authNote}`);
  const d = datumOf(geog);
  if ('error' in d) return unsupported(d.error + authNote);
  const method = methodOf(root);
  const params = parameters(root);
  const complete = ['cm', 'fe', 'k'].every((k) => k in params);
  if (!method && !complete) {
    const byName = epsgFromName(name);
    if (byName !== null) return { ok: true, epsg: byName, name };
  }
  if (!['transversemercator', 'gausskruger', 'gausskrueger', 'tmerc'].includes(method))
    return unsupported(
      `projection "${method || 'unnamed'}" is not transverse Mercator / Gauss-Krüger${authNote}`,
    );
  const f = unitFactor(root, 'UNIT', 'LENGTHUNIT');
  if (f !== null && !near(f, 1, 1e-9)) return unsupported(`linear unit is not the metre${authNote}`);
  const epsg = complete ? tmercEpsg(d.datum, params) : epsgFromName(name);
  if (epsg === null) {
    const desc = complete
      ? `central meridian ${params.cm}, false easting ${params.fe}, false northing ${params.fn ?? 0}, scale ${params.k}`
      : 'incomplete parameters';
    return unsupported(
      `transverse Mercator on ${d.datum === 'wgs84' ? 'WGS 84' : 'CGCS2000'} with ${desc} matches no supported zone${authNote}`,
    );
  }
  return { ok: true, epsg, name };
}
